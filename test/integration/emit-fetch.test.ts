/**
 * Emit and Fetch: admission, trace ids, delivery order, and the "never
 * hangs" guarantees for finished, failed and cancelled traces.
 */
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TraceStatus } from '../../src/gen/penguiflow/v1/messages_pb.js';
import { grpcError } from './helpers/client.js';
import { payloadOf, startHarness, value, type Harness } from './helpers/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h.stop();
});

describe('Emit', () => {
  it('returns a generated 32-hex trace id when the message has none', async () => {
    const res = await h.client.unary('Emit', { flow: 'echo', message: { payload: value('x') } });
    expect(res.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(res.deduplicated).toBe(false);
  });

  it('keeps a caller-chosen trace id', async () => {
    const res = await h.client.unary('Emit', { flow: 'echo', message: { traceId: 'order-42:v1', payload: value(1) } });
    expect(res.traceId).toBe('order-42:v1');
  });

  it('loses nothing between Emit and a later Fetch', async () => {
    const { traceId } = await h.client.unary('Emit', { flow: 'stream', message: { payload: value({ chunks: 3 }) } });
    const kinds: string[] = [];
    const texts: string[] = [];
    for (;;) {
      const res = await h.client.unary('Fetch', { flow: 'stream', traceId }, { timeoutMs: 2000 });
      kinds.push(res.result.case ?? 'none');
      if (res.result.case === 'chunk') texts.push(res.result.value.text);
      if (res.result.case === 'end') break;
    }
    expect(kinds).toEqual(['chunk', 'chunk', 'chunk', 'output', 'end']);
    expect(texts).toEqual(['chunk-0 ', 'chunk-1 ', 'chunk-2 ']);
  });

  it('fills headers.tenant from the caller and keeps the client trace id on outputs', async () => {
    const { traceId } = await h.client.unary('Emit', { flow: 'echo', message: { payload: value({ a: 1 }), meta: { k: 'v' } } }, { tenant: 'acme' });
    const res = await h.client.unary('Fetch', { flow: 'echo', traceId }, { tenant: 'acme', timeoutMs: 2000 });
    expect(res.result.case).toBe('output');
    const out = res.result.case === 'output' ? res.result.value : undefined;
    expect(out?.headers?.tenant).toBe('acme');
    expect(out?.traceId).toBe(traceId);
    expect(payloadOf(out)).toEqual({ a: 1 });
    expect(out?.meta).toEqual({ k: 'v' });
  });

  it('adds a message to a running trace when its id is emitted again', async () => {
    const traceId = 'two-messages';
    await h.client.unary('Emit', { flow: 'slow', message: { traceId, payload: value({ ms: 150 }) } });
    await h.client.unary('Emit', { flow: 'slow', message: { traceId, payload: value({ ms: 10 }) } });
    const outputs: unknown[] = [];
    for (;;) {
      const res = await h.client.unary('Fetch', { flow: 'slow', traceId }, { timeoutMs: 3000 });
      if (res.result.case === 'end') break;
      outputs.push(payloadOf(res.result.case === 'output' ? res.result.value : undefined));
    }
    expect(outputs).toHaveLength(2);
    expect(outputs).toContainEqual({ sleptMs: 10 });
    expect(outputs).toContainEqual({ sleptMs: 150 });
  });

  it('starts a new run when the id of an ended trace is emitted again', async () => {
    const traceId = 'rerun';
    await h.client.unary('Call', { flow: 'echo', message: { traceId, payload: value('first') } }, { timeoutMs: 2000 });
    expect((await h.client.unary('Fetch', { flow: 'echo', traceId }, { timeoutMs: 2000 })).result.case).toBe('end');
    await h.client.unary('Emit', { flow: 'echo', message: { traceId, payload: value('second') } });
    const res = await h.client.unary('Fetch', { flow: 'echo', traceId }, { timeoutMs: 2000 });
    expect(res.result.case === 'output' ? payloadOf(res.result.value) : res.result.case).toBe('second');
  });
});

describe('Fetch', () => {
  it('serves concurrent fetches one output each, never the same one twice', async () => {
    const { traceId } = await h.client.unary('Emit', { flow: 'stream', message: { payload: value({ chunks: 6, delayMs: 5 }) } });
    const results = await Promise.all(Array.from({ length: 7 }, () => h.client.unary('Fetch', { flow: 'stream', traceId }, { timeoutMs: 3000 })));
    const chunks = results.flatMap((r) => (r.result.case === 'chunk' ? [Number(r.result.value.seq)] : []));
    expect(chunks.sort()).toEqual([0, 1, 2, 3, 4, 5]);
    expect(results.filter((r) => r.result.case === 'output')).toHaveLength(1);
  });

  it('answers end immediately, and again, for a completed trace whose outputs were taken', async () => {
    const call = await h.client.unary('Call', { flow: 'echo', message: { payload: value('x') } }, { timeoutMs: 2000 });
    for (let i = 0; i < 2; i++) {
      const t0 = Date.now();
      const res = await h.client.unary('Fetch', { flow: 'echo', traceId: call.traceId }, { timeoutMs: 5000 });
      expect(Date.now() - t0).toBeLessThan(1000);
      expect(res.result.case).toBe('end');
      expect(res.result.case === 'end' ? res.result.value.status : undefined).toBe(TraceStatus.COMPLETED);
    }
  });

  it('answers the FlowError then a FAILED end at once for a failed trace', async () => {
    const { traceId } = await h.client.unary('Emit', { flow: 'flaky', message: { payload: value({ failures: 10 }) } });
    const first = await h.client.unary('Fetch', { flow: 'flaky', traceId }, { timeoutMs: 3000 });
    expect(first.result.case).toBe('error');
    const error = first.result.case === 'error' ? first.result.value : undefined;
    expect(error?.nodeName).toBe('flaky');
    expect(error?.traceId).toBe(traceId);
    expect(error?.metadata).toEqual({ attempts: 4 });
    const t0 = Date.now();
    const end = await h.client.unary('Fetch', { flow: 'flaky', traceId }, { timeoutMs: 5000 });
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(end.result.case === 'end' ? end.result.value.status : undefined).toBe(TraceStatus.FAILED);
    expect(end.result.case === 'end' ? end.result.value.error?.message : undefined).toBe('flaky failure 4 of 10');
  });

  it('answers CANCELLED at once for a cancelled trace, and wakes a waiting Fetch', async () => {
    const { traceId } = await h.client.unary('Emit', { flow: 'slow', message: { payload: value({ ms: 60_000 }) } });
    const waiting = grpcError(h.client.unary('Fetch', { flow: 'slow', traceId }, { timeoutMs: 10_000 }));
    const cancel = await h.newClient().unary('Cancel', { flow: 'slow', traceId });
    expect(cancel.cancelled).toBe(true);
    expect((await waiting).code).toBe(grpc.status.CANCELLED);
    const t0 = Date.now();
    const again = await grpcError(h.client.unary('Fetch', { flow: 'slow', traceId }, { timeoutMs: 5000 }));
    expect(again.code).toBe(grpc.status.CANCELLED);
    expect(Date.now() - t0).toBeLessThan(1000);
  });

  it('times out with DEADLINE_EXCEEDED without cancelling the trace; a later Fetch gets the output', async () => {
    const { traceId } = await h.client.unary('Emit', { flow: 'slow', message: { payload: value({ ms: 300 }) } });
    const err = await grpcError(h.client.unary('Fetch', { flow: 'slow', traceId }, { timeoutMs: 50 }));
    expect(err.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    const res = await h.client.unary('Fetch', { flow: 'slow', traceId }, { timeoutMs: 3000 });
    expect(res.result.case === 'output' ? payloadOf(res.result.value) : res.result.case).toEqual({ sleptMs: 300 });
  });

  it('reports DEADLINE_EXCEEDED as the end of a trace whose message deadline passed', async () => {
    const past = { seconds: BigInt(Math.floor(Date.now() / 1000) - 60), nanos: 0 };
    const { traceId } = await h.client.unary('Emit', { flow: 'echo', message: { payload: value('late'), deadline: past } });
    const out = await h.client.unary('Fetch', { flow: 'echo', traceId }, { timeoutMs: 2000 });
    expect(out.result.case === 'output' ? payloadOf(out.result.value) : out.result.case).toEqual({ text: 'Deadline exceeded', citations: [] });
    const end = await h.client.unary('Fetch', { flow: 'echo', traceId }, { timeoutMs: 2000 });
    expect(end.result.case === 'end' ? end.result.value.status : undefined).toBe(TraceStatus.DEADLINE_EXCEEDED);
  });

  it('merges the Emit call deadline into the message deadline', async () => {
    const { traceId } = await h.client.unary('Emit', { flow: 'slow', message: { payload: value({ ms: 10_000 }) } }, { timeoutMs: 300 });
    const out = await h.client.unary('Fetch', { flow: 'slow', traceId }, { timeoutMs: 3000 });
    expect(out.result.case === 'output' ? payloadOf(out.result.value) : out.result.case).toEqual({ text: 'Deadline exceeded', citations: [] });
  });
});

describe('Cancel', () => {
  it('returns cancelled=false for a finished trace and for a second cancel', async () => {
    const call = await h.client.unary('Call', { flow: 'echo', message: { payload: value(1) } }, { timeoutMs: 2000 });
    expect((await h.client.unary('Cancel', { flow: 'echo', traceId: call.traceId })).cancelled).toBe(false);
    const { traceId } = await h.client.unary('Emit', { flow: 'slow', message: { payload: value({ ms: 60_000 }) } });
    expect((await h.client.unary('Cancel', { flow: 'slow', traceId })).cancelled).toBe(true);
    expect((await h.client.unary('Cancel', { flow: 'slow', traceId })).cancelled).toBe(false);
  });

  it('leaves other traces running', async () => {
    const a = await h.client.unary('Emit', { flow: 'slow', message: { payload: value({ ms: 200 }) } });
    const b = await h.client.unary('Emit', { flow: 'slow', message: { payload: value({ ms: 60_000 }) } });
    await h.client.unary('Cancel', { flow: 'slow', traceId: b.traceId });
    const res = await h.client.unary('Fetch', { flow: 'slow', traceId: a.traceId }, { timeoutMs: 3000 });
    expect(res.result.case).toBe('output');
  });
});
