/**
 * The runtime's errors: one base class, {@link PenguiflowError}, with a
 * stable `code` on every error.
 *
 * `instanceof` works across copies of the package (a flow module that
 * bundles its own `penguiflow` while the server runs another): every error
 * carries a brand under a registry symbol, `Symbol.for('penguiflow.error')`,
 * naming its class, and each class's `Symbol.hasInstance` accepts an object
 * with its brand. That is how connect-es and the Temporal SDK make their
 * errors recognisable, and it replaces matching on `name` strings.
 */

const BRAND: unique symbol = Symbol.for('penguiflow.error') as never;

/** Every runtime error class's brand, also its default `code`. */
export type RuntimeErrorKind =
  | 'FlowError'
  | 'TraceCancelled'
  | 'CycleError'
  | 'TraceEndedError'
  | 'FlowStoppedError'
  | 'NodeTimeoutError'
  | 'DeadlineExceededError'
  | 'PlaybookTimeoutError';

/**
 * Base of every error the runtime throws or delivers.
 *
 * - `code`: stable, machine-readable (UPPER_SNAKE_CASE); for a
 *   {@link FlowError} it is its {@link FlowErrorCode}.
 * - `x instanceof SomeRuntimeError` is true for instances made by any copy
 *   of this package; a user subclass without its own `kind` matches only its
 *   real instances.
 */
export abstract class PenguiflowError extends Error {
  /** The class's brand; each runtime error class declares its own. */
  static readonly kind: RuntimeErrorKind | undefined = undefined;
  abstract readonly code: string;
  /** @internal */
  readonly [BRAND]: RuntimeErrorKind | true;

  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this[BRAND] = new.target.kind ?? true;
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    if (Function.prototype[Symbol.hasInstance].call(this, value)) return true;
    if (typeof value !== 'object' || value === null) return false;
    const brand = (value as { [BRAND]?: unknown })[BRAND];
    if (brand === undefined) return false;
    if (this === PenguiflowError) return true;
    // Only a class that declares its own kind is matched by brand.
    return Object.hasOwn(this, 'kind') && brand === this.kind;
  }
}

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
export class FlowError extends PenguiflowError {
  static override readonly kind = 'FlowError';
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

/** True for a {@link FlowError}, from this or any other copy of the package. */
export function isFlowError(value: unknown): value is FlowError {
  return value instanceof FlowError;
}

/**
 * The trace was cancelled: thrown to pending `emit`/`fetch` callers of that
 * trace and used as the abort reason of its in-flight invocations.
 */
export class TraceCancelled extends PenguiflowError {
  static override readonly kind = 'TraceCancelled';
  override readonly name = 'TraceCancelled';
  readonly code = 'TRACE_CANCELLED';
  readonly traceId: string;
  constructor(traceId: string) {
    super(`trace ${traceId} was cancelled`);
    this.traceId = traceId;
  }
}

/** The graph has a cycle that neither `allowCycles` nor a node's `allowCycle` self-loop permits. */
export class CycleError extends PenguiflowError {
  static override readonly kind = 'CycleError';
  override readonly name = 'CycleError';
  readonly code = 'CYCLE';
}

/** Final state of a trace once it has no pending work. */
export type TraceStatus = 'COMPLETED' | 'FAILED' | 'CANCELLED' | 'DEADLINE_EXCEEDED';

/**
 * A trace-scoped `fetch` found no further output because the trace already
 * ended. `status` says how it ended; `error` is the last {@link FlowError}
 * of a FAILED trace. This is the runtime's "no silent hang" guarantee.
 */
export class TraceEndedError extends PenguiflowError {
  static override readonly kind = 'TraceEndedError';
  override readonly name = 'TraceEndedError';
  readonly code = 'TRACE_ENDED';
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
export class FlowStoppedError extends PenguiflowError {
  static override readonly kind = 'FlowStoppedError';
  override readonly name = 'FlowStoppedError';
  readonly code = 'FLOW_STOPPED';
  constructor(message = 'flow is stopped') {
    super(message);
  }
}

/** A node invocation exceeded its `timeoutMs`; retryable. */
export class NodeTimeoutError extends PenguiflowError {
  static override readonly kind = 'NodeTimeoutError';
  override readonly name = 'NodeTimeoutError';
  readonly code = 'NODE_TIMEOUT';
  constructor(nodeName: string, timeoutMs: number) {
    super(`node ${nodeName} timed out after ${timeoutMs} ms`);
  }
}

/** The message deadline passed; the abort reason seen by node code. */
export class DeadlineExceededError extends PenguiflowError {
  static override readonly kind = 'DeadlineExceededError';
  override readonly name = 'DeadlineExceededError';
  readonly code = 'DEADLINE_EXCEEDED';
  constructor(traceId: string | undefined) {
    super(`deadline exceeded${traceId ? ` for trace ${traceId}` : ''}`);
  }
}

/** A `callPlaybook` exceeded its `timeoutMs`. */
export class PlaybookTimeoutError extends PenguiflowError {
  static override readonly kind = 'PlaybookTimeoutError';
  override readonly name = 'PlaybookTimeoutError';
  readonly code = 'PLAYBOOK_TIMEOUT';
  constructor(timeoutMs: number) {
    super(`playbook timed out after ${timeoutMs} ms`);
  }
}
