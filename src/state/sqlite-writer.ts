/**
 * Batch writes of the SQLite store on a worker thread, so inserting,
 * committing and WAL checkpointing (an fsync) never block the server's
 * event loop. The main thread only turns each batch into rows of primitives.
 *
 * The worker is plain JavaScript evaluated from a string (it runs the same
 * under `node dist/…`, tsx and vitest) and loads better-sqlite3 by the path
 * the main thread resolved.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { PruneCutoffs, PruneResult, WriteBatch } from './types.js';

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.path);
db.pragma('busy_timeout = 5000');
db.pragma('journal_mode = WAL');
db.pragma('synchronous = NORMAL');
const insertEvent = db.prepare('INSERT INTO events (tenant, trace_id, seq, flow, ts, kind, node_name, node_id, payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING');
const upsertTrace = db.prepare('INSERT INTO traces (tenant, trace_id, flow, status, created_at, updated_at, ended_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (tenant, trace_id) DO UPDATE SET flow = excluded.flow, status = excluded.status, updated_at = excluded.updated_at, ended_at = excluded.ended_at');
const write = db.transaction((events, traces) => {
  for (const e of events) insertEvent.run(e[0], e[1], e[2], e[3], e[4], e[5], e[6], e[7], e[8]);
  for (const t of traces) upsertTrace.run(t[0], t[1], t[2], t[3], t[4], t[5], t[6]);
});
const pruneStmts = [
  db.prepare('DELETE FROM events WHERE (tenant, trace_id) IN (SELECT tenant, trace_id FROM traces WHERE updated_at < ?)'),
  db.prepare('DELETE FROM runtime_events WHERE ts < ?'),
  db.prepare('DELETE FROM traces WHERE updated_at < ?'),
  db.prepare('DELETE FROM idempotency_keys WHERE created_at < ?'),
];
const prune = db.transaction((c) => {
  const events = pruneStmts[0].run(c.tracesBefore).changes;
  pruneStmts[1].run(c.eventsBefore);
  const traces = pruneStmts[2].run(c.tracesBefore).changes;
  const keys = pruneStmts[3].run(c.keysBefore).changes;
  return { events, traces, keys };
});
parentPort.on('message', (m) => {
  try {
    if (m.op === 'write') {
      write(m.e, m.t);
      parentPort.postMessage({ id: m.id, ok: true });
    } else if (m.op === 'prune') {
      parentPort.postMessage({ id: m.id, ok: true, result: prune(m.cutoffs) });
    } else if (m.op === 'close') {
      db.close();
      parentPort.postMessage({ id: m.id, ok: true });
    }
  } catch (err) {
    parentPort.postMessage({ id: m.id, ok: false, error: String(err && err.message || err) });
  }
});
`;

interface Reply {
  id: number;
  ok: boolean;
  error?: string;
  result?: unknown;
}

/** The worker thread writing one SQLite file. */
export class SqliteWriter {
  readonly #worker: Worker;
  readonly #pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  #next = 0;
  #dead: Error | undefined;

  /** Starts the worker on `path` (the schema must exist already). */
  constructor(path: string) {
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    this.#worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { path, driver } });
    // Idle, the worker must not keep the process alive.
    this.#worker.unref();
    this.#worker.on('message', (m: Reply) => {
      const p = this.#pending.get(m.id);
      if (p === undefined) return;
      this.#pending.delete(m.id);
      if (m.ok) p.resolve(m.result);
      else p.reject(new Error(`sqlite write failed: ${m.error ?? 'unknown error'}`));
    });
    const fail = (err: Error): void => {
      this.#dead = err;
      for (const p of this.#pending.values()) p.reject(err);
      this.#pending.clear();
    };
    this.#worker.on('error', (err) => fail(err));
    this.#worker.on('exit', (code) => fail(new Error(`sqlite writer thread exited (${code})`)));
  }

  #call(msg: Record<string, unknown>): Promise<unknown> {
    if (this.#dead !== undefined) return Promise.reject(this.#dead);
    const id = ++this.#next;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      if (this.#pending.size === 1) this.#worker.ref();
      this.#worker.postMessage({ ...msg, id });
    }).finally(() => {
      if (this.#pending.size === 0) this.#worker.unref();
    });
  }

  /** Writes a batch in one transaction. */
  async write(batch: WriteBatch): Promise<void> {
    // Rows of primitives (payload already JSON): the structured clone is cheap, the worker only binds.
    const e = batch.events.map((r) => [r.tenant, r.traceId, r.seq, r.flow, r.ts, r.kind, r.nodeName ?? null, r.nodeId ?? null, r.payloadJson ?? JSON.stringify(r.payload)]);
    const t = batch.traces.map((r) => [r.tenant, r.traceId, r.flow, r.status, r.createdAt, r.updatedAt, r.endedAt ?? null]);
    await this.#call({ op: 'write', e, t });
  }

  /** Deletes what is older than the cutoffs. */
  async prune(cutoffs: PruneCutoffs): Promise<PruneResult> {
    return (await this.#call({ op: 'prune', cutoffs: { ...cutoffs } })) as PruneResult;
  }

  /** Closes the database and ends the thread. */
  async close(): Promise<void> {
    if (this.#dead === undefined) await this.#call({ op: 'close' }).catch(() => undefined);
    await this.#worker.terminate();
  }
}
