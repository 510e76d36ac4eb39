/**
 * Call: one round trip, its answers for every way a trace can end, and
 * what happens to the trace when the caller goes away.
 */
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FlowErrorCode, TraceStatus } from '../../src/gen/penguiflow/v1/messages_pb.js';
import { errorDetails, grpcError } from './helpers/client.js';
import { eventually, payloadOf, startHarness, value, type Harness } from './helpers/harness.js';
import { blockingFlow, failingFlow, oddOutputFlow, silentFlow } from './helpers/test-flows.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness({}, { flows: [failingFlow, silentFlow, oddOutputFlow, blockingFlow] });
});
afterAll(async () => {
  await h.stop();
});

async function historyTypes(flow: string, traceId: string): Promise<string[]> {
  const res = await h.client.unary('GetHistory', { flow, traceId });
  return res.events.map((e) => e.eventType);
}

describe('Call', () => {
  it('returns the first output of echo, chain5 and fanout', async () => {
    const echo = await h.client.unary('Call', { flow: 'echo', message: { payload: value({ hello: 'world' }) } }, { timeoutMs: 2000 });
    expect(echo.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(echo.result.case === 'output' ? payloadOf(echo.result.value) : echo.result.case).toEqual({ hello: 'world' });
    const chain = await h.client.unary('Call', { flow: 'chain5', message: { payload: value([1, 2]) } }, { timeoutMs: 2000 });
    expect(chain.result.case === 'output' ? payloadOf(chain.result.value) : chain.result.case).toEqual([1, 2]);
    const fan = await h.client.unary('Call', { flow: 'fanout', message: { payload: value('q') } }, { timeoutMs: 2000 });
    expect(fan.result.case === 'output' ? payloadOf(fan.result.value) : fan.result.case).toEqual({ input: 'q', results: [0, 1, 2, 3] });
  });

  it('skips chunks and returns the stream flow\'s final message', async () => {
    const res = await h.client.unary('Call', { flow: 'stream', message: { payload: value({ chunks: 3 }) } }, { timeoutMs: 2000 });
    expect(res.result.case === 'output' ? payloadOf(res.result.value) : res.result.case).toEqual({ text: 'chunk-0 chunk-1 chunk-2 ', chunks: 3 });
  });

  it('retries flaky until it succeeds', async () => {
    const res = await h.client.unary('Call', { flow: 'flaky', message: { payload: value({ failures: 2 }) } }, { timeoutMs: 3000 });
    expect(res.result.case === 'output' ? payloadOf(res.result.value) : res.result.case).toEqual({ attempts: 3 });
  });

  it('answers OK with the FlowError when a node fails for good (error delivered as an output)', async () => {
    const res = await h.client.unary('Call', { flow: 'flaky', message: { payload: value({ failures: 99 }) } }, { timeoutMs: 3000 });
    expect(res.result.case).toBe('error');
    const err = res.result.case === 'error' ? res.result.value : undefined;
    expect(err?.code).toBe(FlowErrorCode.NODE_EXCEPTION);
    expect(err?.exceptionType).toBe('Error');
    expect(err?.traceId).toBe(res.traceId);
  });

  it('answers OK with the FlowError when a failing trace ends without output', async () => {
    const res = await h.client.unary('Call', { flow: 'failing', message: { payload: value(null) } }, { timeoutMs: 3000 });
    expect(res.result.case).toBe('error');
    const err = res.result.case === 'error' ? res.result.value : undefined;
    expect(err?.message).toBe('boom');
    expect(err?.exceptionType).toBe('TypeError');
    expect(err?.nodeName).toBe('explode');
    const end = await h.client.unary('Fetch', { flow: 'failing', traceId: res.traceId }, { timeoutMs: 2000 });
    expect(end.result.case === 'end' ? end.result.value.status : undefined).toBe(TraceStatus.FAILED);
  });

  it('answers at once with no result when the trace completes without output', async () => {
    const t0 = Date.now();
    const res = await h.client.unary('Call', { flow: 'silent', message: { payload: value(1) } }, { timeoutMs: 5000 });
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(res.result.case).toBeUndefined();
    expect(res.traceId).not.toBe('');
  });

  it('encodes outputs that are not plain JSON instead of failing', async () => {
    const res = await h.client.unary('Call', { flow: 'odd', message: { payload: value(1) } }, { timeoutMs: 2000 });
    expect(res.result.case === 'output' ? payloadOf(res.result.value) : res.result.case).toEqual({
      big: '12',
      when: '1970-01-01T00:00:00.000Z',
      cyclic: { name: 'loop', self: null },
      nan: null,
    });
  });

  it('passes binary bodies through as bytes', async () => {
    const bytes = new Uint8Array([0, 1, 2, 250]);
    const res = await h.client.unary('Call', { flow: 'echo', message: { binary: bytes } }, { timeoutMs: 2000 });
    expect(res.result.case === 'output' ? [...res.result.value.binary] : res.result.case).toEqual([0, 1, 2, 250]);
    expect(res.result.case === 'output' ? res.result.value.payload : 'x').toBeUndefined();
  });

  it('fails with DEADLINE_EXCEEDED at the call deadline and stops the trace', async () => {
    const traceId = 'call-deadline';
    const t0 = Date.now();
    const err = await grpcError(h.client.unary('Call', { flow: 'slow', message: { traceId, payload: value({ ms: 60_000 }) } }, { timeoutMs: 150 }));
    expect(err.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    // The call deadline is also the message deadline, so several things
    // race at the same millisecond: the server cancelling the abandoned
    // trace, the runtime ending it for its deadline (node_timeout tagged
    // DEADLINE_EXCEEDED), or, on a
    // loaded machine, the message reaching the node already late
    // (deadline_skip) or the call arriving too late to be emitted at all
    // (no history). Whichever wins, the 60 s of work never complete.
    const STOPPED = ['trace_cancel_finish', 'node_timeout', 'deadline_skip'];
    const stoppedTypes = async (): Promise<string[] | undefined> => {
      try {
        return await historyTypes('slow', traceId);
      } catch (e) {
        if ((e as grpc.ServiceError).code === grpc.status.NOT_FOUND) return undefined;
        throw e;
      }
    };
    await eventually(async () => {
      const types = await stoppedTypes();
      return types === undefined || types.some((t) => STOPPED.includes(t));
    });
    expect(Date.now() - t0).toBeLessThan(2500);
    const types = await stoppedTypes();
    expect(types ?? []).not.toContain('node_success');
    if (types?.includes('trace_cancel_finish')) {
      expect((await grpcError(h.client.unary('Fetch', { flow: 'slow', traceId }, { timeoutMs: 2000 }))).code).toBe(grpc.status.CANCELLED);
    } else if (types !== undefined) {
      const out = await h.client.unary('Fetch', { flow: 'slow', traceId }, { timeoutMs: 2000 });
      expect(out.result.case === 'output' ? payloadOf(out.result.value) : out.result.case).toEqual({ text: 'Deadline exceeded', citations: [] });
    }
  });

  it('cancels the trace when the call deadline passes (deterministic: the message waits in a queue)', async () => {
    // `blocking` runs one message at a time and holds it until cancelled.
    // The Emit's message occupies it with no deadline; the Call's message
    // then waits on the edge, where no deadline timer runs, so only the
    // call deadline can end this and the server must cancel the trace.
    const traceId = 'call-deadline-cancels';
    await h.client.unary('Emit', { flow: 'blocking', message: { traceId, payload: value(1) } });
    const err = await grpcError(h.client.unary('Call', { flow: 'blocking', message: { traceId, payload: value(2) } }, { timeoutMs: 150 }));
    expect(err.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    await eventually(async () => (await historyTypes('blocking', traceId)).includes('trace_cancel_finish'));
    expect((await grpcError(h.client.unary('Fetch', { flow: 'blocking', traceId }, { timeoutMs: 2000 }))).code).toBe(grpc.status.CANCELLED);
  });

  it('cancels the trace when the client cancels the call', async () => {
    const traceId = 'call-client-cancel';
    const { metadata } = { metadata: new grpc.Metadata() };
    const call = h.client.raw.Call!.call(h.client.raw, { flow: 'slow', message: { traceId, payload: value({ ms: 60_000 }) } }, metadata, {}, () => undefined) as grpc.ClientUnaryCall;
    await eventually(async () => (await h.client.unary('GetHistory', { flow: 'slow', traceId }).catch(() => ({ events: [] }))).events.length > 0);
    call.cancel();
    await eventually(async () => (await historyTypes('slow', traceId)).includes('trace_cancel_finish'));
  });

  it('fails with CANCELLED when another caller cancels the trace', async () => {
    const traceId = 'call-cancelled-elsewhere';
    const pending = grpcError(h.client.unary('Call', { flow: 'slow', message: { traceId, payload: value({ ms: 60_000 }) } }, { timeoutMs: 10_000 }));
    await eventually(async () => (await h.newClient().unary('Cancel', { flow: 'slow', traceId }).catch(() => ({ cancelled: false }))).cancelled);
    const err = await pending;
    expect(err.code).toBe(grpc.status.CANCELLED);
    expect(errorDetails(err).errorInfo?.reason).toBe('TRACE_CANCELLED');
    expect(errorDetails(err).errorInfo?.domain).toBe('penguiflow.dev');
  });
});

describe('Call with PENGUIFLOW_CANCEL_ON_DISCONNECT=false', () => {
  it('keeps the trace running after the call deadline', async () => {
    const h2 = await startHarness({ cancelOnDisconnect: false });
    try {
      const traceId = 'keep-running';
      const err = await grpcError(h2.client.unary('Call', { flow: 'slow', message: { traceId, payload: value({ ms: 400 }) } }, { timeoutMs: 100 }));
      expect(err.code).toBe(grpc.status.DEADLINE_EXCEEDED);
      // The message deadline (the call's) passed too, so the trace ends with the deadline answer, not a cancel.
      const out = await h2.client.unary('Fetch', { flow: 'slow', traceId }, { timeoutMs: 3000 });
      expect(out.result.case).toBe('output');
      const history = await h2.client.unary('GetHistory', { flow: 'slow', traceId });
      expect(history.events.map((e) => e.eventType)).not.toContain('trace_cancel_start');
    } finally {
      await h2.stop();
    }
  });
});
