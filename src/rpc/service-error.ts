/**
 * The one place where failures become gRPC statuses.
 *
 * Handlers throw {@link ServiceError} (or let runtime errors escape); the RPC
 * binding turns whatever was thrown into a status with {@link toServiceError}
 * and {@link toGrpcStatus}, so every RPC answers the same situation with the
 * same code, and every failed call carries `google.rpc` details in the
 * `grpc-status-details-bin` trailer.
 */
import { HostError, type HostErrorCode } from '../host/host-error.js';
import { DeadlineExceededError, FlowError, FlowStoppedError, TraceCancelled } from '../runtime/index.js';

/** `ErrorInfo.domain` of every error this service sends. */
export const ERROR_DOMAIN = 'penguiflow.dev';

/** Trailer telling gRPC clients how long to wait before retrying (set with RetryInfo). */
export const RETRY_PUSHBACK_TRAILER = 'grpc-retry-pushback-ms';

/** Name of the binary trailer that carries the encoded `google.rpc.Status`. */
export const STATUS_DETAILS_TRAILER = 'grpc-status-details-bin';

/**
 * The closed set of failure codes a handler may raise; each has exactly one
 * meaning (DESIGN §3). `INTERNAL` is reserved for bugs: its message never
 * reveals details.
 */
export const SERVICE_ERROR_CODES = [
  'INVALID_ARGUMENT',
  'UNAUTHENTICATED',
  'PERMISSION_DENIED',
  'NOT_FOUND',
  'RESOURCE_EXHAUSTED',
  'DEADLINE_EXCEEDED',
  'CANCELLED',
  'UNAVAILABLE',
  'INTERNAL',
] as const;

/** One of {@link SERVICE_ERROR_CODES}. */
export type ServiceErrorCode = (typeof SERVICE_ERROR_CODES)[number];

/**
 * The canonical status numbers (google.rpc.Code), shared by gRPC, gRPC-Web
 * and Connect, so the contract needs no transport library.
 */
const STATUS_NUMBER: Readonly<Record<ServiceErrorCode, number>> = {
  CANCELLED: 1,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
};

/** Default `ErrorInfo.reason` per code, used when a thrower names none. */
const DEFAULT_REASON: Readonly<Record<ServiceErrorCode, string>> = {
  INVALID_ARGUMENT: 'INVALID_REQUEST',
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  PERMISSION_DENIED: 'TENANT_MISMATCH',
  NOT_FOUND: 'NOT_FOUND',
  RESOURCE_EXHAUSTED: 'RESOURCE_EXHAUSTED',
  DEADLINE_EXCEEDED: 'DEADLINE_EXCEEDED',
  CANCELLED: 'CANCELLED',
  UNAVAILABLE: 'UNAVAILABLE',
  INTERNAL: 'INTERNAL',
};

/** One invalid request field (`google.rpc.BadRequest.FieldViolation`). */
export interface FieldViolation {
  /** Path of the field in the request, e.g. `message.trace_id` or `event_types[1]`. */
  field: string;
  /** Why the value is invalid; safe to show to the caller (never echoes payloads). */
  description: string;
}

/** One failed quota check (`google.rpc.QuotaFailure.Violation`). */
export interface QuotaViolation {
  /** What was limited, e.g. `flow:echo` or `tenant:acme`. */
  subject: string;
  description: string;
}

/** Optional parts of a {@link ServiceError}. */
export interface ServiceErrorOptions {
  /** Stable UPPER_SNAKE_CASE reason for `ErrorInfo`; defaults per code. */
  reason?: string;
  /** `ErrorInfo.metadata`; never put payloads or secrets here. */
  metadata?: Readonly<Record<string, string>>;
  /** `BadRequest` field violations; meaningful for INVALID_ARGUMENT. */
  fieldViolations?: readonly FieldViolation[];
  /** Adds `RetryInfo` with this delay; meaningful for RESOURCE_EXHAUSTED. */
  retryDelayMs?: number;
  /** Adds `QuotaFailure`; meaningful for RESOURCE_EXHAUSTED. */
  quotaViolations?: readonly QuotaViolation[];
  /** The underlying error, kept for logs only (never sent). */
  cause?: unknown;
}

/**
 * A failure with a fixed gRPC meaning. Its `message` is sent to the caller
 * as the status details, so it must be safe to show: no payloads, no stack
 * traces, no other tenant's data.
 */
export class ServiceError extends Error {
  override readonly name = 'ServiceError';
  readonly code: ServiceErrorCode;
  readonly reason: string;
  readonly metadata: Readonly<Record<string, string>>;
  readonly fieldViolations: readonly FieldViolation[];
  readonly retryDelayMs: number | undefined;
  readonly quotaViolations: readonly QuotaViolation[];

