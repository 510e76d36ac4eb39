/**
 * The contract every TraceStore (the cluster backbone's storage) passes:
 * run against the memory, SQLite and PostgreSQL stores by their test files.
 *
 * Lease expiry is real time: the factory's `leaseMs` is short, and the tests
 * that need a lapsed lease wait for the store to say so (polling `claim`),
 * never a fixed sleep.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { AcceptRequest, CommitBatch, EventWrite, OutputWrite, StoreNotice, TraceStore } from '../../../src/state/cluster/trace-store.js';
import { traceKey } from '../../../src/state/cluster/trace-key.js';

/** How a test file provides its store. */
export interface TraceStoreFactory {
  /** A fresh, empty store whose lease is `leaseMs` and idempotency retention `idempotencyRetentionMs`. */
  open(opts: { leaseMs: number; idempotencyRetentionMs: number }): Promise<TraceStore>;
  /** Closes a store this factory opened. */
  close(store: TraceStore): Promise<void>;
  /** Called once after the suite. */
  teardown?: () => Promise<void>;
}

// Long enough that a loaded CI machine never lets a fresh lease lapse between two calls; short enough to wait for.
const LEASE_MS = 1500;

let uniq = 0;
function tid(prefix = 't'): string {
  return `${prefix}${++uniq}-${Math.random().toString(36).slice(2, 8)}`;
}

const EMPTY: CommitBatch = { accepts: [], outputs: [], putBacks: [], events: [], ends: [] };

function batch(part: Partial<CommitBatch>): CommitBatch {
  return { ...EMPTY, ...part };
}

function accept(tenant: string, traceId: string, over: Partial<AcceptRequest> = {}): AcceptRequest {
  return {
    tenant,
    traceId,
    flow: 'echo',
    message: { payload: { n: traceId }, headers: { tenant }, traceId, ts: 1, meta: {} },
    deadline: undefined,
    traceparent: undefined,
    idempotencyKey: undefined,
    runner: 'r1',
    maxInflight: 0,
    maxQueued: 0,
    ...over,
  };
}

function out(tenant: string, traceId: string, epoch: number, seq: number, over: Partial<OutputWrite> = {}): OutputWrite {
  return { tenant, traceId, epoch, seq, run: 1, kind: 'output', value: { payload: `v${seq}` }, consumed: false, ...over };
}

function ev(tenant: string, traceId: string, epoch: number, seq: number): EventWrite {
  return { tenant, traceId, epoch, seq, flow: 'echo', ts: 1000 + seq, kind: 'node_start', nodeName: 'n', nodeId: 'id', payloadJson: `{"i":${seq}}` };
}

