/**
 * Prometheus metrics: derived from FlowEvents (per hosted flow) and from the
 * gRPC layer (go-grpc-prometheus names), plus process metrics, in one
 * registry per server (several servers can share a process).
 *
 * The hot path (every FlowEvent, every RPC) touches only cached series
 * objects — a Map lookup and a few additions, no label hashing, no
 * allocation once a series exists; prom-client renders them at scrape time
 * through the {@link Registry}.
 *
 * No label ever carries a trace id, a payload or another unbounded value:
 * flow and node names come from the hosted graphs, methods and codes from
 * closed sets; `tenant` only when explicitly enabled.
 */
import { collectDefaultMetrics, Registry, type Metric } from 'prom-client';
import type { FlowEvent, FlowEventType, Middleware } from '../runtime/index.js';
import { runNext, whenSettled, type Interceptor } from '../rpc/interceptor.js';
import type { ServiceErrorCode } from '../rpc/service-error.js';

/** Buckets of `penguiflow_node_latency_ms` (milliseconds). */
export const NODE_LATENCY_BUCKETS_MS: readonly number[] = [1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000, 60_000];
/** Buckets of `grpc_server_handling_seconds` (Prometheus' default buckets, as go-grpc-prometheus uses). */
export const GRPC_HANDLING_BUCKETS_S: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

type Labels = Record<string, string>;

interface MetricValue {
  labels: Labels;
  value: number;
  metricName?: string;
}

interface MetricData {
  name: string;
  help: string;
  type: 'counter' | 'gauge' | 'histogram';
  values: MetricValue[];
  aggregator: 'sum';
}

/** One series of a counter or gauge: add to or set `value` directly. */
export interface ScalarSeries {
  readonly labels: Labels;
  value: number;
}

/** One series of a histogram; record with {@link observe}. */
export interface HistogramSeries {
  readonly labels: Labels;
  readonly bounds: readonly number[];
  /** Per-bucket (non-cumulative) counts; the last slot is +Inf. */
  readonly counts: number[];
  sum: number;
  count: number;
}

/** Records `value` into a histogram series. */
export function observe(series: HistogramSeries, value: number): void {
  const bounds = series.bounds;
  let i = 0;
  while (i < bounds.length && value > bounds[i]!) i++;
  series.counts[i]!++;
  series.sum += value;
  series.count++;
}

/**
 * A metric whose series are plain objects the caller keeps: prom-client's
 * own metric classes hash their labels on every update, too slow for a
 * per-event path. Registered in a prom-client {@link Registry} by duck
 * typing (`name`, `get`, `reset`).
 */
abstract class FastMetric<S extends { labels: Labels }> {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly string[];
  readonly aggregator = 'sum' as const;
  protected readonly series = new Map<string, S>();
  /** Called before each scrape (e.g. to refresh gauges from their source). */
  collect: (() => void) | undefined;

  constructor(name: string, help: string, labelNames: readonly string[]) {
    this.name = name;
    this.help = help;
    this.labelNames = labelNames;
  }

  /** The series for `values` (in `labelNames` order), created on first use. Cache the result on hot paths. */
  child(...values: string[]): S {
    const key = values.join('\u0001');
    let s = this.series.get(key);
    if (s === undefined) {
      const labels: Labels = {};
      this.labelNames.forEach((n, i) => (labels[n] = values[i] ?? ''));
      s = this.create(labels);
      this.series.set(key, s);
    }
    return s;
  }

  reset(): void {
    this.series.clear();
  }

  protected abstract create(labels: Labels): S;
  abstract get(): MetricData;
}

class ScalarMetric extends FastMetric<ScalarSeries> {
  readonly type: 'counter' | 'gauge';
  constructor(type: 'counter' | 'gauge', name: string, help: string, labelNames: readonly string[]) {
    super(name, help, labelNames);
    this.type = type;
  }
  protected create(labels: Labels): ScalarSeries {
    return { labels, value: 0 };
  }
  get(): MetricData {
    this.collect?.();
    return { name: this.name, help: this.help, type: this.type, aggregator: 'sum', values: [...this.series.values()].map((s) => ({ labels: s.labels, value: s.value })) };
  }
}

