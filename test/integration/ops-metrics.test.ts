/**
 * Prometheus metrics on the ops port after real traffic: names, labels,
 * per-server registries, and no trace id or payload in any label.
 */
import * as grpc from '@grpc/grpc-js';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { grpcError } from './helpers/client.js';
import { eventually, handledCount, startHarness, value, type Harness } from './helpers/harness.js';
import { opsGet, samples, scrape, total } from './helpers/ops.js';

const TRACE_IDS = ['metrics-trace-aaaaaaaa', 'metrics-trace-bbbbbbbb', 'metrics-trace-cccccccc'];
const CANARY = 'canary-payload-7f3a91';

describe('metrics', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness();
    await h.client.unary('Call', { flow: 'chain5', message: { traceId: TRACE_IDS[0], payload: value({ n: 1, secret: CANARY }) } }, { timeoutMs: 5000 });
    await h.client.unary('Call', { flow: 'flaky', message: { traceId: TRACE_IDS[1], payload: value({ failures: 1 }) } }, { timeoutMs: 5000 });
    // A cancelled trace, a deadline skip and a failed RPC.
    const emitted = await h.client.unary('Emit', { flow: 'slow', message: { traceId: TRACE_IDS[2], payload: value({ ms: 5000 }) } }, { timeoutMs: 5000 });
    await h.client.unary('Cancel', { flow: 'slow', traceId: emitted.traceId }, { timeoutMs: 5000 });
    await h.client.unary('Call', { flow: 'echo', message: { payload: value(1), deadline: timestampFromMs(Date.now() - 1000) } }, { timeoutMs: 5000 });
    const err = await grpcError(h.client.unary('Call', { flow: 'no-such-flow', message: { payload: value(1) } }, { timeoutMs: 5000 }));
    expect(err.code).toBe(grpc.status.NOT_FOUND);
  });

  afterAll(async () => {
    await h.stop();
  });

  it('serves the Prometheus text format on /metrics of the ops port', async () => {
    const res = await opsGet(h.server.opsPort, '/metrics');
    expect(res.status).toBe(200);
    expect(res.contentType).toContain('text/plain');
    for (const name of [
      'penguiflow_node_events_total',
      'penguiflow_node_latency_ms',
      'penguiflow_queue_depth',
      'penguiflow_trace_cancel_start_total',
      'penguiflow_trace_cancel_finish_total',
      'penguiflow_deadline_skip_total',
      'penguiflow_traces_inflight',
      'grpc_server_started_total',
      'grpc_server_handled_total',
      'grpc_server_handling_seconds',
      'process_cpu_user_seconds_total',
      'nodejs_eventloop_lag_seconds',
    ]) {
      expect(res.body, name).toContain(`# TYPE ${name} `);
    }
  });

  it('derives node metrics from FlowEvents', async () => {
    const { samples: all } = await scrape(h.server.opsPort);
    for (let i = 1; i <= 5; i++) {
      expect(total(all, 'penguiflow_node_events_total', { flow: 'chain5', node: `hop${i}`, event_type: 'node_start' })).toBeGreaterThanOrEqual(1);
      expect(total(all, 'penguiflow_node_events_total', { flow: 'chain5', node: `hop${i}`, event_type: 'node_success' })).toBeGreaterThanOrEqual(1);
      expect(total(all, 'penguiflow_node_latency_ms_count', { flow: 'chain5', node: `hop${i}`, outcome: 'success' })).toBeGreaterThanOrEqual(1);
      for (const direction of ['in', 'out', 'total']) {
        expect(samples(all, 'penguiflow_queue_depth', { flow: 'chain5', node: `hop${i}`, direction })).toHaveLength(1);
      }
    }
    expect(total(all, 'penguiflow_node_events_total', { flow: 'flaky', event_type: 'node_error' })).toBeGreaterThanOrEqual(1);
    expect(total(all, 'penguiflow_node_events_total', { flow: 'flaky', event_type: 'node_retry' })).toBeGreaterThanOrEqual(1);
    expect(total(all, 'penguiflow_node_latency_ms_count', { flow: 'flaky', outcome: 'error' })).toBeGreaterThanOrEqual(1);
    expect(total(all, 'penguiflow_trace_cancel_start_total', { flow: 'slow' })).toBe(1);
    await eventually(async () => total((await scrape(h.server.opsPort)).samples, 'penguiflow_trace_cancel_finish_total', { flow: 'slow' }) === 1);
    expect(total(all, 'penguiflow_deadline_skip_total', { flow: 'echo' })).toBe(1);
    // Histogram buckets are cumulative and end with +Inf == count.
    const buckets = samples(all, 'penguiflow_node_latency_ms_bucket', { flow: 'chain5', node: 'hop1', outcome: 'success' });
    expect(buckets.at(-1)!.labels.le).toBe('+Inf');
    expect(buckets.at(-1)!.value).toBe(total(all, 'penguiflow_node_latency_ms_count', { flow: 'chain5', node: 'hop1', outcome: 'success' }));
    for (let i = 1; i < buckets.length; i++) expect(buckets[i]!.value).toBeGreaterThanOrEqual(buckets[i - 1]!.value);
  });

  it('counts RPCs in the go-grpc-prometheus convention', async () => {
    const { samples: all } = await scrape(h.server.opsPort);
    const svc = { grpc_service: 'penguiflow.v1.FlowService' };
    expect(total(all, 'grpc_server_started_total', { ...svc, grpc_method: 'Call', grpc_type: 'unary' })).toBe(4);
    expect(total(all, 'grpc_server_handled_total', { ...svc, grpc_method: 'Call', grpc_code: 'OK' })).toBe(3);
    expect(total(all, 'grpc_server_handled_total', { ...svc, grpc_method: 'Call', grpc_code: 'NotFound' })).toBe(1);
    expect(total(all, 'grpc_server_handled_total', { ...svc, grpc_method: 'Cancel', grpc_code: 'OK' })).toBe(1);
    expect(total(all, 'grpc_server_handling_seconds_count', { ...svc, grpc_method: 'Call' })).toBe(4);
    // Every method has its zero series from the start, with its type.
    expect(samples(all, 'grpc_server_started_total', { ...svc, grpc_method: 'SubscribeEvents', grpc_type: 'server_stream' })).toHaveLength(1);
    expect(samples(all, 'grpc_server_started_total', { ...svc, grpc_method: 'ListFlows', grpc_type: 'unary' })).toHaveLength(1);
  });

  it('reports traces in flight per flow', async () => {
    const call = h.client.unary('Call', { flow: 'slow', message: { payload: value({ ms: 400 }) } }, { timeoutMs: 5000 });
    await eventually(async () => total((await scrape(h.server.opsPort)).samples, 'penguiflow_traces_inflight', { flow: 'slow' }) === 1);
    await call;
    await eventually(async () => total((await scrape(h.server.opsPort)).samples, 'penguiflow_traces_inflight', { flow: 'slow' }) === 0);
  });

  it('never puts a trace id, a payload or a tenant in a label by default', async () => {
    const { text, samples: all } = await scrape(h.server.opsPort);
    for (const id of TRACE_IDS) expect(text).not.toContain(id);
    expect(text).not.toContain(CANARY);
    expect(text).not.toContain('\u001f');
    for (const s of all) expect(Object.keys(s.labels)).not.toContain('tenant');
    for (const s of all) expect(Object.keys(s.labels)).not.toContain('trace_id');
  });

  it('keeps one registry per server', async () => {
    const other = await startHarness();
    try {
      const { samples: all } = await scrape(other.server.opsPort);
      expect(total(all, 'penguiflow_node_events_total')).toBe(0);
      expect(total(all, 'grpc_server_started_total')).toBe(0);
      expect(other.server.opsPort).not.toBe(h.server.opsPort);
    } finally {
      await other.stop();
    }
  });
});