/** Polls `probe` until it returns a defined value or `ms` pass. */
async function eventually<T>(probe: () => Promise<T | undefined>, ms = 5000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Defines the contract suite for one store. */
export function traceStoreContract(name: string, factory: TraceStoreFactory): void {
  describe(`TraceStore contract: ${name}`, () => {
    let store: TraceStore;
    beforeAll(async () => {
      store = await factory.open({ leaseMs: LEASE_MS, idempotencyRetentionMs: 60_000 });
    });
    // r1 runs most traces here: keep its short lease alive however slow the store is.
    beforeEach(async () => {
      await store.heartbeat({ id: 'r1', hostname: 'h', pid: 1, startedAt: 0, draining: false });
    });
    afterAll(async () => {
      await factory.close(store);
      await factory.teardown?.();
    });

    async function start(tenant: string, traceId: string, over: Partial<AcceptRequest> = {}) {
      const res = await store.commit(batch({ accepts: [accept(tenant, traceId, over)] }));
      const a = res.accepts[0]!;
      if (a.kind !== 'accepted') throw new Error(`not accepted: ${a.kind}`);
      return a;
    }

    describe('accept', () => {
      it('stores a new trace RUNNING under its runner, or QUEUED without one', async () => {
        const running = await start('acme', tid());
        expect(running).toMatchObject({ joined: false, input: 1, row: { state: 'RUNNING', owner: 'r1', run: 1, attempt: 1, tenant: 'acme', flow: 'echo' } });
        const queued = await start('acme', tid(), { runner: undefined });
        expect(queued.row).toMatchObject({ state: 'QUEUED', owner: undefined, attempt: 0 });
        const row = await store.getTrace('acme', running.row.traceId);
        expect(row).toMatchObject({ state: 'RUNNING', epoch: running.row.epoch, endedAt: undefined, cancelRequested: false });
      });

      it('keeps the deadline and traceparent of the run', async () => {
        const id = tid();
        const tp = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
        await start('acme', id, { deadline: 123_456, traceparent: tp });
        expect(await store.getTrace('acme', id)).toMatchObject({ deadline: 123_456, traceparent: tp });
      });

      it('a message for a live trace joins its run without a new slot', async () => {
        const id = tid();
        const first = await start('acme', id);
        expect(first).toMatchObject({ lastUpdateSeq: 0, lastEventSeq: 0 });
        const second = await start('acme', id, { maxInflight: 1 });
        expect(second).toMatchObject({ joined: true, input: 2, row: { run: 1, epoch: first.row.epoch } });
        expect((await store.owned('r1')).find((o) => o.traceId === id)).toMatchObject({ run: 1, inputCount: 2 });
        expect(await store.inputs('acme', id, 1, 0)).toHaveLength(2);
        expect(await store.inputs('acme', id, 1, 1)).toEqual([accept('acme', id).message]);
      });

      it('a message for an ended trace starts its next run, numbering after the last run', async () => {
        const id = tid();
        const a = await start('acme', id);
        await store.commit(
          batch({
            outputs: [out('acme', id, a.row.epoch, 1), out('acme', id, a.row.epoch, 2)],
            events: [ev('acme', id, a.row.epoch, 1), ev('acme', id, a.row.epoch, 2), ev('acme', id, a.row.epoch, 3)],
            ends: [{ tenant: 'acme', traceId: id, epoch: a.row.epoch, state: 'COMPLETED', error: undefined }],
          }),
        );
        const b = await start('acme', id);
        expect(b).toMatchObject({ joined: false, input: 1, lastUpdateSeq: 2, lastEventSeq: 3, row: { run: 2, state: 'RUNNING', attempt: 1 } });
        // Unread updates of the previous run stay readable.
        expect(await store.take('acme', id)).toMatchObject({ kind: 'update', update: { seq: 1, run: 1 } });
        expect(b.row.epoch).not.toBe(a.row.epoch);
        expect(await store.inputs('acme', id, 2, 0)).toHaveLength(1);
      });

      it('the same trace id in two tenants is two traces', async () => {
        const id = tid();
        await start('acme', id);
        await start('globex', id, { runner: undefined });
        expect((await store.getTrace('acme', id))?.state).toBe('RUNNING');
        expect((await store.getTrace('globex', id))?.state).toBe('QUEUED');
      });

      it('an idempotency key deduplicates per tenant and flow', async () => {
        const key = tid('k');
        const id = tid();
        await start('acme', id, { idempotencyKey: key });
        const again = await store.commit(batch({ accepts: [accept('acme', tid(), { idempotencyKey: key })] }));
        expect(again.accepts[0]).toMatchObject({ kind: 'duplicate', traceId: id, row: { traceId: id } });
        // Other tenant, other flow: other keys.
        expect((await store.commit(batch({ accepts: [accept('globex', tid(), { idempotencyKey: key })] }))).accepts[0]?.kind).toBe('accepted');
        expect((await store.commit(batch({ accepts: [accept('acme', tid(), { idempotencyKey: key, flow: 'chain5' })] }))).accepts[0]?.kind).toBe('accepted');
      });

      it('two accepts with one key in one batch: the first wins', async () => {
        const key = tid('k');
        const [a, b] = [tid(), tid()];
        const res = await store.commit(batch({ accepts: [accept('acme', a, { idempotencyKey: key }), accept('acme', b, { idempotencyKey: key })] }));
        expect(res.accepts[0]?.kind).toBe('accepted');
        expect(res.accepts[1]).toMatchObject({ kind: 'duplicate', traceId: a });
        expect(await store.getTrace('acme', b)).toBeUndefined();
      });

      it('refuses past the tenant quota, counting live traces only', async () => {
        const tenant = tid('quota');
        const a = await start(tenant, tid(), { maxInflight: 2 });
        await start(tenant, tid(), { maxInflight: 2, runner: undefined });
        const third = await store.commit(batch({ accepts: [accept(tenant, tid(), { maxInflight: 2 })] }));
        expect(third.accepts[0]).toEqual({ kind: 'over_quota' });
        await store.commit(batch({ ends: [{ tenant, traceId: a.row.traceId, epoch: a.row.epoch, state: 'COMPLETED', error: undefined }] }));
        expect((await store.commit(batch({ accepts: [accept(tenant, tid(), { maxInflight: 2 })] }))).accepts[0]?.kind).toBe('accepted');
      });

      it('counts the quota inside one batch', async () => {
        const tenant = tid('quota');
        const res = await store.commit(batch({ accepts: [1, 2, 3].map(() => accept(tenant, tid(), { maxInflight: 2 })) }));
        expect(res.accepts.map((a) => a.kind)).toEqual(['accepted', 'accepted', 'over_quota']);
      });

      it('refuses to queue past the flow queue limit', async () => {
        const flow = tid('flow');
        await start('acme', tid(), { flow, runner: undefined, maxQueued: 1 });
        const res = await store.commit(batch({ accepts: [accept('acme', tid(), { flow, runner: undefined, maxQueued: 1 }), accept('acme', tid(), { flow, maxQueued: 1 })] }));
        expect(res.accepts.map((a) => a.kind)).toEqual(['queue_full', 'accepted']);
      });

      it('a new run hands back only its own messages; the ended run\'s unread updates are still delivered', async () => {
        const id = tid();
        const a = await start('acme', id);
        await store.commit(batch({ outputs: [out('acme', id, a.row.epoch, 1)], ends: [{ tenant: 'acme', traceId: id, epoch: a.row.epoch, state: 'COMPLETED', error: undefined }] }));
        const b = await start('acme', id, { runner: undefined, message: 'second' });
        expect(b.row).toMatchObject({ run: 2, state: 'QUEUED', endedAt: undefined, error: undefined });
        expect(await store.inputs('acme', id, 1, 0)).toEqual([]);
        expect(await store.inputs('acme', id, 2, 0)).toEqual(['second']);
        expect(await store.take('acme', id)).toMatchObject({ kind: 'update', update: { seq: 1, run: 1 } });
        expect(await store.take('acme', id)).toMatchObject({ kind: 'empty', row: { run: 2 } });
      });

      it('an idempotency key names the trace a joined message went to', async () => {
        const id = tid();
        const key = tid('k');
        await start('acme', id);
        expect(await start('acme', id, { idempotencyKey: key })).toMatchObject({ joined: true, input: 2 });
        expect((await store.commit(batch({ accepts: [accept('acme', tid(), { idempotencyKey: key })] }))).accepts[0]).toMatchObject({ kind: 'duplicate', traceId: id });
      });

      it('an idempotency key no longer deduplicates after its retention', async () => {
        const short = await factory.open({ leaseMs: LEASE_MS, idempotencyRetentionMs: 50 });
        try {
          const key = tid('k');
          const first = tid();
          expect((await short.commit(batch({ accepts: [accept('acme', first, { idempotencyKey: key })] }))).accepts[0]?.kind).toBe('accepted');
          const again = await eventually(async () => {
            const res = await short.commit(batch({ accepts: [accept('acme', tid(), { idempotencyKey: key })] }));
            return res.accepts[0]?.kind === 'accepted' ? res.accepts[0] : undefined;
          });
          expect(again.row.traceId).not.toBe(first);
        } finally {
          await factory.close(short);
        }
      });

      it('a cancelled queued trace frees its quota and its queue place', async () => {
        const tenant = tid('quota');
        const flow = tid('flow');
        const q = await start(tenant, tid(), { flow, runner: undefined, maxInflight: 1, maxQueued: 1 });
        expect((await store.commit(batch({ accepts: [accept(tenant, tid(), { flow, runner: undefined, maxInflight: 2, maxQueued: 1 })] }))).accepts[0]?.kind).toBe('queue_full');
        expect((await store.commit(batch({ accepts: [accept(tenant, tid(), { flow, maxInflight: 1 })] }))).accepts[0]?.kind).toBe('over_quota');
        expect(await store.requestCancel(tenant, q.row.traceId, 'r1')).toMatchObject({ kind: 'cancelled' });
        const res = await store.commit(batch({ accepts: [accept(tenant, tid(), { flow, runner: undefined, maxInflight: 1, maxQueued: 1 })] }));
        expect(res.accepts[0]?.kind).toBe('accepted');
      });

      it('an accept, its outputs, events and end in one batch apply in that order', async () => {
        const id = tid();
        // A new trace's first epoch is 1.
        const res = await store.commit(
          batch({
            accepts: [accept('acme', id)],
            outputs: [out('acme', id, 1, 1)],
            events: [ev('acme', id, 1, 1)],
            ends: [{ tenant: 'acme', traceId: id, epoch: 1, state: 'COMPLETED', error: undefined }],
          }),
        );
        expect(res.accepts[0]).toMatchObject({ kind: 'accepted', row: { epoch: 1, state: 'RUNNING' } });
        expect(res.fenced.size).toBe(0);
        expect(await store.take('acme', id)).toMatchObject({ kind: 'update', update: { seq: 1 } });
        expect(await store.take('acme', id)).toMatchObject({ kind: 'end', row: { state: 'COMPLETED' } });
        expect(await store.eventsAfter('acme', id, 0)).toHaveLength(1);
      });

      it('refuses a message for a trace being cancelled, and for a live trace of another flow', async () => {
        const id = tid();
        await start('acme', id);
        expect((await store.commit(batch({ accepts: [accept('acme', id, { flow: 'other' })] }))).accepts[0]?.kind).toBe('other_flow');
        expect(await store.requestCancel('acme', id, 'r2')).toMatchObject({ kind: 'requested' });
        expect((await store.commit(batch({ accepts: [accept('acme', id)] }))).accepts[0]?.kind).toBe('cancelling');
      });

      it('a new run starts over: new inputs, deadline and traceparent; the seqs go on', async () => {
        const flow = tid('flow');
        const id = tid();
        const a = await start('acme', id, { flow, deadline: 1, traceparent: 'tp1' });
        await store.commit(
          batch({
            outputs: [out('acme', id, a.row.epoch, 1, { consumed: true })],
            events: [ev('acme', id, a.row.epoch, 1)],
            ends: [{ tenant: 'acme', traceId: id, epoch: a.row.epoch, state: 'COMPLETED', error: undefined }],
          }),
        );
        const b = await start('acme', id, { flow, runner: undefined, deadline: 2, traceparent: undefined });
        expect(b.row).toMatchObject({ run: 2, state: 'QUEUED', attempt: 0, deadline: 2, traceparent: undefined, endedAt: undefined, error: undefined });
        expect(await store.inputs('acme', id, 1, 0)).toEqual([]);
        const [c] = await store.claim('r1', flow, 1);
        expect(c).toMatchObject({ storedUpdates: 0, lastUpdateSeq: 1, lastEventSeq: 1, row: { run: 2, attempt: 1 } });
        expect(c?.inputs).toHaveLength(1);
      });

      it('an idempotency key deduplicates only within its retention', async () => {
        const short = await factory.open({ leaseMs: LEASE_MS, idempotencyRetentionMs: 300 });
        try {
          const key = tid('k');
          const first = tid();
          await short.commit(batch({ accepts: [accept('acme', first, { idempotencyKey: key })] }));
          expect((await short.commit(batch({ accepts: [accept('acme', tid(), { idempotencyKey: key })] }))).accepts[0]).toMatchObject({ kind: 'duplicate', traceId: first });
          const later = await eventually(async () => {
            const res = await short.commit(batch({ accepts: [accept('acme', tid(), { idempotencyKey: key })] }));
            return res.accepts[0]?.kind === 'accepted' ? res.accepts[0] : undefined;
          });
          // The key now names the new trace.
          const again = await short.commit(batch({ accepts: [accept('acme', tid(), { idempotencyKey: key })] }));
          expect(again.accepts[0]).toMatchObject({ kind: 'duplicate', traceId: later.row.traceId });
        } finally {
          await factory.close(short);
        }
      });

      it('a cancelled queued trace frees its quota slot', async () => {
        const tenant = tid('quota');
        const q = await start(tenant, tid(), { maxInflight: 1, runner: undefined });
        expect((await store.commit(batch({ accepts: [accept(tenant, tid(), { maxInflight: 1 })] }))).accepts[0]).toEqual({ kind: 'over_quota' });
        expect(await store.requestCancel(tenant, q.row.traceId, 'r1')).toMatchObject({ kind: 'cancelled' });
        expect((await store.commit(batch({ accepts: [accept(tenant, tid(), { maxInflight: 1 })] }))).accepts[0]?.kind).toBe('accepted');
      });
    });

    describe('updates', () => {
      it('are taken once each, in seq order, then the end on every take', async () => {
        const id = tid();
        const a = await start('acme', id);
        const e = a.row.epoch;
        await store.commit(batch({ outputs: [out('acme', id, e, 1, { kind: 'chunk' }), out('acme', id, e, 2)] }));
        await store.commit(batch({ outputs: [out('acme', id, e, 3, { kind: 'error' })], ends: [{ tenant: 'acme', traceId: id, epoch: e, state: 'FAILED', error: { code: 'NODE_EXCEPTION' } }] }));
        const t1 = await store.take('acme', id);
        expect(t1).toMatchObject({ kind: 'update', update: { seq: 1, kind: 'chunk', run: 1 } });
        expect(await store.take('acme', id)).toMatchObject({ kind: 'update', update: { seq: 2, kind: 'output', value: { payload: 'v2' } } });
        expect(await store.take('acme', id)).toMatchObject({ kind: 'update', update: { seq: 3, kind: 'error' } });
        const end = await store.take('acme', id);
        expect(end).toMatchObject({ kind: 'end', row: { state: 'FAILED', error: { code: 'NODE_EXCEPTION' } } });
        expect(await store.take('acme', id)).toMatchObject({ kind: 'end' });
      });

      it('empty while running; missing for unknown and other tenants', async () => {
        const id = tid();
        await start('acme', id);
        expect(await store.take('acme', id)).toMatchObject({ kind: 'empty', row: { state: 'RUNNING' } });
        expect(await store.take('globex', id)).toEqual({ kind: 'missing' });
        expect(await store.take('acme', tid())).toEqual({ kind: 'missing' });
      });

      it('an update stored as consumed is never delivered; a seq stored twice is kept once', async () => {
        const id = tid();
        const { row } = await start('acme', id);
        await store.commit(batch({ outputs: [out('acme', id, row.epoch, 1, { consumed: true }), out('acme', id, row.epoch, 2), out('acme', id, row.epoch, 2, { value: 'dup' })] }));
        expect(await store.take('acme', id)).toMatchObject({ kind: 'update', update: { seq: 2, value: { payload: 'v2' } } });
        expect(await store.take('acme', id)).toMatchObject({ kind: 'empty' });
      });

      it('a put-back update is taken again before later ones', async () => {
        const id = tid();
        const { row } = await start('acme', id);
        await store.commit(batch({ outputs: [out('acme', id, row.epoch, 1), out('acme', id, row.epoch, 2)] }));
        const first = await store.take('acme', id);
        if (first.kind !== 'update') throw new Error('expected an update');
        await store.commit(batch({ putBacks: [{ tenant: 'acme', traceId: id, update: first.update }] }));
        expect(await store.take('acme', id)).toMatchObject({ kind: 'update', update: { seq: 1 } });
        expect(await store.take('acme', id)).toMatchObject({ kind: 'update', update: { seq: 2 } });
      });

      it('concurrent takers share the updates without duplicates or losses', async () => {
        const id = tid();
        const { row } = await start('acme', id);
        const n = 40;
        await store.commit(batch({ outputs: Array.from({ length: n }, (_, i) => out('acme', id, row.epoch, i + 1)) }));
        const taken = await Promise.all(Array.from({ length: n + 10 }, () => store.take('acme', id)));
        const seqs = taken.flatMap((t) => (t.kind === 'update' ? [t.update.seq] : []));
        expect(seqs.sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i + 1));
      });

      it('a put-back of an update still unread, or for a cancelled trace, is dropped', async () => {
        const id = tid();
        const { row } = await start('acme', id);
        await store.commit(batch({ outputs: [out('acme', id, row.epoch, 1), out('acme', id, row.epoch, 2)] }));
        const first = await store.take('acme', id);
        if (first.kind !== 'update') throw new Error('expected an update');
        const second = { seq: 2, run: 1, kind: 'output' as const, value: { payload: 'v2' } };
        await store.commit(batch({ putBacks: [{ tenant: 'acme', traceId: id, update: first.update }, { tenant: 'acme', traceId: id, update: second }] }));
        const seqs: number[] = [];
        for (let t = await store.take('acme', id); t.kind === 'update'; t = await store.take('acme', id)) seqs.push(t.update.seq);
        expect(seqs).toEqual([1, 2]);
        await store.commit(batch({ ends: [{ tenant: 'acme', traceId: id, epoch: row.epoch, state: 'CANCELLED', error: undefined }] }));
        await store.commit(batch({ putBacks: [{ tenant: 'acme', traceId: id, update: first.update }] }));
        expect(await store.take('acme', id)).toMatchObject({ kind: 'end', row: { state: 'CANCELLED' } });
      });

      it('a trace with a cancellation requested delivers nothing more', async () => {
        const id = tid();
        const { row } = await start('acme', id);
        await store.commit(batch({ outputs: [out('acme', id, row.epoch, 1)] }));
        expect(await store.requestCancel('acme', id, 'r2')).toMatchObject({ kind: 'requested' });
        expect(await store.take('acme', id)).toMatchObject({ kind: 'empty', row: { cancelRequested: true } });
        // Its runner carries it out under its epoch (a cancellation request does not fence it).
        expect((await store.commit(batch({ ends: [{ tenant: 'acme', traceId: id, epoch: row.epoch, state: 'CANCELLED', error: undefined }] }))).fenced.size).toBe(0);
        expect(await store.take('acme', id)).toMatchObject({ kind: 'end', row: { state: 'CANCELLED', cancelRequested: false } });
      });

      it('a cancelled trace drops its unread updates', async () => {
        const id = tid();
        const { row } = await start('acme', id, { runner: 'r1' });
        await store.commit(batch({ outputs: [out('acme', id, row.epoch, 1)], ends: [{ tenant: 'acme', traceId: id, epoch: row.epoch, state: 'CANCELLED', error: undefined }] }));
        expect(await store.take('acme', id)).toMatchObject({ kind: 'end', row: { state: 'CANCELLED' } });
      });

      it('a put-back is dropped for a cancelled trace and kept once when already unread', async () => {
        const [live, gone] = [tid(), tid()];
        const l = await start('acme', live);
        const g = await start('acme', gone);
        await store.commit(batch({ outputs: [out('acme', live, l.row.epoch, 1), out('acme', gone, g.row.epoch, 1)] }));
        const t1 = await store.take('acme', live);
        const t2 = await store.take('acme', gone);
        if (t1.kind !== 'update' || t2.kind !== 'update') throw new Error('expected updates');
        await store.commit(batch({ ends: [{ tenant: 'acme', traceId: gone, epoch: g.row.epoch, state: 'CANCELLED', error: undefined }] }));
        const pb = (traceId: string, update: typeof t1.update) => ({ tenant: 'acme', traceId, update });
        await store.commit(batch({ putBacks: [pb(live, t1.update), pb(live, t1.update), pb(gone, t2.update)] }));
        await store.commit(batch({ putBacks: [pb(live, t1.update)] }));
        expect(await store.take('acme', live)).toMatchObject({ kind: 'update', update: { seq: 1, value: { payload: 'v1' } } });
        expect(await store.take('acme', live)).toMatchObject({ kind: 'empty' });
        expect(await store.take('acme', gone)).toMatchObject({ kind: 'end', row: { state: 'CANCELLED' } });
      });

      it('updates of an ended trace are still delivered, then its end', async () => {
        const id = tid();
        const { row } = await start('acme', id);
        await store.commit(batch({ outputs: [out('acme', id, row.epoch, 1)], ends: [{ tenant: 'acme', traceId: id, epoch: row.epoch, state: 'COMPLETED', error: undefined }] }));
        const second = await start('acme', id);
        expect(second.row.run).toBe(2);
        expect(await store.take('acme', id)).toMatchObject({ kind: 'update', update: { seq: 1, run: 1 } });
        expect(await store.take('acme', id)).toMatchObject({ kind: 'empty', row: { run: 2 } });
      });
    });

    describe('fencing', () => {
      it('refuses outputs, events and ends under a stale epoch, and says which traces', async () => {
        const id = tid();
        const { row } = await start('acme', id, { runner: undefined });
        const [claimed] = await store.claim('r1', 'echo', 100).then((c) => c.filter((x) => x.row.traceId === id));
        expect(claimed).toBeDefined();
        const stale = row.epoch;
        const res = await store.commit(
          batch({ outputs: [out('acme', id, stale, 1)], events: [ev('acme', id, stale, 1)], ends: [{ tenant: 'acme', traceId: id, epoch: stale, state: 'COMPLETED', error: undefined }] }),
        );
        expect([...res.fenced]).toEqual([traceKey('acme', id)]);
        expect(await store.take('acme', id)).toMatchObject({ kind: 'empty', row: { state: 'RUNNING' } });
        expect(await store.eventsAfter('acme', id, 0)).toEqual([]);
        const ok = await store.commit(batch({ outputs: [out('acme', id, claimed!.row.epoch, 1)] }));
        expect(ok.fenced.size).toBe(0);
      });

      it('a refused write does not affect the rest of its batch', async () => {
        const [a, b] = [tid(), tid()];
        const ra = await start('acme', a);
        const rb = await start('acme', b);
        const res = await store.commit(batch({ outputs: [out('acme', a, ra.row.epoch + 7, 1), out('acme', b, rb.row.epoch, 1)] }));
        expect([...res.fenced]).toEqual([traceKey('acme', a)]);
        expect(await store.take('acme', a)).toMatchObject({ kind: 'empty' });
        expect(await store.take('acme', b)).toMatchObject({ kind: 'update', update: { seq: 1 } });
      });

      it('a seq at or below the highest stored is ignored (a retried batch)', async () => {
        const id = tid();
        const { row } = await start('acme', id);
        await store.commit(batch({ outputs: [out('acme', id, row.epoch, 2)], events: [ev('acme', id, row.epoch, 2)] }));
        const res = await store.commit(batch({ outputs: [out('acme', id, row.epoch, 1)], events: [ev('acme', id, row.epoch, 1)] }));
        expect(res.fenced.size).toBe(0);
        expect(await store.take('acme', id)).toMatchObject({ kind: 'update', update: { seq: 2 } });
        expect(await store.take('acme', id)).toMatchObject({ kind: 'empty' });
        expect((await store.eventsAfter('acme', id, 0)).map((e) => e.seq)).toEqual([2]);
      });

      it('refuses writes for traces it does not know', async () => {
        const res = await store.commit(batch({ events: [ev('acme', tid(), 1, 1)] }));
        expect(res.fenced.size).toBe(1);
      });

      it('applies a batch in order: an accept that starts a new run fences the old run\'s writes in the same batch', async () => {
        const id = tid();
        const a = await start('acme', id);
        await store.commit(batch({ ends: [{ tenant: 'acme', traceId: id, epoch: a.row.epoch, state: 'COMPLETED', error: undefined }] }));
        const res = await store.commit(batch({ accepts: [accept('acme', id)], outputs: [out('acme', id, a.row.epoch, 1)], events: [ev('acme', id, a.row.epoch, 1)] }));
        expect(res.accepts[0]).toMatchObject({ kind: 'accepted', row: { run: 2 } });
        expect([...res.fenced]).toEqual([traceKey('acme', id)]);
        expect(await store.eventsAfter('acme', id, 0)).toEqual([]);
      });

      it('a second end is ignored, not fenced', async () => {
        const id = tid();
        const { row } = await start('acme', id);
        const res = await store.commit(
          batch({
            ends: [
              { tenant: 'acme', traceId: id, epoch: row.epoch, state: 'FAILED', error: { code: 'X' } },
              { tenant: 'acme', traceId: id, epoch: row.epoch, state: 'COMPLETED', error: undefined },
            ],
          }),
        );
        expect(res.fenced.size).toBe(0);
        expect(await store.getTrace('acme', id)).toMatchObject({ state: 'FAILED', error: { code: 'X' } });
        await store.commit(batch({ ends: [{ tenant: 'acme', traceId: id, epoch: row.epoch, state: 'COMPLETED', error: undefined }] }));
        expect(await store.getTrace('acme', id)).toMatchObject({ state: 'FAILED' });
      });
    });

    describe('ends and quota', () => {
      it('an end frees the owner and stores the error', async () => {
        const id = tid();
        const { row } = await start('acme', id);
        await store.commit(batch({ ends: [{ tenant: 'acme', traceId: id, epoch: row.epoch, state: 'DEADLINE_EXCEEDED', error: undefined }] }));
        const after = await store.getTrace('acme', id);
        expect(after).toMatchObject({ state: 'DEADLINE_EXCEEDED', owner: undefined });
        expect(after?.endedAt).toBeTypeOf('number');
        expect((await store.owned('r1')).some((o) => o.traceId === id)).toBe(false);
      });
    });

    describe('cancellation', () => {
      it('cancels a queued trace at once and reports the last event seq', async () => {
        const id = tid();
        const { row } = await start('acme', id, { runner: undefined });
        await store.commit(batch({ events: [ev('acme', id, row.epoch, 1), ev('acme', id, row.epoch, 2)] }));
        const res = await store.requestCancel('acme', id, 'r2');
        expect(res).toMatchObject({ kind: 'cancelled', lastEventSeq: 2, row: { state: 'CANCELLED' } });
        if (res.kind !== 'cancelled') return;
        expect(res.row.epoch).not.toBe(row.epoch);
        // The canceller may write events under the new epoch.
        expect((await store.commit(batch({ events: [ev('acme', id, res.row.epoch, 3)] }))).fenced.size).toBe(0);
        expect(await store.claim('r1', 'echo', 1000).then((c) => c.some((x) => x.row.traceId === id))).toBe(false);
      });

      it('records a cancellation for the live runner, once', async () => {
        const id = tid();
        await start('acme', id);
        expect(await store.requestCancel('acme', id, 'r2')).toMatchObject({ kind: 'requested', row: { cancelRequested: true, owner: 'r1' } });
        expect(await store.requestCancel('acme', id, 'r2')).toMatchObject({ kind: 'requested' });
        expect((await store.owned('r1')).find((o) => o.traceId === id)).toMatchObject({ cancelRequested: true });
        expect(await store.take('acme', id)).toMatchObject({ kind: 'empty' });
      });

      it('cancels at once a running trace whose owner is gone', async () => {
        const id = tid();
        const { row } = await start('acme', id, { runner: 'never-registered' });
        await store.commit(batch({ outputs: [out('acme', id, row.epoch, 1)] }));
        const res = await store.requestCancel('acme', id, 'r1');
        expect(res).toMatchObject({ kind: 'cancelled', lastEventSeq: 0, row: { state: 'CANCELLED', owner: undefined } });
        expect(await store.take('acme', id)).toMatchObject({ kind: 'end', row: { state: 'CANCELLED' } });
        // The gone runner is fenced.
        expect((await store.commit(batch({ outputs: [out('acme', id, row.epoch, 2)] }))).fenced.size).toBe(1);
      });

      it('cancels at once a running trace whose runner is gone', async () => {
        await store.heartbeat({ id: 'doomed', hostname: 'h', pid: 7, startedAt: Date.now(), draining: false });
        const id = tid();
        const { row } = await start('acme', id, { runner: 'doomed' });
        await store.forgetReplica('doomed');
        const res = await store.requestCancel('acme', id, 'r1');
        expect(res).toMatchObject({ kind: 'cancelled', row: { state: 'CANCELLED', owner: undefined } });
        if (res.kind === 'cancelled') expect(res.row.epoch).not.toBe(row.epoch);
        expect((await store.commit(batch({ outputs: [out('acme', id, row.epoch, 1)] }))).fenced.size).toBe(1);
      });

      it('answers ended and missing', async () => {
        const id = tid();
        const { row } = await start('acme', id);
        await store.commit(batch({ ends: [{ tenant: 'acme', traceId: id, epoch: row.epoch, state: 'COMPLETED', error: undefined }] }));
        expect(await store.requestCancel('acme', id, 'r1')).toMatchObject({ kind: 'ended', row: { state: 'COMPLETED' } });
        expect(await store.requestCancel('globex', id, 'r1')).toEqual({ kind: 'missing' });
      });
    });

    describe('claims, leases and recovery', () => {
      it('claims queued traces oldest first, each by one claimant', async () => {
        const flow = tid('flow');
        const ids = [tid(), tid(), tid(), tid(), tid()];
        for (const id of ids) await start('acme', id, { flow, runner: undefined });
        await store.heartbeat({ id: 'r2', hostname: 'h', pid: 2, startedAt: Date.now(), draining: false });
        const [a, b] = await Promise.all([store.claim('r1', flow, 3), store.claim('r2', flow, 3)]);
        const all = [...a, ...b].map((c) => c.row.traceId);
        expect(new Set(all).size).toBe(5);
        expect(all.sort()).toEqual([...ids].sort());
        for (const c of [...a, ...b]) expect(c.row).toMatchObject({ state: 'RUNNING', attempt: 1 });
        expect(a.every((c) => c.row.owner === 'r1') && b.every((c) => c.row.owner === 'r2')).toBe(true);
        const one = await store.claim('r1', flow, 10);
        expect(one).toEqual([]);
      });

      it('claims in queue order, and recovered traces before queued ones', async () => {
        const flow = tid('flow');
        const ids = [tid(), tid(), tid()];
        for (const id of ids) await start('acme', id, { flow, runner: undefined });
        const one = await store.claim('r1', flow, 1);
        expect(one.map((c) => c.row.traceId)).toEqual([ids[0]]);
        expect(one[0]).toMatchObject({ previousOwner: undefined, previousHeartbeat: undefined });
        const orphan = tid();
        await start('acme', orphan, { flow, runner: 'never-registered' });
        const next = await store.claim('r1', flow, 2);
        expect(next.map((c) => c.row.traceId)).toEqual([orphan, ids[1]]);
        expect(next[0]).toMatchObject({ previousOwner: 'never-registered', previousHeartbeat: undefined, row: { attempt: 2 } });
      });

      it('never recovers a replica\'s own traces for it, even when its lease lapsed', async () => {
        const flow = tid('flow');
        // 'ghost' never registered: to everyone else its traces are orphans.
        await start('acme', tid(), { flow, runner: 'ghost' });
        expect(await store.claim('ghost', flow, 10)).toEqual([]);
        expect(await store.claim('r1', flow, 10)).toHaveLength(1);
      });

      it('hands a claimant the run inputs, its stored updates and the last seqs', async () => {
        const flow = tid('flow');
        const id = tid();
        const { row } = await start('acme', id, { flow, runner: undefined });
        await start('acme', id, { flow, runner: undefined });
        await store.commit(batch({ outputs: [out('acme', id, row.epoch, 1)], events: [ev('acme', id, row.epoch, 1), ev('acme', id, row.epoch, 2)] }));
        const [c] = await store.claim('r1', flow, 1);
        expect(c).toMatchObject({ storedUpdates: 1, lastUpdateSeq: 1, lastEventSeq: 2, previousOwner: undefined });
        expect(c?.inputs).toHaveLength(2);
      });

      it('recovers the traces of a replica whose lease lapsed, with a new epoch', async () => {
        const flow = tid('flow');
        const id = tid();
        await store.heartbeat({ id: 'dead', hostname: 'h', pid: 3, startedAt: Date.now(), draining: false });
        const { row } = await start('acme', id, { flow, runner: 'dead' });
        expect(await store.claim('r1', flow, 10)).toEqual([]);
        const claimed = await eventually(async () => {
          await store.heartbeat({ id: 'r1', hostname: 'h', pid: 1, startedAt: 0, draining: false });
          const c = await store.claim('r1', flow, 10);
          return c.length > 0 ? c : undefined;
        });
        expect(claimed[0]).toMatchObject({ previousOwner: 'dead', row: { owner: 'r1', attempt: 2, state: 'RUNNING' } });
        expect(claimed[0]?.previousHeartbeat).toBeTypeOf('number');
        expect(claimed[0]!.row.epoch).toBeGreaterThan(row.epoch);
        // The old runner is fenced.
        expect((await store.commit(batch({ outputs: [out('acme', id, row.epoch, 1)] }))).fenced.size).toBe(1);
        const lapsed = await store.heartbeat({ id: 'dead', hostname: 'h', pid: 3, startedAt: 0, draining: false });
        expect(lapsed.lapsed).toBe(true);
        expect(await store.owned('dead')).toEqual([]);
      });

      it('forgetting a replica makes its traces claimable at once', async () => {
        const flow = tid('flow');
        await store.heartbeat({ id: 'gone', hostname: 'h', pid: 4, startedAt: Date.now(), draining: false });
        await start('acme', tid(), { flow, runner: 'gone' });
        expect(await store.claim('r1', flow, 10)).toEqual([]);
        await store.forgetReplica('gone');
        expect((await store.replicas()).some((r) => r.id === 'gone')).toBe(false);
        expect(await store.claim('r1', flow, 10)).toHaveLength(1);
      });

      it('release hands traces back for others to claim at once', async () => {
        const flow = tid('flow');
        await store.heartbeat({ id: 'r3', hostname: 'h', pid: 5, startedAt: Date.now(), draining: false });
        const a = await start('acme', tid(), { flow, runner: 'r3' });
        const b = await start('acme', tid(), { flow, runner: 'r3' });
        expect(await store.release('r3', [traceKey('acme', a.row.traceId)])).toBe(1);
        expect((await store.getTrace('acme', a.row.traceId))).toMatchObject({ state: 'QUEUED', owner: undefined });
        expect(await store.release('r3')).toBe(1);
        const claimed = await store.claim('r1', flow, 10);
        expect(claimed.map((c) => c.row.traceId).sort()).toEqual([a.row.traceId, b.row.traceId].sort());
        expect(claimed.every((c) => c.row.attempt === 2)).toBe(true);
      });

      it('a trace accepted for an unregistered runner is claimable at once', async () => {
        const flow = tid('flow');
        const id = tid();
        await start('acme', id, { flow, runner: 'ghost' });
        const [c] = await store.claim('r1', flow, 10);
        expect(c).toMatchObject({ previousOwner: 'ghost', previousHeartbeat: undefined, row: { traceId: id, owner: 'r1', attempt: 2 } });
      });

      it('claims recovered traces before queued ones, up to the limit', async () => {
        const flow = tid('flow');
        const queued = tid();
        await start('acme', queued, { flow, runner: undefined });
        const orphans = [tid(), tid()];
        for (const id of orphans) await start('acme', id, { flow, runner: 'ghost' });
        const first = await store.claim('r1', flow, 2);
        expect(first.map((c) => c.row.traceId)).toEqual(orphans);
        expect((await store.claim('r1', flow, 2)).map((c) => c.row.traceId)).toEqual([queued]);
        expect(await store.claim('r1', flow, 0)).toEqual([]);
      });

      it('a re-run suppresses only the updates its run stored', async () => {
        const flow = tid('flow');
        const id = tid();
        const a = await start('acme', id, { flow, runner: 'r1' });
        await store.commit(batch({ outputs: [out('acme', id, a.row.epoch, 1)], ends: [{ tenant: 'acme', traceId: id, epoch: a.row.epoch, state: 'COMPLETED', error: undefined }] }));
        const b = await start('acme', id, { flow, runner: 'ghost' });
        await store.commit(batch({ outputs: [out('acme', id, b.row.epoch, 2, { run: 2, consumed: true }), out('acme', id, b.row.epoch, 3, { run: 2 })] }));
        const [c] = await store.claim('r1', flow, 1);
        expect(c).toMatchObject({ storedUpdates: 2, lastUpdateSeq: 3, row: { run: 2, attempt: 2 } });
      });

      it('prune keeps replicas that still own traces', async () => {
        await store.heartbeat({ id: 'draining', hostname: 'h', pid: 7, startedAt: Date.now(), draining: true });
        const { row } = await start('acme', tid(), { runner: 'draining' });
        await store.prune({ tracesEndedBefore: 0, updatesEndedBefore: 0, keysCreatedBefore: 0, replicasSeenBefore: Date.now() + 60_000 });
        expect((await store.replicas()).find((r) => r.id === 'draining')).toMatchObject({ draining: true });
        await store.commit(batch({ ends: [{ tenant: 'acme', traceId: row.traceId, epoch: row.epoch, state: 'COMPLETED', error: undefined }] }));
        const res = await store.prune({ tracesEndedBefore: 0, updatesEndedBefore: 0, keysCreatedBefore: 0, replicasSeenBefore: Date.now() + 60_000 });
        expect(res.replicas).toBeGreaterThanOrEqual(1);
        expect((await store.replicas()).some((r) => r.id === 'draining')).toBe(false);
      });

      it('owned lists a replica\'s running traces; release ignores traces it does not own', async () => {
        await store.heartbeat({ id: 'r4', hostname: 'h', pid: 8, startedAt: Date.now(), draining: false });
        const flow = tid('flow');
        const mine = await start('acme', tid(), { flow, runner: 'r4' });
        const theirs = await start('acme', tid(), { flow, runner: 'r1' });
        await store.requestCancel('acme', mine.row.traceId, 'r1');
        expect(await store.owned('r4')).toEqual([{ tenant: 'acme', traceId: mine.row.traceId, epoch: mine.row.epoch, run: 1, cancelRequested: true, inputCount: 1 }]);
        expect(await store.release('r4', [traceKey('acme', theirs.row.traceId)])).toBe(0);
        expect(await store.release('nobody')).toBe(0);
        expect(await store.getTrace('acme', theirs.row.traceId)).toMatchObject({ state: 'RUNNING', owner: 'r1' });
      });

      it('a heartbeat within the lease has not lapsed', async () => {
        await store.heartbeat({ id: 'fresh', hostname: 'h', pid: 6, startedAt: Date.now(), draining: false });
        expect((await store.heartbeat({ id: 'fresh', hostname: 'h', pid: 6, startedAt: Date.now(), draining: false })).lapsed).toBe(false);
        expect((await store.replicas()).find((r) => r.id === 'fresh')).toMatchObject({ hostname: 'h', pid: 6 });
      });

      it('a replica\'s first heartbeat, and its first after being forgotten, report lapsed', async () => {
        const id = tid('replica');
        expect((await store.heartbeat({ id, hostname: 'h', pid: 11, startedAt: Date.now(), draining: false })).lapsed).toBe(true);
        await store.forgetReplica(id);
        expect((await store.heartbeat({ id, hostname: 'h', pid: 11, startedAt: Date.now(), draining: false })).lapsed).toBe(true);
        expect((await store.heartbeat({ id, hostname: 'h', pid: 11, startedAt: Date.now(), draining: false })).lapsed).toBe(false);
      });

      it('a released trace is claimed with no previous owner', async () => {
        const flow = tid('flow');
        await store.heartbeat({ id: 'r5', hostname: 'h', pid: 12, startedAt: Date.now(), draining: false });
        const { row } = await start('acme', tid(), { flow, runner: 'r5' });
        expect(await store.release('r5')).toBe(1);
        const [c] = await store.claim('r1', flow, 1);
        expect(c).toMatchObject({ previousOwner: undefined, previousHeartbeat: undefined, row: { traceId: row.traceId, owner: 'r1', attempt: 2 } });
      });
    });

    describe('events', () => {
      it('are read per trace in seq order and tailed in commit order', async () => {
        const cursor = await store.tailStart();
        const [a, b] = [tid(), tid()];
        const ra = await start('acme', a);
        const rb = await start('globex', b);
        await store.commit(batch({ events: [ev('acme', a, ra.row.epoch, 1), ev('globex', b, rb.row.epoch, 1)] }));
        await store.commit(batch({ events: [ev('acme', a, ra.row.epoch, 2)] }));
        expect((await store.eventsAfter('acme', a, 0)).map((e) => e.seq)).toEqual([1, 2]);
        expect((await store.eventsAfter('acme', a, 1)).map((e) => e.seq)).toEqual([2]);
        expect(await store.eventsAfter('globex', a, 0)).toEqual([]);
        const tail = await store.tailEvents(cursor, 100);
        const mine = tail.events.filter((e) => e.traceId === a || e.traceId === b).map((e) => `${e.tenant}:${e.seq}`);
        expect(mine).toEqual(['acme:1', 'globex:1', 'acme:2']);
        expect(tail.events.find((e) => e.traceId === a)).toMatchObject({ flow: 'echo', kind: 'node_start', nodeName: 'n', nodeId: 'id', payloadJson: '{"i":1}', ts: 1001 });
        const next = await store.tailEvents(tail.cursor, 100);
        expect(next.events.filter((e) => e.traceId === a || e.traceId === b)).toEqual([]);
      });

      it('page through the tail and a trace\'s events without gaps or repeats', async () => {
        const cursor = await store.tailStart();
        const id = tid();
        const { row } = await start('acme', id);
        await store.commit(batch({ events: [1, 2, 3, 4, 5].map((seq) => ev('acme', id, row.epoch, seq)) }));
        expect((await store.eventsAfter('acme', id, 1, 2)).map((e) => e.seq)).toEqual([2, 3]);
        let at = cursor;
        const seen: number[] = [];
        for (let i = 0; i < 20; i++) {
          const page = await store.tailEvents(at, 2);
          expect(page.events.length).toBeLessThanOrEqual(2);
          seen.push(...page.events.filter((e) => e.traceId === id).map((e) => e.seq));
          at = page.cursor;
          if (page.events.length === 0) break;
        }
        expect(seen).toEqual([1, 2, 3, 4, 5]);
      });

      it('a seq stored twice is kept once', async () => {
        const id = tid();
        const { row } = await start('acme', id);
        await store.commit(batch({ events: [ev('acme', id, row.epoch, 1)] }));
        await store.commit(batch({ events: [ev('acme', id, row.epoch, 1)] }));
        expect(await store.eventsAfter('acme', id, 0)).toHaveLength(1);
      });
    });

    describe('lifecycle and pruning', () => {
      it('init is idempotent and ping answers', async () => {
        await store.init();
        await expect(store.ping()).resolves.toBeUndefined();
      });

      it('prune deletes ended traces, expired unread updates and keys, never live traces', async () => {
        const [done, live, unread] = [tid(), tid(), tid()];
        const key = tid('k');
        const d = await start('acme', done, { idempotencyKey: key });
        await start('acme', live);
        const u = await start('acme', unread);
        await store.commit(
          batch({
            outputs: [out('acme', unread, u.row.epoch, 1)],
            events: [ev('acme', done, d.row.epoch, 1)],
            ends: [
              { tenant: 'acme', traceId: done, epoch: d.row.epoch, state: 'COMPLETED', error: undefined },
              { tenant: 'acme', traceId: unread, epoch: u.row.epoch, state: 'COMPLETED', error: undefined },
            ],
          }),
        );
        // Updates first: the unread trace keeps its end.
        const later = Date.now() + 60_000;
        const r1 = await store.prune({ tracesEndedBefore: 0, updatesEndedBefore: later, keysCreatedBefore: 0, replicasSeenBefore: 0 });
        expect(r1.updates).toBeGreaterThanOrEqual(1);
        expect(await store.take('acme', unread)).toMatchObject({ kind: 'end', row: { state: 'COMPLETED' } });
        const r2 = await store.prune({ tracesEndedBefore: later, updatesEndedBefore: later, keysCreatedBefore: later, replicasSeenBefore: 0 });
        expect(r2.traces).toBeGreaterThanOrEqual(2);
        expect(r2.keys).toBeGreaterThanOrEqual(1);
        expect(await store.getTrace('acme', done)).toBeUndefined();
        expect(await store.eventsAfter('acme', done, 0)).toEqual([]);
        expect(await store.getTrace('acme', live)).toMatchObject({ state: 'RUNNING' });
        expect((await store.commit(batch({ accepts: [accept('acme', tid(), { idempotencyKey: key })] }))).accepts[0]?.kind).toBe('accepted');
      });

      it('prune deletes replicas not seen since the cutoff, unless they own running traces', async () => {
        await store.heartbeat({ id: 'idle', hostname: 'h', pid: 9, startedAt: Date.now(), draining: false });
        await store.heartbeat({ id: 'busy', hostname: 'h', pid: 10, startedAt: Date.now(), draining: false });
        await start('acme', tid(), { runner: 'busy' });
        const later = Date.now() + 60_000;
        const r = await store.prune({ tracesEndedBefore: 0, updatesEndedBefore: 0, keysCreatedBefore: 0, replicasSeenBefore: later });
        expect(r.replicas).toBeGreaterThanOrEqual(1);
        const ids = (await store.replicas()).map((x) => x.id);
        expect(ids).toContain('busy');
        expect(ids).not.toContain('idle');
      });
    });

    describe('notices', () => {
      it('tell the runner of cancellation requests and joins, and claimants of releases', async () => {
        const notices: StoreNotice[] = [];
        const stop = store.listen((n) => notices.push(n));
        try {
          // A store may start listening asynchronously (notices are hints): wait until one arrives.
          await eventually(async () => {
            await start('acme', tid(), { flow: tid('warmup'), runner: undefined });
            return notices.length > 0 ? true : undefined;
          });
          const flow = tid('flow');
          const [a, b] = [tid(), tid()];
          await start('acme', a, { flow });
          await store.requestCancel('acme', a, 'r2');
          await eventually(async () => (notices.some((n) => n.runners.includes(traceKey('acme', a))) ? true : undefined));
          await start('acme', b, { flow, runner: 'r3' });
          notices.length = 0;
          await start('acme', b, { flow });
          await eventually(async () => (notices.some((n) => n.runners.includes(traceKey('acme', b))) ? true : undefined));
          await store.release('r3', [traceKey('acme', b)]);
          await eventually(async () => (notices.some((n) => n.flows.includes(flow)) ? true : undefined));
        } finally {
          stop();
        }
      });

      it('tell listeners which traces, flows, tenants and events changed', async () => {
        const notices: StoreNotice[] = [];
        const stop = store.listen((n) => notices.push(n));
        try {
          // A store may start listening asynchronously (notices are hints): wait until one arrives.
          await eventually(async () => {
            await start('acme', tid(), { flow: tid('warmup'), runner: undefined });
            return notices.length > 0 ? true : undefined;
          });
          const flow = tid('flow');
          const id = tid();
          const q = await start('acme', id, { flow, runner: undefined });
          await eventually(async () => (notices.some((n) => n.flows.includes(flow)) ? true : undefined));
          const [c] = await store.claim('r1', flow, 1);
          await store.commit(batch({ outputs: [out('acme', id, c!.row.epoch, 1)], events: [ev('acme', id, c!.row.epoch, 1)] }));
          await eventually(async () => (notices.some((n) => n.traces.includes(traceKey('acme', id)) && n.events) ? true : undefined));
          await start('acme', id, { flow });
          await eventually(async () => (notices.some((n) => n.runners.includes(traceKey('acme', id))) ? true : undefined));
          await store.commit(batch({ ends: [{ tenant: 'acme', traceId: id, epoch: c!.row.epoch, state: 'COMPLETED', error: undefined }] }));
          await eventually(async () => (notices.some((n) => n.tenants.includes('acme')) ? true : undefined));
          const other = tid();
          await start('acme', other, { flow });
          const before = notices.length;
          await store.requestCancel('acme', other, 'r2');
          await eventually(async () => (notices.slice(before).some((n) => n.runners.includes(traceKey('acme', other))) ? true : undefined));
          expect(q.row.state).toBe('QUEUED');
          expect(notices.every((n) => typeof n.sentAt === 'number')).toBe(true);
        } finally {
          stop();
        }
      });
    });
  });
}
