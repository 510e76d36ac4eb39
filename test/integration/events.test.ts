/**
 * SubscribeEvents and GetHistory: per-trace seq numbering, filters,
 * replay-then-live without gap or duplicate, and tenant scoping.
 */
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SubscribeEventsResponse } from '../../src/gen/penguiflow/v1/flow_service_pb.js';
import type { FlowEvent } from '../../src/gen/penguiflow/v1/events_pb.js';
import { eventually, startHarness, subscribersOf, value, type Harness } from './helpers/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h.stop();
});

/** Opens a subscription and collects its events until `stop()`. */
function subscribe(request: Parameters<Harness['client']['stream']>[1], tenant?: string): { events: FlowEvent[]; stop(): void; ended: Promise<grpc.ServiceError | undefined> } {
  const call = h.client.stream('SubscribeEvents', request as never, tenant === undefined ? { timeoutMs: 20_000 } : { tenant, timeoutMs: 20_000 });
  const events: FlowEvent[] = [];
  call.on('data', (m: SubscribeEventsResponse) => {
    if (m.event) events.push(m.event);
  });
  const ended = new Promise<grpc.ServiceError | undefined>((resolve) => {
    call.on('error', (e: grpc.ServiceError) => resolve(e));
    call.on('end', () => resolve(undefined));
  });
  return { events, stop: () => call.cancel(), ended };
}

describe('GetHistory', () => {
  it('returns a trace\'s events in seq order 1, 2, 3, … with flow, tenant and the client trace id', async () => {
    const res = await h.client.unary('Call', { flow: 'chain5', message: { payload: value(1) } }, { tenant: 'hist', timeoutMs: 2000 });
    // The output can reach the caller before the last node_success is logged.
    const history = () => h.client.unary('GetHistory', { flow: 'chain5', traceId: res.traceId }, { tenant: 'hist' });
    await eventually(async () => (await history()).events.length >= 10);
    const { events } = await history();
    expect(events.map((e) => Number(e.seq))).toEqual(Array.from({ length: 10 }, (_, i) => i + 1));
    expect(events.map((e) => `${e.eventType}:${e.nodeName}`)).toEqual(
      [1, 2, 3, 4, 5].flatMap((i) => [`node_start:hop${i}`, `node_success:hop${i}`]),
    );
    for (const e of events) {
      expect(e).toMatchObject({ flow: 'chain5', tenant: 'hist', traceId: res.traceId, queueMaxsize: 64 });
      expect(e.ts).toBeDefined();
    }
    expect(events[1]?.latencyMs).toBeGreaterThanOrEqual(0);
    expect(events[0]?.latencyMs).toBeUndefined();
  });

  it('includes retries and the final failure with diagnostic extra fields', async () => {
    const res = await h.client.unary('Call', { flow: 'flaky', message: { payload: value({ failures: 9 }) } }, { timeoutMs: 3000 });
    const history = () => h.client.unary('GetHistory', { flow: 'flaky', traceId: res.traceId });
    await eventually(async () => (await history()).events.some((e) => e.eventType === 'node_failed'));
    const { events } = await history();
    const types = events.map((e) => e.eventType);
    expect(types.filter((t) => t === 'node_retry')).toHaveLength(3);
    expect(types.at(-1)).toBe('node_failed');
    expect(events.at(-1)?.extra).toMatchObject({ code: 'NODE_EXCEPTION', exception: 'flaky failure 4 of 9' });
    // latency_ms is defined for node_success/error/timeout/failed only.
    expect(events.filter((e) => e.eventType === 'node_retry').every((e) => e.latencyMs === undefined)).toBe(true);
    expect(events.filter((e) => e.eventType === 'node_error').every((e) => e.latencyMs !== undefined)).toBe(true);
  });
});

