/** Every event type the runtime emits. */
export type FlowEventType =
  | 'node_start'
  | 'node_success'
  | 'node_error'
  | 'node_timeout'
  | 'node_retry'
  | 'node_failed'
  | 'deadline_skip'
  | 'trace_cancel_start'
  | 'trace_cancel_drop'
  | 'trace_cancel_finish'
  | 'node_trace_cancelled';

/** The closed list of {@link FlowEventType} values, for validation and docs. */
export const FLOW_EVENT_TYPES: readonly FlowEventType[] = [
  'node_start',
  'node_success',
  'node_error',
  'node_timeout',
  'node_retry',
  'node_failed',
  'deadline_skip',
  'trace_cancel_start',
  'trace_cancel_drop',
  'trace_cancel_finish',
  'node_trace_cancelled',
];

/** Fields of a {@link FlowEvent}. */
export interface FlowEventInit {
  eventType: FlowEventType;
  ts: number;
  nodeName: string | undefined;
  nodeId: string | undefined;
  traceId: string | undefined;
  attempt: number;
  latencyMs: number | undefined;
  queueDepthIn: number;
  queueDepthOut: number;
  outgoingEdges: number;
  queueMaxsize: number;
  tracePending: number | undefined;
  traceInflight: number | undefined;
  traceCancelled: boolean;
  extra: Record<string, unknown>;
}

/**
 * One runtime observation: a node started, succeeded, failed, retried, a
 * message was skipped for its deadline, or a trace's cancellation progressed.
 *
 * Events never carry message payloads, so they are safe to log and export;
 * `extra` holds small diagnostic fields (error type and message, backoff).
 */
export class FlowEvent {
  readonly eventType: FlowEventType;
  /** Epoch milliseconds. */
  readonly ts: number;
  readonly nodeName: string | undefined;
  readonly nodeId: string | undefined;
  readonly traceId: string | undefined;
  /** 0-based attempt number of the invocation. */
  readonly attempt: number;
  /** Invocation latency for node_success / node_error / node_timeout / node_failed. */
  readonly latencyMs: number | undefined;
  /** Messages waiting on the node's incoming edges. */
  readonly queueDepthIn: number;
  /** Messages waiting on the node's outgoing edges. */
  readonly queueDepthOut: number;
  readonly outgoingEdges: number;
  readonly queueMaxsize: number;
  /** Messages of the trace queued, running or being routed anywhere in the flow. */
  readonly tracePending: number | undefined;
  /** Node attempts of the trace running now (a retry backoff counts as one). */
  readonly traceInflight: number | undefined;
  readonly traceCancelled: boolean;
  readonly extra: Record<string, unknown>;

  constructor(init: FlowEventInit) {
    this.eventType = init.eventType;
    this.ts = init.ts;
    this.nodeName = init.nodeName;
    this.nodeId = init.nodeId;
    this.traceId = init.traceId;
    this.attempt = init.attempt;
    this.latencyMs = init.latencyMs;
    this.queueDepthIn = init.queueDepthIn;
    this.queueDepthOut = init.queueDepthOut;
    this.outgoingEdges = init.outgoingEdges;
    this.queueMaxsize = init.queueMaxsize;
    this.tracePending = init.tracePending;
    this.traceInflight = init.traceInflight;
    this.traceCancelled = init.traceCancelled;
    this.extra = init.extra;
  }

  /** Sum of incoming and outgoing queue depth. */
  get queueDepthTotal(): number {
    return this.queueDepthIn + this.queueDepthOut;
  }

  /**
   * A flat JSON-safe record with snake_case keys (PenguiFlow's shape, so log
   * pipelines built for it keep working); `extra` keys are merged last but
   * never override a core field.
   */
  toPayload(): Record<string, unknown> {
    const core: Record<string, unknown> = {
      event: this.eventType,
      ts: this.ts,
      node_name: this.nodeName ?? null,
      node_id: this.nodeId ?? null,
      trace_id: this.traceId ?? null,
      attempt: this.attempt,
      latency_ms: this.latencyMs ?? null,
      q_depth_in: this.queueDepthIn,
      q_depth_out: this.queueDepthOut,
      q_depth_total: this.queueDepthTotal,
      outgoing: this.outgoingEdges,
      queue_maxsize: this.queueMaxsize,
      trace_pending: this.tracePending ?? null,
      trace_inflight: this.traceInflight ?? null,
      trace_cancelled: this.traceCancelled,
    };
    return { ...this.extra, ...core };
  }

  /**
   * Numeric samples for metrics exporters. Never includes the trace id: it
   * would explode label cardinality.
   */
  metricSamples(): Record<string, number> {
    const samples: Record<string, number> = {
      queue_depth_in: this.queueDepthIn,
      queue_depth_out: this.queueDepthOut,
      queue_depth_total: this.queueDepthTotal,
      outgoing_edges: this.outgoingEdges,
      queue_maxsize: this.queueMaxsize,
      attempt: this.attempt,
      trace_cancelled: this.traceCancelled ? 1 : 0,
    };
    if (this.latencyMs !== undefined) samples.latency_ms = this.latencyMs;
    if (this.tracePending !== undefined) samples.trace_pending = this.tracePending;
    if (this.traceInflight !== undefined) samples.trace_inflight = this.traceInflight;
    return samples;
  }

  /**
   * Low-cardinality tags for metrics and span attributes: event type, node
   * name and node id. The trace id is deliberately absent.
   */
  tagValues(): Record<string, string> {
    return {
      event_type: this.eventType,
      node_name: this.nodeName ?? '',
      node_id: this.nodeId ?? '',
    };
  }
}

/**
 * Observes every {@link FlowEvent}. Called synchronously in emission order;
 * a returned promise is not awaited (a slow exporter never stalls a node).
 * Throwing or rejecting is logged and ignored.
 */
export type Middleware = (event: FlowEvent) => void | Promise<void>;
