/** The store contract on the in-memory store, and the bounds only it has. */
import { describe, expect, it } from 'vitest';
import { FlowEvent, InMemoryStateStore } from '../../../src/runtime/index.js';
import { FlowEventRecord, MemoryStateStore, type EventRecord, type StoredTrace } from '../../../src/state/index.js';
import { storeContract } from './contract.js';

storeContract('memory', {
  open: async () => {
    const store = new MemoryStateStore();
    await store.init();
    return store;
  },
});

function ev(traceId: string, seq: number): EventRecord {
  return { tenant: 't', traceId, seq, flow: 'f', ts: seq, kind: 'node_start', nodeName: 'n', nodeId: 'n1', payload: {} };
}

function row(traceId: string, status: string): StoredTrace {
  return { tenant: 't', traceId, flow: 'f', status, createdAt: 1, updatedAt: 1, endedAt: status === 'RUNNING' ? undefined : 1 };
}

describe('MemoryStateStore bounds', () => {
  it('is the runtime InMemoryStateStore too: one in-memory history for both layers', () => {
    expect(new MemoryStateStore()).toBeInstanceOf(InMemoryStateStore);
  });

  it('forgets the trace that stopped running longest ago over maxIdleTraces, never a running one', async () => {
    const store = new MemoryStateStore({ maxIdleTraces: 2 });
    await store.write({ events: ['a', 'b', 'c', 'r'].map((id) => ev(id, 1)), traces: ['a', 'b', 'c', 'r'].map((id) => row(id, 'RUNNING')) });
    await store.write({ events: [], traces: [row('b', 'COMPLETED'), row('a', 'FAILED')] });
    // A trace known only by its events counts as idle from when they arrived.
    await store.write({ events: [ev('orphan', 1)], traces: [] });
    await store.write({ events: [], traces: [row('c', 'CANCELLED')] });
    const kept = async (id: string): Promise<boolean> => (await store.getTrace('t', id)) !== undefined || (await store.lastSeq('t', id)) > 0;
    const ids = ['a', 'b', 'c', 'r', 'orphan'];
    const known = (await Promise.all(ids.map(kept))).flatMap((k, i) => (k ? [ids[i]!] : []));
    // Idle in order b, a, orphan, c: b and a went over the cap of 2; r runs.
    expect(known).toEqual(['c', 'r', 'orphan']);
    expect(await store.eventsAfter('t', 'a', 0)).toEqual([]);
  });

  it('keeps the newest maxEventsPerTrace events of a trace and ignores a late retry of a dropped one', async () => {
    const store = new MemoryStateStore({ maxEventsPerTrace: 3 });
    await store.write({ events: [1, 2, 3, 4, 5].map((seq) => ev('x', seq)), traces: [] });
    await store.write({ events: [ev('x', 1)], traces: [] });
    expect((await store.eventsAfter('t', 'x', 0)).map((e) => e.seq)).toEqual([3, 4, 5]);
    expect(await store.lastSeq('t', 'x')).toBe(5);
  });
  it('keeps events made from runtime events flattened, and gives them back equal, in seq order, with their payload', async () => {
    const store = new MemoryStateStore();
    const event = (i: number, extra: Record<string, unknown> = {}): FlowEvent =>
      new FlowEvent({ eventType: i % 2 === 0 ? 'node_start' : 'node_success', ts: 1000 + i, nodeName: `hop${i}`, nodeId: `id${i}`, traceId: 'k', attempt: i, latencyMs: i % 2 === 0 ? undefined : i / 4, queueDepthIn: i, queueDepthOut: 0, outgoingEdges: 1, queueMaxsize: 64, tracePending: 1, traceInflight: undefined, traceCancelled: i === 3, extra });
    const rec = (seq: number, e: FlowEvent): FlowEventRecord => new FlowEventRecord('t', 'p', seq, 'chain5', e);
    const events = [event(1), event(2, { traceparent: 'x' }), event(3), event(4)];
    // Out of order, with a retry of seq 2 carrying another event: the first write wins.
    await store.write({ events: [rec(1, events[0]!), rec(4, events[3]!), rec(2, events[1]!), rec(3, events[2]!), rec(2, event(9))], traces: [] });
    const got = await store.eventsAfter('t', 'p', 0);
    expect(got.map((r) => r.seq)).toEqual([1, 2, 3, 4]);
    got.forEach((r, i) => {
      expect({ ...r.event }).toEqual({ ...events[i]! });
      expect(r.payload).toEqual(new FlowEventRecord('t', 'p', i + 1, 'chain5', events[i]!).payload);
      expect([r.flow, r.kind, r.nodeName, r.ts]).toEqual(['chain5', events[i]!.eventType, events[i]!.nodeName, events[i]!.ts]);
    });
    expect((await store.eventsAfter('t', 'p', 2)).map((r) => r.seq)).toEqual([3, 4]);
  });
});
