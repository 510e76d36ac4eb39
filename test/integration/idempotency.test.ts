/**
 * Idempotent Emit/Call/CallStream: a repeated key returns the first trace
 * and never runs the work twice.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TraceStatus } from '../../src/gen/penguiflow/v1/messages_pb.js';
import { eventually, payloadOf, startHarness, value, type Harness } from './helpers/harness.js';
import { countingFlow } from './helpers/test-flows.js';

const counter = countingFlow();
let h: Harness;
beforeAll(async () => {
  h = await startHarness({}, { flows: [counter.definition] });
});
afterAll(async () => {
  await h.stop();
});

describe('idempotent Emit', () => {
  it('returns the first trace id for a repeated key and runs the work once', async () => {
    const before = counter.count();
    const first = await h.client.unary('Emit', { flow: 'counter', message: { payload: value('a') }, idempotencyKey: 'key-1' });
    const second = await h.client.unary('Emit', { flow: 'counter', message: { payload: value('b'), traceId: 'other-id' }, idempotencyKey: 'key-1' });
    expect(first.deduplicated).toBe(false);
    expect(second).toMatchObject({ traceId: first.traceId, deduplicated: true });
    // Once no trace of the flow is in flight, a duplicate run would have counted too.
    await eventually(() => h.server.flows.get('counter').tracesInFlight === 0);
    expect(counter.count() - before).toBe(1);
  });

  it('deduplicates concurrent retries of the same key', async () => {
    const before = counter.count();
    const results = await Promise.all(
      Array.from({ length: 8 }, () => h.client.unary('Emit', { flow: 'counter', message: { payload: value(1) }, idempotencyKey: 'burst' })),
    );
    expect(new Set(results.map((r) => r.traceId)).size).toBe(1);
    expect(results.filter((r) => !r.deduplicated)).toHaveLength(1);
    await eventually(() => h.server.flows.get('counter').tracesInFlight === 0);
    expect(counter.count() - before).toBe(1);
  });

  it('scopes keys per tenant', async () => {
    const a = await h.client.unary('Emit', { flow: 'counter', message: { payload: value(1) }, idempotencyKey: 'shared' }, { tenant: 'tenant-a' });
    const b = await h.client.unary('Emit', { flow: 'counter', message: { payload: value(1) }, idempotencyKey: 'shared' }, { tenant: 'tenant-b' });
    expect(a.deduplicated).toBe(false);
    expect(b.deduplicated).toBe(false);
    expect(a.traceId).not.toBe(b.traceId);
  });

  it('makes a duplicate Call wait for the original trace instead of emitting again', async () => {
    const before = counter.count();
    const first = await h.client.unary('Call', { flow: 'counter', message: { payload: value(1) }, idempotencyKey: 'call-key' }, { timeoutMs: 2000 });
    expect(first.result.case).toBe('output');
    const dup = await h.client.unary('Call', { flow: 'counter', message: { payload: value(1) }, idempotencyKey: 'call-key' }, { timeoutMs: 2000 });
    expect(dup.traceId).toBe(first.traceId);
    // The original's only output was taken by the first Call: the duplicate sees the trace ended without more.
    expect(dup.result.case).toBeUndefined();
    expect(counter.count() - before).toBe(1);
  });

  it('makes a duplicate CallStream attach to the original trace', async () => {
    const before = counter.count();
    const { traceId } = await h.client.unary('Emit', { flow: 'counter', message: { payload: value(1) }, idempotencyKey: 'stream-key' });
    const { items } = await h.client.collect('CallStream', { flow: 'counter', message: { payload: value(2) }, idempotencyKey: 'stream-key' }, { timeoutMs: 2000 });
    expect(items.map((i) => i.traceId)).toEqual([traceId, traceId]);
    expect(items.map((i) => i.update?.update.case)).toEqual(['output', 'end']);
    const out = items[0]?.update?.update;
    expect(out?.case === 'output' ? payloadOf(out.value) : undefined).toEqual({ count: counter.count() });
    const end = items[1]?.update?.update;
    expect(end?.case === 'end' ? end.value.status : undefined).toBe(TraceStatus.COMPLETED);
    expect(counter.count() - before).toBe(1);
  });
});
