/**
 * Tenant isolation: traces are keyed by (tenant, trace id), and another
 * tenant's trace is indistinguishable from one that does not exist.
 */
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorDetails, grpcError } from './helpers/client.js';
import { payloadOf, startHarness, value, type Harness } from './helpers/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h.stop();
});

describe('tenants', () => {
  it('lets two tenants use the same trace id without colliding', async () => {
    const traceId = 'same-id';
    await h.client.unary('Emit', { flow: 'echo', message: { traceId, payload: value('from-a') } }, { tenant: 'a' });
    await h.client.unary('Emit', { flow: 'echo', message: { traceId, payload: value('from-b') } }, { tenant: 'b' });
    const a = await h.client.unary('Fetch', { flow: 'echo', traceId }, { tenant: 'a', timeoutMs: 2000 });
    const b = await h.client.unary('Fetch', { flow: 'echo', traceId }, { tenant: 'b', timeoutMs: 2000 });
    expect(a.result.case === 'output' ? [payloadOf(a.result.value), a.result.value.headers?.tenant] : undefined).toEqual(['from-a', 'a']);
    expect(b.result.case === 'output' ? [payloadOf(b.result.value), b.result.value.headers?.tenant] : undefined).toEqual(['from-b', 'b']);
  });

  it('answers another tenant\'s trace exactly like an unknown one, on every RPC', async () => {
    const { traceId } = await h.client.unary('Emit', { flow: 'slow', message: { payload: value({ ms: 2000 }) } }, { tenant: 'owner' });
    const probes = async (id: string): Promise<grpc.ServiceError[]> => [
      await grpcError(h.client.unary('Fetch', { flow: 'slow', traceId: id }, { tenant: 'intruder', timeoutMs: 1000 })),
      await grpcError(h.client.unary('Cancel', { flow: 'slow', traceId: id }, { tenant: 'intruder' })),
      await grpcError(h.client.unary('GetHistory', { flow: 'slow', traceId: id }, { tenant: 'intruder' })),
      (await h.client.collect('StreamTrace', { flow: 'slow', traceId: id }, { tenant: 'intruder', timeoutMs: 1000 })).error!,
    ];
    const foreign = await probes(traceId);
    const unknown = await probes('f'.repeat(32));
    for (let i = 0; i < foreign.length; i++) {
      expect(foreign[i]!.code).toBe(grpc.status.NOT_FOUND);
      expect(unknown[i]!.code).toBe(grpc.status.NOT_FOUND);
      expect(foreign[i]!.details.replace(traceId, 'ID')).toBe(unknown[i]!.details.replace('f'.repeat(32), 'ID'));
      expect(errorDetails(foreign[i]!).errorInfo?.reason).toBe(errorDetails(unknown[i]!).errorInfo?.reason);
    }
    // The owner's trace was not disturbed by any of it.
    expect((await h.client.unary('Cancel', { flow: 'slow', traceId }, { tenant: 'owner' })).cancelled).toBe(true);
  });

  it('uses tenant "default" when no x-tenant-id is sent', async () => {
    const res = await h.client.unary('Call', { flow: 'echo', message: { payload: value(1) } }, { timeoutMs: 2000 });
    expect(res.result.case === 'output' ? res.result.value.headers?.tenant : undefined).toBe('default');
    await h.client.unary('Fetch', { flow: 'echo', traceId: res.traceId }, { tenant: 'default', timeoutMs: 2000 });
  });

  it('accepts a message whose headers.tenant equals the caller\'s', async () => {
    const res = await h.client.unary('Call', { flow: 'echo', message: { payload: value(1), headers: { tenant: 'acme', topic: 't', priority: 3 } } }, { tenant: 'acme', timeoutMs: 2000 });
    const headers = res.result.case === 'output' ? res.result.value.headers : undefined;
    expect(headers).toMatchObject({ tenant: 'acme', topic: 't', priority: 3 });
  });
});
