/**
 * Plain-data types of the PenguiFlow client: what goes in and comes out of
 * every {@link FlowClient} method. Protobuf messages never leak out of the
 * client; these are the only shapes callers see.
 *
 * Conventions:
 * - Absolute times are epoch milliseconds (`number`), durations are
 *   milliseconds.
 * - Sequence numbers (`FlowEvent.seq`, `StreamChunk.seq`) are `number`s.
 *   They are per-trace counters starting at 0 or 1 and are exact up to
 *   `Number.MAX_SAFE_INTEGER` (2^53 - 1), far beyond any real trace.
 * - JSON travels as plain JS values ({@link JsonValue}).
 *
 * @packageDocumentation
 */

/**
 * Any JSON value: what `google.protobuf.Value` carries on the wire.
 *
 * Numbers must be finite (NaN and ±Infinity are rejected before sending,
 * because JSON cannot represent them).
 */
export type JsonValue = null | boolean | number | string | JsonValue[] | JsonObject;

/**
 * A JSON object: what `google.protobuf.Struct` carries on the wire
 * (`Message.meta`, `FlowError.metadata`, `FlowEvent.extra`).
 */
export interface JsonObject {
  [key: string]: JsonValue;
}

/**
 * Why a node failed for good; the string values equal the runtime's
 * `FlowErrorCode` and the proto enum names without the `FLOW_ERROR_CODE_`
 * prefix. An unset (`UNSPECIFIED`) or unknown code received from the server
 * is reported as `NODE_EXCEPTION`, as the contract prescribes.
 */
export type FlowErrorCode =
  | 'NODE_TIMEOUT'
  | 'NODE_EXCEPTION'
  | 'TRACE_CANCELLED'
  | 'DEADLINE_EXCEEDED'
  | 'HOP_BUDGET_EXHAUSTED'
  | 'TOKEN_BUDGET_EXHAUSTED';

/**
 * Final state of a trace, carried by {@link TraceEnd}. A conforming server
 * never sends `UNSPECIFIED`; it is kept (rather than guessed away) so that a
 * misbehaving server is visible to the caller.
 */
export type TraceStatus = 'COMPLETED' | 'FAILED' | 'CANCELLED' | 'DEADLINE_EXCEEDED' | 'UNSPECIFIED';

/** Routing and tenancy headers of an output {@link FlowMessage}. */
export interface MessageHeaders {
  /** Tenant that owns the message; always set on outputs. */
  tenant: string;
  /** Topic used by routers inside the flow; `''` = no topic. */
  topic: string;
  /** Priority (informational); `0` = default. */
  priority: number;
}

/**
 * An output message of a trace (returned by `fetch`, `call`, `callStream`,
 * `streamTrace`).
 *
 * Exactly one of `payload` / `binary` carries the body: for a binary body
 * `binary` is a `Uint8Array` and `payload` is `undefined`; for a JSON body
 * `payload` is the JSON value (which may be `null`) and `binary` is
 * `undefined`. If the server sent neither, both are `undefined`.
 */
export interface FlowMessage {
  /** JSON body, or `undefined` when the body is binary or absent. */
  payload: JsonValue | undefined;
  /** Binary body, or `undefined` when the body is JSON (or empty). */
  binary: Uint8Array | undefined;
  /** Routing and tenancy headers (defaults filled in when the server omitted them). */
  headers: MessageHeaders;
  /** Trace the message belongs to. */
  traceId: string;
  /** Creation time, epoch ms; `undefined` only if the server omitted it. */
  ts: number | undefined;
  /** Absolute deadline, epoch ms; `undefined` = no deadline. */
  deadline: number | undefined;
  /** Free-form metadata; `{}` when none. */
  meta: JsonObject;
}

/**
 * One piece of a streamed answer produced by a streaming node.
 * Chunks of one `streamId` arrive in `seq` order (0, 1, 2, …), restarting
 * at 0 after a chunk with `done: true`.
 */
export interface StreamChunk {
  /** Stream within the trace; defaults to the trace id on the server side. */
  streamId: string;
  /** Position in the stream (see the type's description). */
  seq: number;
  /** Text of this piece; may be `''` (e.g. on the final `done` chunk). */
  text: string;
  /** True on the last chunk of the stream. */
  done: boolean;
  /** Node-attached metadata; `{}` when none. */
  meta: JsonObject;
}

/**
 * A node failed for good. This is data, not an exception: the RPC that
 * returned it succeeded. Compare {@link FlowClientError}, which is thrown
 * when the RPC itself fails.
 */
export interface FlowError {
  /** Machine-readable reason. */
  code: FlowErrorCode;
  /** Human-readable description, safe to show. */
  message: string;
  /** Trace the failure belongs to. */
  traceId: string;
  /** Node that failed; `''` if not attributable to a node. */
  nodeName: string;
  /** Stable id of the node that failed; `''` if not attributable. */
  nodeId: string;
  /** Diagnostic data (e.g. attempts, timeout_ms); `{}` when none. */
  metadata: JsonObject;
  /** Class name of the original error (e.g. `TypeError`); `''` if unknown. */
  exceptionType: string;
}

