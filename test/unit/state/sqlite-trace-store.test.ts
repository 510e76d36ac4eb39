/**
 * SqliteTraceStore: the TraceStore contract on a file (writer thread) and on
 * `:memory:` (inline), plus what only a file gives: data surviving a
 * restart, two stores (two processes' worth of connections) on one file,
 * and the upgrade of a file written before the cluster tables existed.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteTraceStore } from '../../../src/state/cluster/sqlite-trace-store.js';
import type { AcceptRequest, CommitBatch, TraceStore, ValueCodec } from '../../../src/state/cluster/trace-store.js';
import { SQLITE_MIGRATIONS } from '../../../src/state/index.js';
import { traceStoreContract } from './trace-store-contract.js';

const json: ValueCodec = { encode: (v) => JSON.stringify(v) ?? 'null', decode: (t) => JSON.parse(t) as unknown };
const dir = mkdtempSync(join(tmpdir(), 'penguiflow-trace-store-'));
let files = 0;
const newFile = (): string => join(dir, `store-${++files}.db`);

async function open(path: string, over: { leaseMs?: number; idempotencyRetentionMs?: number } = {}): Promise<SqliteTraceStore> {
  const store = new SqliteTraceStore({ path, codec: json, leaseMs: 60_000, idempotencyRetentionMs: 60_000, ...over });
  await store.init();
  return store;
}

traceStoreContract('sqlite (file, writer thread)', {
  open: (opts) => open(newFile(), opts),
  close: (store: TraceStore) => store.close(),
});

traceStoreContract('sqlite (:memory:, inline)', {
  open: (opts) => open(':memory:', opts),
  close: (store: TraceStore) => store.close(),
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const EMPTY: CommitBatch = { accepts: [], outputs: [], putBacks: [], events: [], ends: [] };
const batch = (part: Partial<CommitBatch>): CommitBatch => ({ ...EMPTY, ...part });
function accept(traceId: string, over: Partial<AcceptRequest> = {}): AcceptRequest {
  return {
    tenant: 'acme', traceId, flow: 'echo', message: { payload: traceId }, deadline: undefined, traceparent: undefined,
    idempotencyKey: undefined, runner: undefined, maxInflight: 0, maxQueued: 0, ...over,
  };
}
async function started(store: TraceStore, traceId: string, over: Partial<AcceptRequest> = {}) {
  const a = (await store.commit(batch({ accepts: [accept(traceId, over)] }))).accepts[0]!;
  if (a.kind !== 'accepted') throw new Error(`not accepted: ${a.kind}`);
  return a.row;
}
const output = (traceId: string, epoch: number, seq: number) =>
  ({ tenant: 'acme', traceId, epoch, seq, run: 1, kind: 'output' as const, value: { n: seq }, consumed: false });
const event = (traceId: string, epoch: number, seq: number) =>
  ({ tenant: 'acme', traceId, epoch, seq, flow: 'echo', ts: seq, kind: 'node_end', nodeName: 'n', nodeId: undefined, payloadJson: '{}' });
const replica = (id: string) => ({ id, hostname: 'h', pid: 1, startedAt: 0, draining: false });

describe('SqliteTraceStore on a file', () => {
  it('keeps traces, unread outputs, events and keys across a restart, and re-runs what was running', async () => {
    const path = newFile();
    const before = await open(path);
    await before.heartbeat(replica('old'));
    const running = await started(before, 'running', { runner: 'old', idempotencyKey: 'k1', deadline: 9_999, traceparent: 'tp' });
    await started(before, 'queued');
    const failed = await started(before, 'failed', { runner: 'old' });
    await before.commit(
      batch({
        outputs: [output('running', running.epoch, 1), output('running', running.epoch, 2)],
        events: [event('running', running.epoch, 1), event('running', running.epoch, 2)],
        ends: [{ tenant: 'acme', traceId: 'failed', epoch: failed.epoch, state: 'FAILED', error: { code: 'NODE_EXCEPTION' } }],
      }),
    );
    await before.close();

    const after = await open(path);
    try {
      expect(await after.getTrace('acme', 'running')).toMatchObject({ state: 'RUNNING', owner: 'old', deadline: 9_999, traceparent: 'tp', epoch: running.epoch });
      expect(await after.getTrace('acme', 'failed')).toMatchObject({ state: 'FAILED', error: { code: 'NODE_EXCEPTION' } });
      expect(await after.take('acme', 'running')).toMatchObject({ kind: 'update', update: { seq: 1, value: { n: 1 } } });
      expect((await after.eventsAfter('acme', 'running', 0)).map((e) => e.seq)).toEqual([1, 2]);
      expect((await after.tailEvents('0', 10)).events).toHaveLength(2);
      expect((await after.commit(batch({ accepts: [accept('retry', { idempotencyKey: 'k1' })] }))).accepts[0]).toMatchObject({ kind: 'duplicate', traceId: 'running' });
      // The old process is known gone: its trace is claimable at once, from its accepted message.
      await after.forgetReplica('old');
      const claimed = await after.claim('new', 'echo', 10);
      expect(claimed.map((c) => c.row.traceId)).toEqual(['running', 'queued']);
      expect(claimed[0]).toMatchObject({ previousOwner: 'old', inputs: [{ payload: 'running' }], lastUpdateSeq: 2, storedUpdates: 2, lastEventSeq: 2, row: { attempt: 2 } });
      // The quota count survived too: two live traces.
      expect((await after.commit(batch({ accepts: [accept('third', { maxInflight: 2 })] }))).accepts[0]?.kind).toBe('over_quota');
    } finally {
      await after.close();
    }
  });

  it('an operation that fails rolls back alone; the others of its transaction commit', async () => {
    const store = await open(newFile());
    try {
      const [bad, good] = await Promise.allSettled([
        store.commit(batch({ accepts: [accept('bad', { runner: 'r' })], events: [{ ...event('bad', 1, 1), payloadJson: null as unknown as string }] })),
        store.commit(batch({ accepts: [accept('good')] })),
      ]);
      expect(bad.status).toBe('rejected');
      expect(good.status).toBe('fulfilled');
      expect(await store.getTrace('acme', 'bad')).toBeUndefined();
      expect(await store.getTrace('acme', 'good')).toMatchObject({ state: 'QUEUED' });
      await expect(store.ping()).resolves.toBeUndefined();
    } finally {
      await store.close();
    }
  });

  it('upgrades a file written before the cluster tables existed', async () => {
    const path = newFile();
    const old = new Database(path);
    old.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)');
    old.exec(SQLITE_MIGRATIONS[0]!.sql);
    old.prepare('INSERT INTO schema_migrations VALUES (1, ?, 0)').run(SQLITE_MIGRATIONS[0]!.name);
    old.prepare("INSERT INTO traces VALUES ('acme', 'legacy', 'echo', 'COMPLETED', 1, 1, 1)").run();
    old.close();
    const store = await open(path);
    try {
      await started(store, 'fresh');
      expect(await store.getTrace('acme', 'fresh')).toMatchObject({ state: 'QUEUED' });
    } finally {
      await store.close();
    }
    const db = new Database(path, { readonly: true });
    expect((db.prepare('SELECT version FROM schema_migrations ORDER BY version').pluck().all() as number[])).toEqual(SQLITE_MIGRATIONS.map((m) => m.version));
    expect(db.prepare("SELECT status FROM traces WHERE trace_id = 'legacy'").pluck().get()).toBe('COMPLETED');
    db.close();
  });

  it('two stores on one file never claim a trace twice nor take an update twice', async () => {
    const path = newFile();
    const stores = [await open(path), await open(path)] as const;
    const ids = ['A', 'B'] as const;
    try {
      for (let i = 0; i < 2; i++) await stores[i]!.heartbeat(replica(ids[i]!));
      let round = 0;
      const op = fc.record({
        kind: fc.constantFrom('claim' as const, 'take' as const),
        by: fc.constantFrom(0 as const, 1 as const),
        // Operations issued together go to the writer as one transaction.
        burst: fc.integer({ min: 1, max: 3 }),
        limit: fc.integer({ min: 1, max: 4 }),
        trace: fc.nat(),
      });
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 1, max: 12 }),
          fc.array(fc.integer({ min: 0, max: 6 }), { minLength: 1, maxLength: 5 }),
          fc.array(op, { minLength: 1, maxLength: 40 }),
          async (queuedCount, updatesPerTrace, ops) => {
            const r = ++round;
            const queueFlow = `q${r}`;
            const queued = Array.from({ length: queuedCount }, (_, i) => `q${r}-${i}`);
            const running = updatesPerTrace.map((_, i) => `u${r}-${i}`);
            // Half accepted through each store.
            await Promise.all(queued.map((id, i) => stores[i % 2]!.commit(batch({ accepts: [accept(id, { flow: queueFlow })] }))));
            const expectedUpdates: string[] = [];
            for (const [i, id] of running.entries()) {
              const row = await started(stores[i % 2]!, id, { flow: `u${r}`, runner: ids[i % 2] });
              const n = updatesPerTrace[i]!;
              await stores[(i + 1) % 2]!.commit(batch({ outputs: Array.from({ length: n }, (_, s) => output(id, row.epoch, s + 1)) }));
              for (let s = 1; s <= n; s++) expectedUpdates.push(`${id}#${s}`);
            }
            const claimed: string[] = [];
            const taken: string[] = [];
            const doOp = async (o: (typeof ops)[number]): Promise<void> => {
              const store = stores[o.by];
              if (o.kind === 'claim') {
                for (const c of await store.claim(ids[o.by], queueFlow, o.limit)) claimed.push(c.row.traceId);
              } else {
                const id = running[o.trace % running.length]!;
                const t = await store.take('acme', id);
                if (t.kind === 'update') taken.push(`${id}#${t.update.seq}`);
              }
            };
            // One sequential lane per store, the two lanes concurrent: their transactions interleave on the file.
            await Promise.all(
              ([0, 1] as const).map(async (by) => {
                for (const o of ops.filter((x) => x.by === by)) await Promise.all(Array.from({ length: o.burst }, () => doOp(o)));
              }),
            );
            // Drain what is left, still from both stores at once.
            await Promise.all(
              ([0, 1] as const).map(async (by) => {
                for (;;) {
                  const c = await stores[by].claim(ids[by], queueFlow, 3);
                  if (c.length === 0) break;
                  claimed.push(...c.map((x) => x.row.traceId));
                }
                for (const id of running) {
                  for (let t = await stores[by].take('acme', id); t.kind === 'update'; t = await stores[by].take('acme', id)) taken.push(`${id}#${t.update.seq}`);
                }
              }),
            );
            expect([...claimed].sort()).toEqual([...queued].sort());
            expect([...taken].sort()).toEqual([...expectedUpdates].sort());
          },
        ),
        { numRuns: 25 },
      );
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });
});
