/**
 * Shutdown: health turns NOT_SERVING, open-ended streams end UNAVAILABLE,
 * in-flight calls may finish within the drain timeout, the rest are cut
 * off with UNAVAILABLE.
 */
import * as grpc from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';
import { describe, expect, it } from 'vitest';
import type { CallStreamResponse } from '../../src/gen/penguiflow/v1/flow_service_pb.js';
import { grpcError } from './helpers/client.js';
import { eventually, payloadOf, startHarness, subscribersOf, value } from './helpers/harness.js';
import { opsGet } from './helpers/ops.js';

describe('graceful shutdown', () => {
  it('turns health NOT_SERVING, ends SubscribeEvents with UNAVAILABLE and lets an in-flight Call finish', async () => {
    const h = await startHarness();
    const Health = grpc.makeClientConstructor(healthService, 'Health');
    const health = new Health(h.address, grpc.credentials.createInsecure()) as unknown as grpc.Client & {
      watch(req: { service: string }): grpc.ClientReadableStream<{ status: string }>;
    };
    const statuses: string[] = [];
    const watch = health.watch({ service: 'penguiflow.v1.FlowService' });
    watch.on('data', (m: { status: string }) => statuses.push(m.status));
    watch.on('error', () => undefined);
    await eventually(() => statuses.includes('SERVING'));

    const sub = h.client.stream('SubscribeEvents', {}, { timeoutMs: 30_000 });
    const subEnded = new Promise<grpc.ServiceError | undefined>((resolve) => {
      sub.on('error', (e: grpc.ServiceError) => resolve(e));
      sub.on('end', () => resolve(undefined));
    });
    sub.on('data', () => undefined);
    await eventually(() => subscribersOf(h.server) === 1);

    const inflight = h.client.unary('Call', { flow: 'slow', message: { payload: value({ ms: 200 }) } }, { timeoutMs: 5000 });
    await eventually(() => h.server.flows.get('slow').tracesInFlight === 1);
    const closed = h.server.close({ drainTimeoutMs: 400 });
    await eventually(() => statuses.includes('NOT_SERVING'));
    expect((await subEnded)?.code).toBe(grpc.status.UNAVAILABLE);
    const res = await inflight;
    expect(res.result.case === 'output' ? payloadOf(res.result.value) : res.result.case).toEqual({ sleptMs: 200 });
    await closed;
    health.close();
    h.client.close();
  });

  it('refuses new calls once draining', async () => {
    const h = await startHarness();
    const blocker = h.client.stream('CallStream', { flow: 'stream', message: { payload: value({ chunks: 1000, delayMs: 20 }) } }, { timeoutMs: 10_000 });
    let chunks = 0;
    blocker.on('data', () => chunks++);
    blocker.on('error', () => undefined);
    await eventually(() => chunks > 0);
    const closed = h.server.close({ drainTimeoutMs: 300 });
    await eventually(async () => JSON.parse((await opsGet(h.server.opsPort, '/readyz')).body).checks.draining === 'draining');
    const late = h.newClient();
    const err = await grpcError(late.unary('ListFlows', {}, { timeoutMs: 1000 }));
    expect(err.code).toBe(grpc.status.UNAVAILABLE);
    await closed;
    late.close();
    h.client.close();
  });

  it('cuts off calls still running at the drain timeout with UNAVAILABLE, then stops the flows', async () => {
    const h = await startHarness();
    const call = h.client.stream('CallStream', { flow: 'stream', message: { payload: value({ chunks: 1000, delayMs: 20 }) } }, { timeoutMs: 10_000 });
    const got: CallStreamResponse[] = [];
    call.on('data', (m: CallStreamResponse) => got.push(m));
    const ended = new Promise<grpc.ServiceError | undefined>((resolve) => {
      call.on('error', (e: grpc.ServiceError) => resolve(e));
      call.on('end', () => resolve(undefined));
    });
    await eventually(() => got.length > 0);
    const t0 = Date.now();
    await h.server.close({ drainTimeoutMs: 150 });
    expect(Date.now() - t0).toBeLessThan(2000);
    expect((await ended)?.code).toBe(grpc.status.UNAVAILABLE);
    expect(h.server.flows.get('stream').flow.running).toBe(false);
    h.client.close();
  });
});
