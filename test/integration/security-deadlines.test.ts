/**
 * Deadlines and cancellation over the wire: the gRPC deadline of Emit, Call
 * and CallStream becomes the message deadline that node code sees (through
 * the message and `ctx.signal`); a Call/CallStream client that goes away
 * cancels its trace (PENGUIFLOW_CANCEL_ON_DISCONNECT), confirmed by
 * `trace_cancel_finish`; Fetch/StreamTrace deadlines bound only the wait.
 */
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { create, Node, type Context, type Message } from '../../src/runtime/index.js';
import { defineFlow } from '../../src/server/index.js';
import { sleep as abortableSleep } from '../../src/flows/abortable-sleep.js';
import { grpcError, type TestClient } from './helpers/client.js';
import { eventually, payloadOf, startHarness, value, type Harness } from './helpers/harness.js';

/** What the probe node saw of each trace, by client trace id. */
interface Observation {
  deadline: number | undefined;
  started: number;
  abortedAt?: number;
  finished?: number;
}
const seen = new Map<string, Observation>();

/** Sleeps payload.ms honouring ctx.signal and records the message deadline and the abort. */
const probeFlow = defineFlow({
  name: 'probe',
  build: ({ queueMaxsize }) => {
    const node = new Node(
      async (msg: Message, ctx: Context) => {
        const o: Observation = { deadline: msg.deadline, started: Date.now() };
        seen.set(msg.traceId, o);
        ctx.signal.addEventListener('abort', () => (o.abortedAt = Date.now()), { once: true });
        const ms = (msg.payload as { ms?: number }).ms ?? 5000;
        await abortableSleep(ms, ctx.signal);
        o.finished = Date.now();
        return { ...msg, payload: { sleptMs: ms } };
      },
      { name: 'probe', policy: { maxConcurrency: 64 } },
    );
    return create([node.to()], { queueMaxsize });
  },
});

const historyTypes = async (c: TestClient, flow: string, traceId: string, tenant: string): Promise<string[]> =>
  (await c.unary('GetHistory', { flow, traceId }, { tenant })).events.map((e) => e.eventType);