/** How a trace ended: always the last {@link TraceUpdate} of a stream. */
export interface TraceEnd {
  /** Final status of the trace. */
  status: TraceStatus;
  /** The trace's last FlowError; set only when `status` is `FAILED`. */
  error: FlowError | undefined;
}

/**
 * One item of a trace's output, discriminated by `kind`:
 * `chunk` (a {@link StreamChunk}), `output` (a {@link FlowMessage}),
 * `error` (a {@link FlowError}; the trace may still produce more updates)
 * or `end` (a {@link TraceEnd}; always last). Every update carries the
 * trace id.
 */
export type TraceUpdate =
  | { kind: 'chunk'; traceId: string; chunk: StreamChunk }
  | { kind: 'output'; traceId: string; message: FlowMessage }
  | { kind: 'error'; traceId: string; error: FlowError }
  | { kind: 'end'; traceId: string; end: TraceEnd };

/**
 * Result of `fetch`: the next output of a trace, discriminated by `kind`.
 * `end` means the trace finished and every output was fetched (a later
 * fetch returns the same end). A cancelled trace is not a result: fetch
 * throws a {@link FlowClientError} with code `CANCELLED`.
 */
export type FetchResult =
  | { kind: 'output'; message: FlowMessage }
  | { kind: 'error'; error: FlowError }
  | { kind: 'chunk'; chunk: StreamChunk }
  | { kind: 'end'; end: TraceEnd };

/**
 * Result of `call`: the trace id plus the trace's first output,
 * discriminated by `kind`. `none` means the trace ended without producing
 * any output. Chunks produced before the first output are not returned
 * (use `callStream` for them).
 */
export type CallResult =
  | { kind: 'output'; traceId: string; message: FlowMessage }
  | { kind: 'error'; traceId: string; error: FlowError }
  | { kind: 'none'; traceId: string };

/** Result of `emit`. */
export interface EmitResult {
  /** Trace id of the emitted message (the caller's or a server-generated one). */
  traceId: string;
  /**
   * True when the idempotency key was seen before and nothing new was
   * emitted; `traceId` is then the original trace's id.
   */
  deduplicated: boolean;
}

/**
 * One runtime observation (streamed by `subscribeEvents`, stored and
 * returned by `getHistory`). Events never carry payloads.
 */
export interface FlowEvent {
  /** What happened, e.g. `node_start`, `node_failed`, `trace_cancel_finish`. New types may appear. */
  eventType: string;
  /** When it happened, epoch ms; `undefined` only if the server omitted it. */
  ts: number | undefined;
  /** Node concerned; `''` for trace-level events. */
  nodeName: string;
  /** Stable id of the node concerned; `''` for trace-level events. */
  nodeId: string;
  /** Trace the event belongs to; `''` only for events not tied to a trace. */
  traceId: string;
  /** 0-based attempt number of the invocation. */
  attempt: number;
  /** Invocation latency in ms; only on node_success/error/timeout/failed. */
  latencyMs: number | undefined;
  /** Messages waiting on the node's incoming edges. */
  queueDepthIn: number;
  /** Messages waiting on the node's outgoing edges. */
  queueDepthOut: number;
  /** Number of outgoing edges of the node. */
  outgoingEdges: number;
  /** Capacity of each edge queue; `<= 0` = unbounded. */
  queueMaxsize: number;
  /** Messages of the trace queued or running; `undefined` when the event has no trace. */
  tracePending: number | undefined;
  /** Invocations of the trace running now; `undefined` when the event has no trace. */
  traceInflight: number | undefined;
  /** True when the trace is cancelled or being cancelled. */
  traceCancelled: boolean;
  /** Event-specific diagnostics; `{}` when none. */
  extra: JsonObject;
  /** Hosted flow that produced the event. */
  flow: string;
  /** Tenant owning the trace (always the caller's). */
  tenant: string;
  /**
   * Per-trace sequence number: 1, 2, 3, … with no gaps in the stored
   * history; `0` only for events not tied to a trace. Pass the last one
   * received as `afterSeq` to resume a subscription.
   */
  seq: number;
}

/** A node's effective reliability policy (defaults filled in); times in ms. */
export interface NodePolicyInfo {
  /** Validated side: `both`, `in`, `out` or `none`. */
  validate: string;
  /** Per-invocation timeout; `undefined` = none. */
  timeoutMs: number | undefined;
  /** Attempts after the first. */
  maxRetries: number;
  /** Backoff base. */
  backoffBaseMs: number;
  /** Backoff multiplier. */
  backoffMult: number;
  /** Cap of one backoff wait; `undefined` = no cap. */
  maxBackoffMs: number | undefined;
  /** Invocations that may run at once. */
  maxConcurrency: number;
}