describe('metrics with PENGUIFLOW_METRICS_TENANT_LABEL=true', () => {
  it('labels node and handled metrics by tenant, never queue gauges', async () => {
    const h = await startHarness({ metricsTenantLabel: true });
    try {
      await h.client.unary('Call', { flow: 'echo', message: { payload: value(1) } }, { tenant: 'acme', timeoutMs: 5000 });
      await h.client.unary('Call', { flow: 'echo', message: { payload: value(1) } }, { tenant: 'globex', timeoutMs: 5000 });
      // The handled counter moves when the response is sent, possibly after the client has it.
      await eventually(async () => (await handledCount(h.server, 'Call')) === 2);
      const { samples: all } = await scrape(h.server.opsPort);
      expect(total(all, 'penguiflow_node_events_total', { flow: 'echo', event_type: 'node_success', tenant: 'acme' })).toBe(1);
      expect(total(all, 'penguiflow_node_events_total', { flow: 'echo', event_type: 'node_success', tenant: 'globex' })).toBe(1);
      expect(total(all, 'grpc_server_handled_total', { grpc_method: 'Call', grpc_code: 'OK', tenant: 'acme' })).toBe(1);
      for (const s of samples(all, 'penguiflow_queue_depth')) expect(s.labels.tenant).toBeUndefined();
    } finally {
      await h.stop();
    }
  });
});
