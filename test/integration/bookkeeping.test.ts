/**
 * Nothing leaks: once traces ended and their retention passed, every
 * server-side structure (trace records, idempotency keys, event logs) and
 * the runtime's per-trace state are empty again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InMemoryEventLog } from '../../src/server/index.js';
import { eventually, startHarness, value, type Harness } from './helpers/harness.js';

const RETENTION_MS = 60_000;
let h: Harness;
let eventLog: InMemoryEventLog;
beforeAll(async () => {
  eventLog = new InMemoryEventLog({ retentionMs: RETENTION_MS, maxReleasedTraces: 100_000 });
  h = await startHarness({ traceRetentionMs: RETENTION_MS }, { eventLog });
});
afterAll(async () => {
  await h.stop();
});

describe('bookkeeping', () => {
  it('frees every per-trace structure after the retention period', async () => {
    const work: Promise<unknown>[] = [];
    for (let i = 0; i < 20; i++) {
      work.push(h.client.unary('Call', { flow: 'chain5', message: { payload: value(i) }, idempotencyKey: `k${i}` }, { timeoutMs: 5000 }));
      work.push(h.client.collect('CallStream', { flow: 'stream', message: { payload: value({ chunks: 3 }) } }, { timeoutMs: 5000 }));
      work.push(h.client.unary('Call', { flow: 'fanout', message: { payload: value(i) } }, { timeoutMs: 5000 }));
      work.push(h.client.unary('Call', { flow: 'flaky', message: { payload: value({ failures: i % 6 }) } }, { timeoutMs: 5000 }));
    }
    // Emitted and never read: its output waits in the server until retention ends.
    await h.client.unary('Emit', { flow: 'echo', message: { payload: value('unread') } });
    const slow = await h.client.unary('Emit', { flow: 'slow', message: { payload: value({ ms: 60_000 }) } });
    await Promise.all(work);
    await h.client.unary('Cancel', { flow: 'slow', traceId: slow.traceId });
    await eventually(() => h.server.flows.tracesInFlight === 0);

    const before = h.server.flows.list().reduce((n, f) => n + f.stats().records, 0);
    expect(before).toBeGreaterThan(80);
    expect(eventLog.traceCount).toBeGreaterThan(80);

    h.server.flows.sweep(Date.now() + RETENTION_MS + 1);
    for (const flow of h.server.flows.list()) {
      const stats = flow.stats();
      expect({ flow: flow.name, records: stats.records, keys: stats.idempotencyKeys }).toEqual({ flow: flow.name, records: 0, keys: 0 });
      expect(stats.runtime).toMatchObject({ traces: 0, pending: 0, inflight: 0, queued: 0, bufferedOutputs: 0, fetchWaiters: 0, openStreams: 0 });
    }
    expect(h.server.flows.get('fanout').stats().runtime.nodes.join).toMatchObject({ buckets: 0 });
    expect(h.server.flows.get('flaky').stats().runtime.nodes.flaky).toMatchObject({ tracked: 0 });
    expect(eventLog.traceCount).toBe(0);
  });
});
