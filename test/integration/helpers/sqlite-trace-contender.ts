/**
 * A second process on one SQLite trace store, for
 * test/integration/sqlite-trace-processes.test.ts:
 *
 *   node --import tsx sqlite-trace-contender.ts <db> <replica> <flow> <tenant> <traceId,…>
 *
 * Opens the store, prints `ready`, waits for a line on stdin, then claims
 * the flow's traces and takes the listed traces' updates until nothing is
 * left, and prints what it got as one JSON line: `{ claimed, taken }`.
 */
import { createInterface } from 'node:readline';
import { SqliteTraceStore } from '../../../src/state/cluster/sqlite-trace-store.js';

const [path, replica, flow, tenant, list] = process.argv.slice(2);
if (path === undefined || replica === undefined || flow === undefined || tenant === undefined || list === undefined) {
  throw new Error('usage: sqlite-trace-contender.ts <db> <replica> <flow> <tenant> <traceId,…>');
}
const traceIds = list.split(',');
const store = new SqliteTraceStore({ path, codec: { encode: (v) => JSON.stringify(v) ?? 'null', decode: (t) => JSON.parse(t) as unknown }, leaseMs: 60_000, idempotencyRetentionMs: 60_000 });
await store.init();
await store.heartbeat({ id: replica, hostname: 'contender', pid: process.pid, startedAt: Date.now(), draining: false });
process.stdout.write('ready\n');
const lines = createInterface({ input: process.stdin });
await new Promise<void>((resolve) => lines.once('line', () => resolve()));
const claimed: string[] = [];
const taken: string[] = [];
for (;;) {
  let progress = false;
  const c = await store.claim(replica, flow, 2);
  for (const x of c) claimed.push(x.row.traceId);
  progress ||= c.length > 0;
  const takes = await Promise.all(traceIds.map((id) => store.take(tenant, id)));
  for (const [i, t] of takes.entries()) {
    if (t.kind === 'update') {
      taken.push(`${traceIds[i]!}#${t.update.seq}`);
      progress = true;
    }
  }
  // Nothing is added meanwhile: an empty round means all is drained.
  if (!progress) break;
}
await store.close();
process.stdout.write(`${JSON.stringify({ claimed, taken })}\n`);
lines.close();