class HistogramMetric extends FastMetric<HistogramSeries> {
  readonly type = 'histogram' as const;
  readonly bounds: readonly number[];
  constructor(name: string, help: string, labelNames: readonly string[], bounds: readonly number[]) {
    super(name, help, labelNames);
    this.bounds = bounds;
  }
  protected create(labels: Labels): HistogramSeries {
    return { labels, bounds: this.bounds, counts: new Array<number>(this.bounds.length + 1).fill(0), sum: 0, count: 0 };
  }
  get(): MetricData {
    this.collect?.();
    const values: MetricValue[] = [];
    for (const s of this.series.values()) {
      let acc = 0;
      this.bounds.forEach((b, i) => {
        acc += s.counts[i]!;
        values.push({ labels: { ...s.labels, le: String(b) }, value: acc, metricName: `${this.name}_bucket` });
      });
      values.push({ labels: { ...s.labels, le: '+Inf' }, value: s.count, metricName: `${this.name}_bucket` });
      values.push({ labels: s.labels, value: s.sum, metricName: `${this.name}_sum` });
      values.push({ labels: s.labels, value: s.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: 'histogram', aggregator: 'sum', values };
  }
}

/** Options of {@link ServerMetrics}. */
export interface ServerMetricsOptions {
  /** Add a `tenant` label to node event/latency, cancel/deadline and gRPC handled/handling metrics. */
  tenantLabel?: boolean;
  /** Register prom-client's process metrics (CPU, memory, event loop lag, GC, handles); default true. */
  processMetrics?: boolean;
}

/** Options of {@link ServerMetrics.flowMiddleware}. */
export interface FlowMetricsOptions {
  /** Tenant owning an event's trace (used only with the tenant label). */
  tenantOf?: (event: FlowEvent) => string | undefined;
}

/** gRPC method kinds in go-grpc-prometheus' `grpc_type` label. */
export type GrpcType = 'unary' | 'client_stream' | 'server_stream' | 'bidi_stream';

/** Options of {@link ServerMetrics.grpcInterceptor}. */
export interface GrpcMetricsOptions {
  /** Full service name, e.g. `penguiflow.v1.FlowService`. */
  service: string;
  /** Kind of each method by name; pre-creates their zero series. Unlisted methods count as unary. */
  methods: Readonly<Record<string, GrpcType>>;
}

interface NodeSeries {
  readonly events: Partial<Record<FlowEventType, ScalarSeries>>;
  readonly latency: { success?: HistogramSeries; error?: HistogramSeries; timeout?: HistogramSeries };
  readonly qIn: ScalarSeries;
  readonly qOut: ScalarSeries;
  readonly qTotal: ScalarSeries;
}

const LATENCY_OUTCOME: Partial<Record<FlowEventType, 'success' | 'error' | 'timeout'>> = {
  node_success: 'success',
  node_error: 'error',
  node_timeout: 'timeout',
};

/** Every metric of one server, in its own registry. */
export class ServerMetrics {
  readonly registry = new Registry();
  readonly tenantLabel: boolean;

  readonly nodeEvents: FastMetric<ScalarSeries>;
  readonly nodeLatency: FastMetric<HistogramSeries>;
  readonly queueDepth: FastMetric<ScalarSeries>;
  readonly cancelStart: FastMetric<ScalarSeries>;
  readonly cancelFinish: FastMetric<ScalarSeries>;
  readonly deadlineSkip: FastMetric<ScalarSeries>;
  readonly tracesInflight: FastMetric<ScalarSeries>;
  readonly grpcStarted: FastMetric<ScalarSeries>;
  readonly grpcHandled: FastMetric<ScalarSeries>;
  readonly grpcHandling: FastMetric<HistogramSeries>;

  constructor(opts: ServerMetricsOptions = {}) {
    this.tenantLabel = opts.tenantLabel ?? false;
    const t = this.tenantLabel ? ['tenant'] : [];
    this.nodeEvents = this.#add(new ScalarMetric('counter', 'penguiflow_node_events_total', 'FlowEvents per hosted flow, node and event type (node_start, node_success, node_error, node_timeout, node_retry, node_failed, …).', ['flow', 'node', 'event_type', ...t]));
    this.nodeLatency = this.#add(new HistogramMetric('penguiflow_node_latency_ms', 'Node invocation latency in milliseconds by outcome (success, error, timeout).', ['flow', 'node', 'outcome', ...t], NODE_LATENCY_BUCKETS_MS));
    this.queueDepth = this.#add(new ScalarMetric('gauge', 'penguiflow_queue_depth', 'Messages waiting on a node\'s incoming (in) and outgoing (out) edges and their sum (total), as of the node\'s last event.', ['flow', 'node', 'direction']));
    this.cancelStart = this.#add(new ScalarMetric('counter', 'penguiflow_trace_cancel_start_total', 'Trace cancellations started.', ['flow', ...t]));
    this.cancelFinish = this.#add(new ScalarMetric('counter', 'penguiflow_trace_cancel_finish_total', 'Trace cancellations finished.', ['flow', ...t]));
    this.deadlineSkip = this.#add(new ScalarMetric('counter', 'penguiflow_deadline_skip_total', 'Messages skipped because their deadline had passed before a node ran.', ['flow', ...t]));
    this.tracesInflight = this.#add(new ScalarMetric('gauge', 'penguiflow_traces_inflight', 'Traces admitted and not yet ended, per hosted flow.', ['flow']));
    this.grpcStarted = this.#add(new ScalarMetric('counter', 'grpc_server_started_total', 'Total number of RPCs started on the server.', ['grpc_type', 'grpc_service', 'grpc_method']));
    this.grpcHandled = this.#add(new ScalarMetric('counter', 'grpc_server_handled_total', 'Total number of RPCs completed on the server, regardless of success or failure.', ['grpc_type', 'grpc_service', 'grpc_method', 'grpc_code', ...t]));
    this.grpcHandling = this.#add(new HistogramMetric('grpc_server_handling_seconds', 'Histogram of response latency (seconds) of gRPC that had been application-level handled by the server.', ['grpc_type', 'grpc_service', 'grpc_method', ...t], GRPC_HANDLING_BUCKETS_S));
    if (opts.processMetrics ?? true) collectDefaultMetrics({ register: this.registry });
  }

  #add<M extends FastMetric<ScalarSeries> | FastMetric<HistogramSeries>>(metric: M): M {
    this.registry.registerMetric(metric as unknown as Metric);
    return metric;
  }

  /** Content type of {@link render}'s output. */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** The Prometheus text exposition of every metric. */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  /** Sets `penguiflow_traces_inflight` from `source` at every scrape. */
  trackInflight(source: () => Iterable<readonly [flow: string, inflight: number]>): void {
    this.tracesInflight.collect = () => {
      for (const [flow, n] of source()) this.tracesInflight.child(flow).value = n;
    };
  }

  /** A middleware deriving the penguiflow_* metrics from the FlowEvents of hosted flow `flow`. */
  flowMiddleware(flow: string, opts: FlowMetricsOptions = {}): Middleware {
    const tenantOf = this.tenantLabel ? (opts.tenantOf ?? (() => '')) : undefined;
    const nodes = new Map<string, NodeSeries>();
    const perFlow = new Map<string, { start: ScalarSeries; finish: ScalarSeries; skip: ScalarSeries }>();
    const flowSeries = (tenant: string): { start: ScalarSeries; finish: ScalarSeries; skip: ScalarSeries } => {
      let s = perFlow.get(tenant);
      if (s === undefined) {
        const labels = tenantOf === undefined ? [flow] : [flow, tenant];
        s = { start: this.cancelStart.child(...labels), finish: this.cancelFinish.child(...labels), skip: this.deadlineSkip.child(...labels) };
        perFlow.set(tenant, s);
      }
      return s;
    };
    const nodeSeries = (node: string, tenant: string): NodeSeries => {
      const key = tenantOf === undefined ? node : `${node}\u0001${tenant}`;
      let s = nodes.get(key);
      if (s === undefined) {
        s = {
          events: {},
          latency: {},
          qIn: this.queueDepth.child(flow, node, 'in'),
          qOut: this.queueDepth.child(flow, node, 'out'),
          qTotal: this.queueDepth.child(flow, node, 'total'),
        };
        nodes.set(key, s);
      }
      return s;
    };
    const extra = (tenant: string): string[] => (tenantOf === undefined ? [] : [tenant]);
    return (event) => {
      const tenant = tenantOf?.(event) ?? '';
      const type = event.eventType;
      if (type === 'trace_cancel_start') flowSeries(tenant).start.value++;
      else if (type === 'trace_cancel_finish') flowSeries(tenant).finish.value++;
      else if (type === 'deadline_skip') flowSeries(tenant).skip.value++;
      const node = event.nodeName;
      if (node === undefined) return;
      const s = nodeSeries(node, tenant);
      (s.events[type] ??= this.nodeEvents.child(flow, node, type, ...extra(tenant))).value++;
      const outcome = LATENCY_OUTCOME[type];
      if (outcome !== undefined && event.latencyMs !== undefined) {
        observe((s.latency[outcome] ??= this.nodeLatency.child(flow, node, outcome, ...extra(tenant))), event.latencyMs);
      }
      s.qIn.value = event.queueDepthIn;
      s.qOut.value = event.queueDepthOut;
      s.qTotal.value = event.queueDepthIn + event.queueDepthOut;
    };
  }

  /**
   * The interceptor counting RPCs in the go-grpc-prometheus convention:
   * `grpc_server_started_total` when a call starts, `grpc_server_handled_total`
   * (by status code) and `grpc_server_handling_seconds` when it ends.
   */
  grpcInterceptor(opts: GrpcMetricsOptions): Interceptor {
    const tenant = this.tenantLabel;
    interface MethodSeries {
      readonly type: GrpcType;
      readonly started: ScalarSeries;
      readonly handled: Map<string, ScalarSeries>;
      readonly handling: Map<string, HistogramSeries>;
    }
    const methods = new Map<string, MethodSeries>();
    const seriesOf = (method: string): MethodSeries => {
      let m = methods.get(method);
      if (m === undefined) {
        const type = opts.methods[method] ?? 'unary';
        m = { type, started: this.grpcStarted.child(type, opts.service, method), handled: new Map(), handling: new Map() };
        methods.set(method, m);
      }
      return m;
    };
    const finish = (m: MethodSeries, method: string, code: string, tenantName: string, seconds: number): void => {
      const key = tenant ? `${code}\u0001${tenantName}` : code;
      let h = m.handled.get(key);
      if (h === undefined) {
        h = this.grpcHandled.child(m.type, opts.service, method, code, ...(tenant ? [tenantName] : []));
        m.handled.set(key, h);
      }
      h.value++;
      const hk = tenant ? tenantName : '';
      let d = m.handling.get(hk);
      if (d === undefined) {
        d = this.grpcHandling.child(m.type, opts.service, method, ...(tenant ? [tenantName] : []));
        m.handling.set(hk, d);
      }
      observe(d, seconds);
    };
    // Zero series for every method, so rate() and absent() work before the first call.
    if (!tenant) {
      for (const method of Object.keys(opts.methods)) {
        const m = seriesOf(method);
        if (!m.handled.has('OK')) m.handled.set('OK', this.grpcHandled.child(m.type, opts.service, method, 'OK'));
        if (!m.handling.has('')) m.handling.set('', this.grpcHandling.child(m.type, opts.service, method));
      }
    }
    return (next) => (call) => {
      const m = seriesOf(call.method);
      m.started.value++;
      const t0 = performance.now();
      return whenSettled(runNext(next, call), (code) => finish(m, call.method, grpcCodeLabel(code), call.identity?.tenant ?? '', (performance.now() - t0) / 1000));
    };
  }
}

/** go-grpc-prometheus' `grpc_code` values: Go's `codes.Code.String()` names. */
const GO_CODE_NAMES: Readonly<Record<ServiceErrorCode, string>> = {
  INVALID_ARGUMENT: 'InvalidArgument',
  UNAUTHENTICATED: 'Unauthenticated',
  PERMISSION_DENIED: 'PermissionDenied',
  NOT_FOUND: 'NotFound',
  RESOURCE_EXHAUSTED: 'ResourceExhausted',
  DEADLINE_EXCEEDED: 'DeadlineExceeded',
  CANCELLED: 'Canceled',
  UNAVAILABLE: 'Unavailable',
  INTERNAL: 'Internal',
};

/** The `grpc_code` label of a failed call's code (`OK` for success), as go-grpc-prometheus spells it. */
export function grpcCodeLabel(code: ServiceErrorCode | 'OK'): string {
  return code === 'OK' ? 'OK' : GO_CODE_NAMES[code];
}
