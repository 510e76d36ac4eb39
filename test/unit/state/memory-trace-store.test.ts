/** The TraceStore contract on the in-memory store, and its memory bounds. */
import { describe, expect, it } from 'vitest';
import { MemoryTraceStore } from '../../../src/state/cluster/memory-trace-store.js';
import { traceStoreContract } from './trace-store-contract.js';

traceStoreContract('memory', {
  open: (opts) => Promise.resolve(new MemoryTraceStore({ ...opts, retentionMs: 60_000, maxEndedPerFlow: 10_000 })),
  close: () => Promise.resolve(),
});

describe('MemoryTraceStore bounds', () => {
  const base = { leaseMs: 1000, idempotencyRetentionMs: 1000, retentionMs: 1000 };
  const accept = (traceId: string) => ({
    tenant: 'acme', traceId, flow: 'echo', message: traceId, deadline: undefined, traceparent: undefined,
    idempotencyKey: undefined, runner: 'r1', maxInflight: 0, maxQueued: 0,
  });
  const end = (traceId: string, epoch: number) => ({ tenant: 'acme', traceId, epoch, state: 'COMPLETED' as const, error: undefined });

  it('forgets the oldest ended traces of a flow beyond maxEndedPerFlow', async () => {
    const store = new MemoryTraceStore({ ...base, maxEndedPerFlow: 2 });
    for (const id of ['a', 'b', 'c']) {
      const res = await store.commit({ accepts: [accept(id)], outputs: [], putBacks: [], events: [], ends: [] });
      const a = res.accepts[0]!;
      if (a.kind !== 'accepted') throw new Error('not accepted');
      await store.commit({ accepts: [], outputs: [], putBacks: [], events: [], ends: [end(id, a.row.epoch)] });
    }
    expect(await store.getTrace('acme', 'a')).toBeUndefined();
    expect(await store.getTrace('acme', 'b')).toBeDefined();
    expect(store.size).toBe(2);
  });

  it('sweep forgets ended traces and keys past their retention, never running ones', async () => {
    let now = 1_000_000;
    const store = new MemoryTraceStore({ ...base, maxEndedPerFlow: 100, now: () => now });
    const res = await store.commit({ accepts: [accept('done'), { ...accept('live'), idempotencyKey: 'k' }], outputs: [], putBacks: [], events: [], ends: [] });
    const done = res.accepts[0]!;
    if (done.kind !== 'accepted') throw new Error('not accepted');
    await store.commit({ accepts: [], outputs: [], putBacks: [], events: [], ends: [end('done', done.row.epoch)] });
    now += 1001;
    store.sweep();
    expect(await store.getTrace('acme', 'done')).toBeUndefined();
    expect(await store.getTrace('acme', 'live')).toBeDefined();
    const again = await store.commit({ accepts: [{ ...accept('other'), idempotencyKey: 'k' }], outputs: [], putBacks: [], events: [], ends: [] });
    expect(again.accepts[0]?.kind).toBe('accepted');
  });
});
