/**
 * Why a node or a trace failed. String values equal the names so they survive
 * JSON, logs and the wire unchanged.
 */
export enum FlowErrorCode {
  NODE_TIMEOUT = 'NODE_TIMEOUT',
  NODE_EXCEPTION = 'NODE_EXCEPTION',
  TRACE_CANCELLED = 'TRACE_CANCELLED',
  DEADLINE_EXCEEDED = 'DEADLINE_EXCEEDED',
  HOP_BUDGET_EXHAUSTED = 'HOP_BUDGET_EXHAUSTED',
  TOKEN_BUDGET_EXHAUSTED = 'TOKEN_BUDGET_EXHAUSTED',
}

/** Fields of a {@link FlowError}. */
export interface FlowErrorInit {
  code: FlowErrorCode;
  message: string;
  traceId?: string | undefined;
  nodeName?: string | undefined;
  nodeId?: string | undefined;
  metadata?: Record<string, unknown>;
  cause?: unknown;
}

/**
 * A node failed for good (retries exhausted, timeout, deadline). It is data,
 * not a crash: it is emitted as `node_failed`, delivered to Rookery when the
 * flow has `emitErrorsToRookery`, and ends the trace as FAILED otherwise.
 *
 * `exceptionType` names the class of the original error (e.g. `TypeError`),
 * never its stack, so it is safe to show to callers.
 */
export class FlowError extends Error {
  override readonly name = 'FlowError';
  readonly code: FlowErrorCode;
  readonly traceId: string | undefined;
  readonly nodeName: string | undefined;
  readonly nodeId: string | undefined;
  readonly metadata: Record<string, unknown>;
  readonly exceptionType: string | undefined;

  constructor(init: FlowErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.code = init.code;
    this.traceId = init.traceId;
    this.nodeName = init.nodeName;
    this.nodeId = init.nodeId;
    this.metadata = init.metadata ?? {};
    this.exceptionType = init.cause instanceof Error ? init.cause.name : init.cause === undefined ? undefined : typeof init.cause;
  }

  /** A JSON-safe view: code, message, trace, node and metadata; no stack. */
  toPayload(): Record<string, unknown> {
    return {
      code: this.code,
      message: this.message,
      traceId: this.traceId,
      nodeName: this.nodeName,
      nodeId: this.nodeId,
      exceptionType: this.exceptionType,
      metadata: this.metadata,
    };
  }
}

/** True for a {@link FlowError} (also across realms, by shape). */
export function isFlowError(value: unknown): value is FlowError {
  return value instanceof FlowError;
}

/**
 * The trace was cancelled: thrown to pending `emit`/`fetch` callers of that
 * trace and used as the abort reason of its in-flight invocations.
 */
export class TraceCancelled extends Error {
  override readonly name = 'TraceCancelled';
  readonly traceId: string;
  constructor(traceId: string) {
    super(`trace ${traceId} was cancelled`);
    this.traceId = traceId;
  }
}

/** The graph has a cycle that neither `allowCycles` nor a node's `allowCycle` self-loop permits. */
export class CycleError extends Error {
  override readonly name = 'CycleError';
}

/** Final state of a trace once it has no pending work. */
export type TraceStatus = 'COMPLETED' | 'FAILED' | 'CANCELLED' | 'DEADLINE_EXCEEDED';

/**
 * A trace-scoped `fetch` found no further output because the trace already
 * ended. `status` says how it ended; `error` is the last {@link FlowError}
 * of a FAILED trace. This is the runtime's "no silent hang" guarantee.
 */
export class TraceEndedError extends Error {
  override readonly name = 'TraceEndedError';
  readonly traceId: string;
  readonly status: TraceStatus;
  readonly error: FlowError | undefined;
  constructor(traceId: string, status: TraceStatus, error?: FlowError) {
    super(`trace ${traceId} ended (${status}) with no further output`);
    this.traceId = traceId;
    this.status = status;
    this.error = error;
  }
}

/** The flow is stopped (or stopping): no new work is accepted and waiters are released. */
export class FlowStoppedError extends Error {
  override readonly name = 'FlowStoppedError';
  constructor(message = 'flow is stopped') {
    super(message);
  }
}

/** A node invocation exceeded its `timeoutMs`; retryable. */
export class NodeTimeoutError extends Error {
  override readonly name = 'NodeTimeoutError';
  constructor(nodeName: string, timeoutMs: number) {
    super(`node ${nodeName} timed out after ${timeoutMs} ms`);
  }
}

/** The message deadline passed; the abort reason seen by node code. */
export class DeadlineExceededError extends Error {
  override readonly name = 'DeadlineExceededError';
  constructor(traceId: string | undefined) {
    super(`deadline exceeded${traceId ? ` for trace ${traceId}` : ''}`);
  }
}

/** A `callPlaybook` exceeded its `timeoutMs`. */
export class PlaybookTimeoutError extends Error {
  override readonly name = 'PlaybookTimeoutError';
  constructor(timeoutMs: number) {
    super(`playbook timed out after ${timeoutMs} ms`);
  }
}
