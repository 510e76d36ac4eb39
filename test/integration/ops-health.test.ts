/**
 * Lifecycle in process: /healthz, /readyz and gRPC health agree — at start,
 * when a readiness check fails and recovers, and through a drain.
 */
import { describe, expect, it } from 'vitest';
import { eventually, payloadOf, startHarness, value } from './helpers/harness.js';
import { healthCheck, healthClient, opsGet } from './helpers/ops.js';

const SERVICES = ['', 'penguiflow.v1.FlowService'];

describe('health endpoints', () => {
  it('report alive and ready, consistently with gRPC health, and follow readiness checks', async () => {
    let storeOk = true;
    let storeThrows = false;
    const h = await startHarness(
      {},
      {
        readinessChecks: [
          {
            name: 'store',
            check: () => {
              if (storeThrows) throw new Error('connection refused');
              return Promise.resolve(storeOk);
            },
          },
        ],
      },
    );
    const health = healthClient(h.address);
    try {
      expect((await opsGet(h.server.opsPort, '/healthz')).status).toBe(200);
      const ready = await opsGet(h.server.opsPort, '/readyz');
      expect(ready.status).toBe(200);
      expect(JSON.parse(ready.body)).toEqual({ status: 'ready', checks: { started: 'ok', draining: 'ok', flows: 'ok', store: 'ok' } });
      for (const s of SERVICES) expect(await healthCheck(health, s)).toBe('SERVING');
      expect(await healthCheck(health, 'no.such.Service')).toBe('error:5');
      expect((await opsGet(h.server.opsPort, '/nope')).status).toBe(404);

      storeOk = false;
      const down = await opsGet(h.server.opsPort, '/readyz');
      expect(down.status).toBe(503);
      expect(JSON.parse(down.body)).toMatchObject({ status: 'not ready', checks: { store: 'not ready' } });
      for (const s of SERVICES) expect(await healthCheck(health, s)).toBe('NOT_SERVING');
      expect((await opsGet(h.server.opsPort, '/healthz')).status).toBe(200);

      storeThrows = true;
      expect(JSON.parse((await opsGet(h.server.opsPort, '/readyz')).body).checks.store).toBe('failed: Error');

      // Recovery is picked up by the background poll alone (no probe).
      storeThrows = false;
      storeOk = true;
      await eventually(async () => (await healthCheck(health, '')) === 'SERVING', 6000);
      expect((await opsGet(h.server.opsPort, '/readyz')).status).toBe(200);
    } finally {
      health.close();
      await h.stop();
    }
  });
});

describe('drain', () => {
  it('turns /readyz and gRPC health NOT_SERVING at once, keeps /healthz and /metrics, finishes in-flight work', async () => {
    const h = await startHarness();
    const health = healthClient(h.address);
    const statuses: Record<string, string[]> = { '': [], 'penguiflow.v1.FlowService': [] };
    const watches = SERVICES.map((s) => {
      const w = health.watch({ service: s });
      w.on('data', (m: { status: string }) => statuses[s]!.push(m.status));
      w.on('error', () => undefined);
      return w;
    });
    try {
      await eventually(() => SERVICES.every((s) => statuses[s]!.includes('SERVING')));
      const inflight = h.client.unary('Call', { flow: 'slow', message: { payload: value({ ms: 800 }) } }, { timeoutMs: 10_000 });
      const emitted = await h.client.unary('Emit', { flow: 'slow', message: { payload: value({ ms: 900 }) } }, { timeoutMs: 5000 });
      expect(emitted.traceId).not.toBe('');
      // The Call's trace is admitted too: both run when the drain starts.
      await eventually(() => h.server.flows.get('slow').tracesInFlight === 2);
      const t0 = Date.now();
      const closed = h.server.close({ drainTimeoutMs: 8000 });
      const ready = await opsGet(h.server.opsPort, '/readyz');
      expect(ready.status).toBe(503);
      expect(JSON.parse(ready.body).checks.draining).toBe('draining');
      await eventually(() => SERVICES.every((s) => statuses[s]!.at(-1) === 'NOT_SERVING'));
      expect((await opsGet(h.server.opsPort, '/healthz')).status).toBe(200);
      expect((await opsGet(h.server.opsPort, '/metrics')).status).toBe(200);

      const res = await inflight;
      expect(res.result.case === 'output' ? payloadOf(res.result.value) : res.result.case).toEqual({ sleptMs: 800 });
      await closed;
      // The Emit-only trace was allowed to finish too, well within the timeout.
      expect(Date.now() - t0).toBeGreaterThanOrEqual(700);
      expect(Date.now() - t0).toBeLessThan(5000);
      const samples = (await h.server.metrics.render()).split('\n');
      expect(samples.find((l) => l.startsWith('penguiflow_node_events_total{flow="slow",node="wait",event_type="node_success"}'))).toMatch(/ 2$/);
      // The ops port is closed once stopped.
      await expect(opsGet(h.server.opsPort, '/healthz')).rejects.toThrow();
    } finally {
      for (const w of watches) w.cancel();
      health.close();
      h.client.close();
    }
  });

  it('counts a call that finished during the drain as handled OK', async () => {
    const h = await startHarness();
    try {
      const blocker = h.client.unary('Call', { flow: 'slow', message: { payload: value({ ms: 400 }) } }, { timeoutMs: 5000 });
      await eventually(() => h.server.flows.get('slow').tracesInFlight === 1);
      const closed = h.server.close({ drainTimeoutMs: 3000 });
      await blocker;
      await closed;
      const all = (await h.server.metrics.render()).split('\n');
      expect(all.some((l) => l.startsWith('grpc_server_handled_total') && l.includes('grpc_method="Call"') && l.includes('grpc_code="OK"') && l.endsWith(' 1'))).toBe(true);
    } finally {
      h.client.close();
    }
  });
});