describe('SubscribeEvents', () => {
  it('streams live events filtered by flow and event type, only the caller\'s tenant', async () => {
    const sub = subscribe({ flow: 'echo', eventTypes: ['node_success'] }, 'live');
    await eventually(() => subscribersOf(h.server, 'live') === 1);
    const first = await h.client.unary('Call', { flow: 'echo', message: { payload: value(1) } }, { tenant: 'live', timeoutMs: 2000 });
    await h.client.unary('Call', { flow: 'chain5', message: { payload: value(1) } }, { tenant: 'live', timeoutMs: 2000 });
    await h.client.unary('Call', { flow: 'echo', message: { payload: value(1) } }, { tenant: 'someone-else', timeoutMs: 2000 });
    // A last matching event: once it arrives, anything wrongly let through before it has arrived too.
    const last = await h.client.unary('Call', { flow: 'echo', message: { payload: value(1) } }, { tenant: 'live', timeoutMs: 2000 });
    await eventually(() => sub.events.some((e) => e.traceId === last.traceId));
    sub.stop();
    expect(sub.events.map((e) => [e.traceId, e.flow, e.eventType, e.tenant, Number(e.seq)])).toEqual([
      [first.traceId, 'echo', 'node_success', 'live', 2],
      [last.traceId, 'echo', 'node_success', 'live', 2],
    ]);
    expect((await sub.ended)?.code).toBe(grpc.status.CANCELLED);
  });

  it('replays a trace\'s history after after_seq, then continues live with no gap and no duplicate', async () => {
    const { traceId } = await h.client.unary('Emit', { flow: 'stream', message: { payload: value({ chunks: 40, delayMs: 3 }) } });
    // The trace's first event (node_start) happens before the subscription, the rest while it is open.
    await eventually(async () => (await h.client.unary('GetHistory', { flow: 'stream', traceId })).events.length >= 1);
    const sub = subscribe({ traceIds: [traceId], afterSeq: 1n });
    await h.client.collect('StreamTrace', { flow: 'stream', traceId }, { timeoutMs: 5000 });
    const { events: history } = await h.client.unary('GetHistory', { flow: 'stream', traceId });
    await eventually(() => sub.events.length === history.length - 1);
    sub.stop();
    expect(sub.events.map((e) => Number(e.seq))).toEqual(history.slice(1).map((e) => Number(e.seq)));
    expect(sub.events.every((e) => e.traceId === traceId)).toBe(true);
  });

  it('resumes from the last seq received', async () => {
    const res = await h.client.unary('Call', { flow: 'chain5', message: { payload: value(1) } }, { timeoutMs: 2000 });
    await eventually(async () => (await h.client.unary('GetHistory', { flow: 'chain5', traceId: res.traceId })).events.length === 10);
    const sub = subscribe({ traceIds: [res.traceId], afterSeq: 7n });
    await eventually(() => sub.events.length >= 3);
    // The trace runs again (its numbering continues): seq 20, live, ends the stream's check.
    await h.client.unary('Call', { flow: 'chain5', message: { traceId: res.traceId, payload: value(2) } }, { timeoutMs: 2000 });
    await eventually(() => sub.events.some((e) => Number(e.seq) === 20));
    sub.stop();
    expect(sub.events.map((e) => Number(e.seq))).toEqual(Array.from({ length: 13 }, (_, i) => i + 8));
  });

  it('sees the cancellation lifecycle exactly once', async () => {
    const { traceId } = await h.client.unary('Emit', { flow: 'slow', message: { payload: value({ ms: 60_000 }) } });
    const sub = subscribe({ traceIds: [traceId] });
    await eventually(() => sub.events.some((e) => e.eventType === 'node_start'));
    await h.client.unary('Cancel', { flow: 'slow', traceId });
    await eventually(() => sub.events.some((e) => e.eventType === 'trace_cancel_finish'));
    // A new run of the trace: once its node_success arrives, every event of the cancelled run has arrived too.
    await h.client.unary('Call', { flow: 'slow', message: { traceId, payload: value({ ms: 1 }) } }, { timeoutMs: 2000 });
    await eventually(() => sub.events.some((e) => e.eventType === 'node_success'));
    sub.stop();
    const types = sub.events.map((e) => e.eventType);
    expect(types.filter((t) => t === 'trace_cancel_start')).toHaveLength(1);
    expect(types.filter((t) => t === 'trace_cancel_finish')).toHaveLength(1);
    expect(types).toContain('node_trace_cancelled');
    expect(sub.events.find((e) => e.eventType === 'trace_cancel_start')?.traceCancelled).toBe(true);
  });

  it('does not replay another tenant\'s trace', async () => {
    const res = await h.client.unary('Call', { flow: 'echo', message: { payload: value(1) } }, { tenant: 'owner', timeoutMs: 2000 });
    const sub = subscribe({ traceIds: [res.traceId] }, 'intruder');
    await eventually(() => subscribersOf(h.server, 'intruder') === 1);
    // The intruder runs the same trace id in its own tenant: its events come live, after any replay.
    await h.client.unary('Call', { flow: 'echo', message: { traceId: res.traceId, payload: value(2) } }, { tenant: 'intruder', timeoutMs: 2000 });
    await eventually(() => sub.events.some((e) => e.eventType === 'node_success'));
    sub.stop();
    expect(sub.events.map((e) => [e.tenant, e.eventType, Number(e.seq)])).toEqual([
      ['intruder', 'node_start', 1],
      ['intruder', 'node_success', 2],
    ]);
  });
});
