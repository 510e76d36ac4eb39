/**
 * Admission control: per-tenant in-flight quota (PENGUIFLOW_TENANT_MAX_INFLIGHT)
 * with the admission wait (PENGUIFLOW_ADMISSION_WAIT_MS). A tenant flooding
 * a flow holds at most its quota of the flow's slots; its surplus waits in
 * its own line and then gets RESOURCE_EXHAUSTED with RetryInfo, QuotaFailure
 * and `grpc-retry-pushback-ms`, while another tenant's calls go through.
 */
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { create, Node, type Context, type Message } from '../../src/runtime/index.js';
import { defineFlow } from '../../src/server/index.js';
import { sleep as abortableSleep } from '../../src/flows/abortable-sleep.js';
import { errorDetails, grpcError, type TestClient } from './helpers/client.js';
import { eventually, startHarness, value, type Harness } from './helpers/harness.js';

/** Eight workers and a short queue: a shared, saturable flow. */
const workFlow = defineFlow({
  name: 'work',
  build: () => {
    const node = new Node(
      async (msg: Message, ctx: Context) => {
        await abortableSleep((msg.payload as { ms: number }).ms, ctx.signal);
        return msg;
      },
      { name: 'work', policy: { maxConcurrency: 8 } },
    );
    return create([node.to()], { queueMaxsize: 4 });
  },
});

const FLOOD = 40;
const NOISY_MS = 2500;

/** Tenant A's flood: FLOOD concurrent Calls that each hold a worker for NOISY_MS. */
function flood(c: TestClient): Promise<(grpc.ServiceError | undefined)[]> {
  return Promise.all(
    Array.from({ length: FLOOD }, (_, i) =>
      c.unary('Call', { flow: 'work', message: { traceId: `a-${i}`, payload: value({ ms: NOISY_MS }) } }, { tenant: 'tenant-a', timeoutMs: 20_000 }).then(
        () => undefined,
        (err: grpc.ServiceError) => err,
      ),
    ),
  );
}

describe('noisy neighbour with a per-tenant quota', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ auth: 'header', tenantMaxInflight: 4, admissionWaitMs: 300 }, { flows: [workFlow] });
  });
  afterAll(async () => {
    await h.stop();
  });

  it('tenant B\'s calls succeed within their deadline while tenant A saturates; A\'s surplus gets RESOURCE_EXHAUSTED with retry details', async () => {
    const a = h.newClient();
    const floodDone = flood(a);
    // A is at its quota and has a line of waiters.
    await eventually(async () => {
      const r = await h.client.unary('Fetch', { flow: 'work', traceId: 'a-0' }, { tenant: 'tenant-a', timeoutMs: 50 }).catch((e: grpc.ServiceError) => e);
      return !(r instanceof Error) || r.code !== grpc.status.NOT_FOUND;
    }, 5000).catch(() => undefined);
    const latencies: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t0 = Date.now();
      const res = await h.client.unary('Call', { flow: 'work', message: { payload: value({ ms: 5 }) } }, { tenant: 'tenant-b', timeoutMs: 2000 });
      latencies.push(Date.now() - t0);
      expect(res.result.case).toBe('output');
    }
    // B never waited for one of A's 2.5 s traces.
    expect(Math.max(...latencies)).toBeLessThan(2000);

    const results = await floodDone;
    const ok = results.filter((r) => r === undefined).length;
    const refused = results.filter((r): r is grpc.ServiceError => r !== undefined);
    expect(ok).toBeGreaterThanOrEqual(4);
    expect(refused.length).toBeGreaterThan(0);
    for (const err of refused) {
      expect(err.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
      const d = errorDetails(err);
      expect(d.errorInfo?.reason).toBe('TENANT_QUOTA_EXCEEDED');
      expect(Number(d.retryInfo?.retryDelay?.seconds ?? 0n) * 1000 + (d.retryInfo?.retryDelay?.nanos ?? 0) / 1e6).toBeGreaterThan(0);
      expect(d.quotaFailure?.violations.map((v) => v.subject)).toEqual(['tenant:tenant-a']);
      expect(Number(err.metadata.get('grpc-retry-pushback-ms')[0])).toBeGreaterThan(0);
    }
  }, 30_000);

  it('frees a tenant\'s slots when its traces end (no leak)', async () => {
    for (let i = 0; i < 3; i++) {
      const batch = Array.from({ length: 4 }, () => h.client.unary('Call', { flow: 'work', message: { payload: value({ ms: 1 }) } }, { tenant: 'tenant-c', timeoutMs: 5000 }));
      await Promise.all(batch);
    }
    // A trace emitted after all of that still gets in at once.
    await h.client.unary('Emit', { flow: 'work', message: { payload: value({ ms: 1 }) } }, { tenant: 'tenant-c', timeoutMs: 1000 });
  });

  it('a message joining a running trace of the tenant takes no extra slot', async () => {
    const ids = ['j-0', 'j-1', 'j-2', 'j-3'];
    for (const id of ids) await h.client.unary('Emit', { flow: 'work', message: { traceId: id, payload: value({ ms: 1000 }) } }, { tenant: 'tenant-j' });
    // At quota: another message to a running trace is admitted, a new trace is not.
    await h.client.unary('Emit', { flow: 'work', message: { traceId: 'j-0', payload: value({ ms: 1 }) } }, { tenant: 'tenant-j', timeoutMs: 2000 });
    const err = await grpcError(h.client.unary('Emit', { flow: 'work', message: { traceId: 'j-new', payload: value({ ms: 1 }) } }, { tenant: 'tenant-j', timeoutMs: 5000 }));
    expect(err.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    for (const id of ids) await h.client.unary('Cancel', { flow: 'work', traceId: id }, { tenant: 'tenant-j' });
  });
});

describe('the same flood without a tenant quota (control)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ auth: 'header', tenantMaxInflight: 0, admissionWaitMs: 300 }, { flows: [workFlow] });
  });
  afterAll(async () => {
    await h.stop();
  });

  it('tenant B queues behind A\'s flood and is refused at the ingress (flow:work) — what the quota prevents', async () => {
    const floodDone = flood(h.newClient());
    // Workers busy, ingress queue full, more of A's emits waiting behind it.
    await eventually(() => h.server.flows.get('work').stats().runtime.blockedEmits > 0, 5000);
    const err = await grpcError(h.client.unary('Call', { flow: 'work', message: { payload: value({ ms: 5 }) } }, { tenant: 'tenant-b', timeoutMs: 2000 }));
    expect([grpc.status.RESOURCE_EXHAUSTED, grpc.status.DEADLINE_EXCEEDED]).toContain(err.code);
    if (err.code === grpc.status.RESOURCE_EXHAUSTED) {
      expect(errorDetails(err).quotaFailure?.violations.map((v) => v.subject)).toEqual(['flow:work']);
      expect(err.metadata.get('grpc-retry-pushback-ms')).toHaveLength(1);
    }
    await floodDone;
  }, 30_000);
});