describe('deadlines and disconnects', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ auth: 'header' }, { flows: [probeFlow] });
  });
  afterAll(async () => {
    await h.stop();
  });

  it('a slow Call with a 100 ms deadline ends DEADLINE_EXCEEDED long before the node would, and the node sees the abort', async () => {
    const traceId = 'deadline-call';
    const t0 = Date.now();
    const err = await grpcError(h.client.unary('Call', { flow: 'probe', message: { traceId, payload: value({ ms: 10_000 }) } }, { tenant: 'd', timeoutMs: 100 }));
    const elapsed = Date.now() - t0;
    expect(err.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    expect(elapsed).toBeLessThan(5_000); // the node's natural end is 10 s away
    await eventually(() => seen.get(traceId)?.abortedAt !== undefined, 5000);
    const o = seen.get(traceId)!;
    // The node got the call's deadline as its message deadline...
    expect(o.deadline).toBeDefined();
    expect(Math.abs(o.deadline! - (t0 + 100))).toBeLessThan(1000);
    // ...its signal aborted, and it never finished its sleep.
    expect(o.abortedAt! - o.started).toBeLessThan(5_000);
    expect(o.finished).toBeUndefined();
    await eventually(async () => {
      const types = await historyTypes(h.client, 'probe', traceId, 'd');
      return ['node_timeout', 'trace_cancel_finish', 'deadline_skip'].some((t) => types.includes(t));
    }, 5000);
  });

  it('a slow demo-flow Call with a 100 ms deadline ends DEADLINE_EXCEEDED and its history shows the node stopped', async () => {
    const traceId = 'deadline-slow';
    const t0 = Date.now();
    const err = await grpcError(h.client.unary('Call', { flow: 'slow', message: { traceId, payload: value({ ms: 10_000 }) } }, { tenant: 'd', timeoutMs: 100 }));
    expect(err.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    expect(Date.now() - t0).toBeLessThan(5_000);
    await eventually(async () => {
      const types = await historyTypes(h.client, 'slow', traceId, 'd');
      return ['node_timeout', 'trace_cancel_finish', 'deadline_skip'].some((t) => types.includes(t));
    }, 5000);
    const types = await historyTypes(h.client, 'slow', traceId, 'd');
    expect(types).not.toContain('node_success');
  });

  it('the message deadline is the earlier of the gRPC deadline and Message.deadline', async () => {
    const soon = Date.now() + 400;
    const later = Date.now() + 60_000;
    await h.client.unary('Emit', { flow: 'probe', message: { traceId: 'earlier-own', payload: value({ ms: 1 }), deadline: { seconds: BigInt(Math.floor(soon / 1000)), nanos: (soon % 1000) * 1e6 } } }, { tenant: 'd', timeoutMs: 20_000 });
    const t1 = Date.now();
    await h.client.unary('Emit', { flow: 'probe', message: { traceId: 'earlier-grpc', payload: value({ ms: 1 }), deadline: { seconds: BigInt(Math.floor(later / 1000)), nanos: 0 } } }, { tenant: 'd', timeoutMs: 5_000 });
    await h.client.unary('Emit', { flow: 'probe', message: { traceId: 'no-deadline', payload: value({ ms: 1 }) } }, { tenant: 'd' });
    await eventually(() => seen.has('earlier-own') && seen.has('earlier-grpc') && seen.has('no-deadline'), 5000);
    expect(seen.get('earlier-own')!.deadline).toBe(soon);
    expect(Math.abs(seen.get('earlier-grpc')!.deadline! - (t1 + 5_000))).toBeLessThan(1000);
    expect(seen.get('no-deadline')!.deadline).toBeUndefined();
  });

  it('an Emit\'s deadline keeps bounding the trace after Emit returned', async () => {
    const traceId = 'emit-deadline';
    await h.client.unary('Emit', { flow: 'probe', message: { traceId, payload: value({ ms: 10_000 }) } }, { tenant: 'd', timeoutMs: 300 });
    await eventually(() => seen.get(traceId)?.abortedAt !== undefined, 5000);
    expect(seen.get(traceId)!.finished).toBeUndefined();
  });

  it.each(['Call', 'CallStream'] as const)('a %s client that cancels cancels the trace (trace_cancel_finish)', async (rpc) => {
    const traceId = `disconnect-${rpc}`;
    const request = { flow: 'probe', message: { traceId, payload: value({ ms: 20_000 }) } };
    const metadata = new grpc.Metadata();
    metadata.set('x-tenant-id', 'd');
    let call: { cancel(): void };
    let ended: Promise<grpc.status>;
    if (rpc === 'Call') {
      ended = new Promise((resolve) => {
        call = h.client.raw.Call!(request, metadata, (err: grpc.ServiceError | null) => resolve(err?.code ?? grpc.status.OK)) as { cancel(): void };
      });
    } else {
      const stream = h.client.stream('CallStream', request, { tenant: 'd' });
      call = stream;
      ended = new Promise((resolve) => {
        stream.on('error', (e: grpc.ServiceError) => resolve(e.code));
        stream.on('end', () => resolve(grpc.status.OK));
        stream.on('data', () => undefined);
      });
    }
    // No deadline anywhere: only the disconnect can stop this trace.
    await eventually(() => seen.has(traceId), 5000);
    expect(seen.get(traceId)!.deadline).toBeUndefined();
    call!.cancel();
    expect(await ended).toBe(grpc.status.CANCELLED);
    await eventually(() => seen.get(traceId)?.abortedAt !== undefined, 5000);
    await eventually(async () => (await historyTypes(h.client, 'probe', traceId, 'd')).includes('trace_cancel_finish'), 5000);
    expect(seen.get(traceId)!.finished).toBeUndefined();
  });

  it('Fetch and StreamTrace deadlines bound only the wait, never the trace', async () => {
    const traceId = 'bounded-wait';
    await h.client.unary('Emit', { flow: 'probe', message: { traceId, payload: value({ ms: 800 }) } }, { tenant: 'd' });
    const fetchErr = await grpcError(h.client.unary('Fetch', { flow: 'probe', traceId }, { tenant: 'd', timeoutMs: 100 }));
    expect(fetchErr.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    const streamed = await h.client.collect('StreamTrace', { flow: 'probe', traceId }, { tenant: 'd', timeoutMs: 100 });
    expect(streamed.error?.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    const res = await h.client.unary('Fetch', { flow: 'probe', traceId }, { tenant: 'd', timeoutMs: 10_000 });
    expect(res.result.case === 'output' ? payloadOf(res.result.value) : res.result.case).toEqual({ sleptMs: 800 });
    expect(seen.get(traceId)!.abortedAt).toBeUndefined();
  });
});

describe('PENGUIFLOW_CANCEL_ON_DISCONNECT=false', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ auth: 'header', cancelOnDisconnect: false }, { flows: [probeFlow] });
  });
  afterAll(async () => {
    await h.stop();
  });

  it('a cancelled Call leaves its trace running to its end', async () => {
    const traceId = 'keep-running';
    const metadata = new grpc.Metadata();
    metadata.set('x-tenant-id', 'k');
    const ended = new Promise<grpc.status>((resolve) => {
      const call = h.client.raw.Call!({ flow: 'probe', message: { traceId, payload: value({ ms: 600 }) } }, metadata, (err: grpc.ServiceError | null) => resolve(err?.code ?? grpc.status.OK)) as { cancel(): void };
      void eventually(() => seen.has(traceId) && seen.get(traceId)!.finished === undefined, 5000).then(() => call.cancel());
    });
    expect(await ended).toBe(grpc.status.CANCELLED);
    await eventually(() => seen.get(traceId)?.finished !== undefined, 5000);
    expect(seen.get(traceId)!.abortedAt).toBeUndefined();
    // The node's success is the trace's last event: a cancellation would be logged before it.
    await eventually(async () => (await historyTypes(h.client, 'probe', traceId, 'k')).includes('node_success'));
    expect(await historyTypes(h.client, 'probe', traceId, 'k')).not.toContain('trace_cancel_finish');
  });
});