/** One node of a hosted flow. */
export interface NodeInfo {
  /** Node name (as in FlowEvent.nodeName). */
  name: string;
  /** Stable node id (as in FlowEvent.nodeId). */
  id: string;
  /** Effective policy; `undefined` only if the server omitted it. */
  policy: NodePolicyInfo | undefined;
}

/** A directed edge between two nodes, by node name. */
export interface EdgeInfo {
  /** Node that emits onto the edge. */
  source: string;
  /** Node that consumes from the edge. */
  target: string;
}

/** A flow hosted by the server (returned by `listFlows`). */
export interface FlowInfo {
  /** Name to pass as `flow` to every method. */
  name: string;
  /** Description supplied by the flow module; may be `''`. */
  description: string;
  /** Every node of the graph. */
  nodes: NodeInfo[];
  /** Every edge of the graph. */
  edges: EdgeInfo[];
  /** Names of the ingress nodes (fed by emit). */
  ingress: string[];
  /** Names of the egress nodes (whose outputs are returned). */
  egress: string[];
}

/**
 * Options accepted by every client method.
 */
export interface RequestOptions {
  /**
   * gRPC deadline of this call in milliseconds from now. For streams it
   * bounds the whole stream. Overrides the client's `defaultTimeoutMs`;
   * `0` or a negative value means "no deadline" (also disabling the
   * default). When it passes the call fails with a {@link FlowClientError}
   * whose code is `DEADLINE_EXCEEDED`. For emit, call and callStream the
   * server also uses it as the message deadline. Fractions are rounded up
   * to whole milliseconds and values above 99,999,999 ms (~27.8 h, the
   * largest the gRPC timeout header carries in ms) are capped there; NaN is
   * rejected client-side with `INVALID_ARGUMENT`.
   */
  timeoutMs?: number;
  /**
   * Aborts the call. An aborted call fails with a {@link FlowClientError}
   * whose code is `CANCELLED` (an already-aborted signal fails the call
   * without sending it). Aborting `call` or `callStream` makes the server
   * cancel the trace (server-configurable); aborting `fetch`, `streamTrace`
   * or `subscribeEvents` does not.
   */
  signal?: AbortSignal;
}

/**
 * Options of the methods that put a message into a flow (`emit`, `call`,
 * `callStream`): the message envelope plus {@link RequestOptions}.
 */
export interface SendOptions extends RequestOptions {
  /**
   * Trace id to use; omitted = the server generates one. Must satisfy the
   * server's trace-id charset and length (else `INVALID_ARGUMENT`). Emitting
   * onto a trace that is in flight adds the message to it.
   */
  traceId?: string;
  /**
   * Absolute message deadline, epoch ms. The server keeps the earlier of
   * this and the call's own deadline (`timeoutMs`).
   */
  deadline?: number;
  /** Free-form metadata travelling with the message. */
  meta?: JsonObject;
  /** Topic for routers inside the flow. */
  topic?: string;
  /** Priority (informational). Must be an int32. */
  priority?: number;
  /**
   * `headers.tenant` of the message. Normally leave unset: the server fills
   * it from the caller's identity, and a different value is rejected with
   * `PERMISSION_DENIED`.
   */
  tenant?: string;
  /**
   * Makes retries safe: a repeat with the same key (same tenant and flow,
   * within the server's retention window) does not emit again; emit returns
   * the original trace id with `deduplicated: true`, call waits for the
   * original trace, callStream attaches to it.
   */
  idempotencyKey?: string;
}

/**
 * Options of `subscribeEvents`: filters (combined with AND; empty or
 * omitted = match everything of the caller's tenant) and resume point.
 */
export interface SubscribeOptions extends RequestOptions {
  /** Only events of this flow. Unknown flow = `NOT_FOUND`. */
  flow?: string;
  /** Only events of these traces. */
  traceIds?: readonly string[];
  /** Only these event types. An unknown type = `INVALID_ARGUMENT`. */
  eventTypes?: readonly string[];
  /**
   * Only events with `seq > afterSeq` (per trace). With `traceIds`, the
   * server first replays each listed trace's stored events after this seq
   * (`0` = whole history), then continues live with no gap and no
   * duplicate. Without `traceIds` the stream is live only. A `bigint` is
   * accepted for callers that keep sequence numbers as 64-bit values. Must
   * be a non-negative integer.
   */
  afterSeq?: number | bigint;
}

/**
 * The body of a message sent by `emit`, `call` and `callStream`: a JSON
 * value (sent as `payload`) or a `Uint8Array` (sent as `binary`; node code
 * receives the bytes).
 */
export type MessageBody = JsonValue | Uint8Array;
