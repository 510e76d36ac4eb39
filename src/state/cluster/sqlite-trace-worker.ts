/**
 * Worker-thread entry of {@link SqliteTraceStore}: owns the connection that
 * writes and runs each request's operations in one transaction
 * ({@link SqliteTraceEngine}), replying after the commit. Requests are
 * handled one at a time, in arrival order.
 *
 * Started by sqlite-trace-store.ts; not meant to be imported.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { SqliteTraceEngine } from './sqlite-trace-engine.js';
import { openTraceDatabase } from './sqlite-trace-statements.js';
import type { EngineConfig, EngineReply, EngineRequest } from './sqlite-trace-protocol.js';

const port = parentPort;
if (port === null) throw new Error('sqlite-trace-worker must run as a worker thread');
const config = workerData as EngineConfig;
const db = openTraceDatabase(config.path, config.busyTimeoutMs);
const engine = new SqliteTraceEngine(db, config);

port.on('message', (m: EngineRequest | 'close') => {
  if (m === 'close') {
    db.close();
    port.close();
    return;
  }
  let reply: EngineReply;
  try {
    reply = { id: m.id, outcomes: engine.execute(m.ops) };
  } catch (err) {
    const code = (err as { code?: unknown } | null)?.code;
    reply = { id: m.id, failed: { message: err instanceof Error ? err.message : String(err), code: typeof code === 'string' ? code : undefined } };
  }
  port.postMessage(reply);
});
port.postMessage('ready');