  constructor(code: ServiceErrorCode, message: string, opts: ServiceErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.code = code;
    this.reason = opts.reason ?? DEFAULT_REASON[code];
    this.metadata = opts.metadata ?? {};
    this.fieldViolations = opts.fieldViolations ?? [];
    this.retryDelayMs = opts.retryDelayMs;
    this.quotaViolations = opts.quotaViolations ?? [];
  }

  /** INVALID_ARGUMENT with one field violation; the description is also the message. */
  static invalidField(field: string, description: string): ServiceError {
    return new ServiceError('INVALID_ARGUMENT', `${field}: ${description}`, { fieldViolations: [{ field, description }] });
  }

  /** The NOT_FOUND answer for a trace; identical for unknown and other tenants' traces. */
  static traceNotFound(traceId: string): ServiceError {
    return new ServiceError('NOT_FOUND', `trace ${traceId} not found`, { reason: 'TRACE_NOT_FOUND' });
  }

  /** The NOT_FOUND answer for a flow name that is not hosted. */
  static flowNotFound(flow: string): ServiceError {
    return new ServiceError('NOT_FOUND', `flow ${flow} not found`, { reason: 'FLOW_NOT_FOUND' });
  }

  /** CANCELLED because the trace was cancelled (not because the client went away). */
  static traceCancelled(traceId: string): ServiceError {
    return new ServiceError('CANCELLED', `trace ${traceId} was cancelled`, { reason: 'TRACE_CANCELLED' });
  }

  /** UNAVAILABLE because the server is draining or its flows stopped. */
  static unavailable(message = 'server is shutting down; retry on another replica'): ServiceError {
    return new ServiceError('UNAVAILABLE', message, { reason: 'SERVER_DRAINING' });
  }
}

/** The status and reason of each host failure: the host's half of the one mapping. */
const HOST_STATUS: Readonly<Record<HostErrorCode, { code: ServiceErrorCode; reason: string }>> = {
  FLOW_NOT_FOUND: { code: 'NOT_FOUND', reason: 'FLOW_NOT_FOUND' },
  TRACE_NOT_FOUND: { code: 'NOT_FOUND', reason: 'TRACE_NOT_FOUND' },
  STORE_UNAVAILABLE: { code: 'UNAVAILABLE', reason: 'STORE_UNAVAILABLE' },
  DRAINING: { code: 'UNAVAILABLE', reason: 'SERVER_DRAINING' },
  TRACE_ID_IN_USE: { code: 'INVALID_ARGUMENT', reason: 'TRACE_ID_IN_USE' },
};

function fromHostError(err: HostError): ServiceError {
  const { code, reason } = HOST_STATUS[err.code];
  // The only host refusal about a request field: the message's trace id.
  const fieldViolations = err.code === 'TRACE_ID_IN_USE' ? [{ field: 'message.trace_id', description: err.message }] : undefined;
  return new ServiceError(code, err.message, { reason, cause: err, ...(fieldViolations === undefined ? {} : { fieldViolations }) });
}

/**
 * Maps anything a handler threw to a {@link ServiceError}:
 * a `ServiceError` as is; the runtime's `TraceCancelled` → CANCELLED,
 * `FlowStoppedError` → UNAVAILABLE, `DeadlineExceededError` → DEADLINE_EXCEEDED,
 * a `FlowError` → INTERNAL with its code as reason (handlers return node
 * failures as data, so one escaping is a bug); anything else → INTERNAL with
 * a generic message (the original is kept as `cause` for the log).
 */
export function toServiceError(err: unknown): ServiceError {
  if (err instanceof ServiceError) return err;
  if (err instanceof HostError) return fromHostError(err);
  if (err instanceof TraceCancelled) {
    return new ServiceError('CANCELLED', 'the trace was cancelled', { reason: 'TRACE_CANCELLED', cause: err });
  }
  if (err instanceof FlowStoppedError) {
    return new ServiceError('UNAVAILABLE', 'the flow is stopped; the server is shutting down', { reason: 'SERVER_DRAINING', cause: err });
  }
  if (err instanceof DeadlineExceededError) {
    return new ServiceError('DEADLINE_EXCEEDED', 'deadline exceeded', { reason: 'DEADLINE_EXCEEDED', cause: err });
  }
  if (err instanceof FlowError) {
    return new ServiceError('INTERNAL', 'internal error', { reason: err.code, cause: err });
  }
  return new ServiceError('INTERNAL', 'internal error', { cause: err });
}

/** The canonical status number (`google.rpc.Code`, as on the gRPC wire) of a {@link ServiceErrorCode}. */
export function grpcCodeOf(code: ServiceErrorCode): number {
  return STATUS_NUMBER[code];
}

