/**
 * The client's single error type, {@link FlowClientError}, and the
 * `google.rpc.Status` details the server attaches to failures.
 *
 * The server sends details in the `grpc-status-details-bin` trailer as
 * `google.rpc.Status { details: [google.protobuf.Any] }`. Connect unwraps
 * the Status into the error's `details`, and its `ConnectError.findDetails`
 * decodes the `google.rpc` messages the contract names (ErrorInfo,
 * BadRequest, RetryInfo, QuotaFailure) with the schemas generated from
 * `proto/google/rpc/error_details.proto`. Unknown detail types are kept
 * raw in {@link FlowClientErrorDetails.raw}.
 *
 * @packageDocumentation
 */
import { Code, ConnectError } from '@connectrpc/connect';
import { durationMs } from '@bufbuild/protobuf/wkt';
import {
  BadRequestSchema,
  ErrorInfoSchema,
  QuotaFailureSchema,
  RetryInfoSchema,
} from './gen/google/rpc/error_details_pb.js';
import type { FlowErrorCode } from './types.js';

/**
 * gRPC status code names, exactly as in the gRPC spec and the proto
 * contract's comments (`OK` is never used: a succeeded call does not throw).
 */
export type GrpcCode =
  | 'CANCELLED'
  | 'UNKNOWN'
  | 'INVALID_ARGUMENT'
  | 'DEADLINE_EXCEEDED'
  | 'NOT_FOUND'
  | 'ALREADY_EXISTS'
  | 'PERMISSION_DENIED'
  | 'RESOURCE_EXHAUSTED'
  | 'FAILED_PRECONDITION'
  | 'ABORTED'
  | 'OUT_OF_RANGE'
  | 'UNIMPLEMENTED'
  | 'INTERNAL'
  | 'UNAVAILABLE'
  | 'DATA_LOSS'
  | 'UNAUTHENTICATED';

const CODE_NAMES: Readonly<Record<Code, GrpcCode>> = {
  [Code.Canceled]: 'CANCELLED',
  [Code.Unknown]: 'UNKNOWN',
  [Code.InvalidArgument]: 'INVALID_ARGUMENT',
  [Code.DeadlineExceeded]: 'DEADLINE_EXCEEDED',
  [Code.NotFound]: 'NOT_FOUND',
  [Code.AlreadyExists]: 'ALREADY_EXISTS',
  [Code.PermissionDenied]: 'PERMISSION_DENIED',
  [Code.ResourceExhausted]: 'RESOURCE_EXHAUSTED',
  [Code.FailedPrecondition]: 'FAILED_PRECONDITION',
  [Code.Aborted]: 'ABORTED',
  [Code.OutOfRange]: 'OUT_OF_RANGE',
  [Code.Unimplemented]: 'UNIMPLEMENTED',
  [Code.Internal]: 'INTERNAL',
  [Code.Unavailable]: 'UNAVAILABLE',
  [Code.DataLoss]: 'DATA_LOSS',
  [Code.Unauthenticated]: 'UNAUTHENTICATED',
};

const FLOW_ERROR_CODES: ReadonlySet<string> = new Set<FlowErrorCode>([
  'NODE_TIMEOUT',
  'NODE_EXCEPTION',
  'TRACE_CANCELLED',
  'DEADLINE_EXCEEDED',
  'HOP_BUDGET_EXHAUSTED',
  'TOKEN_BUDGET_EXHAUSTED',
]);

/** `google.rpc.ErrorInfo`: a machine-readable reason for the failure. */
export interface ErrorInfo {
  /** UPPER_SNAKE_CASE reason, e.g. a FlowErrorCode or `UNKNOWN_FLOW`. */
  reason: string;
  /** Logical domain of the reason (e.g. the service name). */
  domain: string;
  /** Additional structured key/value pairs. */
  metadata: Record<string, string>;
}

/** One entry of `google.rpc.BadRequest.field_violations`. */
export interface FieldViolation {
  /** Path of the offending request field, e.g. `message.trace_id`. */
  field: string;
  /** Why the value is invalid. */
  description: string;
}

/** One entry of `google.rpc.QuotaFailure.violations`. */
export interface QuotaViolation {
  /** What the quota applies to, e.g. `tenant:acme`. */
  subject: string;
  /** How the quota was exceeded. */
  description: string;
}

/** An error detail of a type this client does not decode. */
export interface RawErrorDetail {
  /** Fully-qualified protobuf type name, e.g. `google.rpc.DebugInfo`. */
  type: string;
  /** The serialized message. */
  value: Uint8Array;
}

/**
 * Parsed `google.rpc.Status` details of a failed call. Every field is
 * present; a detail the server did not send is `undefined` / `[]`.
 * If the server sent a detail type more than once, the first one wins
 * for the single-valued fields, and list fields are concatenated.
 */
export interface FlowClientErrorDetails {
  /** The `google.rpc.ErrorInfo` detail, if sent. */
  errorInfo: ErrorInfo | undefined;
  /**
   * The FlowError code of the failure, when `errorInfo.reason` (with or
   * without the `FLOW_ERROR_CODE_` prefix) or its `flow_error_code`
   * metadata names one, e.g. `TRACE_CANCELLED`.
   */
  flowErrorCode: FlowErrorCode | undefined;
  /** `google.rpc.BadRequest` field violations (INVALID_ARGUMENT). */
  fieldViolations: FieldViolation[];
  /** `google.rpc.RetryInfo.retry_delay` in milliseconds (RESOURCE_EXHAUSTED). */
  retryDelayMs: number | undefined;
  /** `google.rpc.QuotaFailure` violations (RESOURCE_EXHAUSTED). */
  quotaViolations: QuotaViolation[];
  /** Details of other types, undecoded. */
  raw: RawErrorDetail[];
}

/**
 * The only error the client throws (or rejects with, or ends a stream
 * with). Thrown when the RPC itself fails: bad request, auth, unknown
 * flow or trace, deadline, cancellation, unavailable server, and also for
 * arguments the client rejects before sending (those have code
 * `INVALID_ARGUMENT` and `clientSide: true`).
 *
 * A node failing for good is NOT an exception: it is returned as data
 * (`{ kind: 'error', error }`).
 *
 * Codes worth handling: `DEADLINE_EXCEEDED` (the call's `timeoutMs`
 * passed), `CANCELLED` (your `signal` aborted, the client was closed while
 * the call was in flight, or the trace was cancelled by someone),
 * `FAILED_PRECONDITION` (the call was made after `close()`; `clientSide`,
 * message `the client is closed`), `NOT_FOUND` (unknown flow or trace),
 * `INVALID_ARGUMENT` (see `details.fieldViolations`), `RESOURCE_EXHAUSTED`
 * (retry after `details.retryDelayMs`), `UNAVAILABLE` (server draining or
 * unreachable: retry, safely for emit with an `idempotencyKey`).
 */
export class FlowClientError extends Error {
  override readonly name = 'FlowClientError';
  /** gRPC status code name. */
  readonly code: GrpcCode;
  /** Numeric gRPC status code (1..16). */
  readonly grpcStatus: number;
  /** The status message as sent by the server (without the code prefix). */
  readonly serverMessage: string;
  /** Parsed status details. */
  readonly details: FlowClientErrorDetails;
  /** True when the client rejected the request before sending it. */
  readonly clientSide: boolean;

  /**
   * Create an error. Applications normally only catch these; constructing
   * one is useful in tests and mocks.
   *
   * @param code - gRPC status code name.
   * @param serverMessage - status message; `message` becomes `"<code>: <serverMessage>"`.
   * @param init - optional details (missing parts default to empty), the
   *   `cause`, and `clientSide`.
   */
  constructor(
    code: GrpcCode,
    serverMessage: string,
    init: { details?: Partial<FlowClientErrorDetails>; cause?: unknown; clientSide?: boolean } = {},
  ) {
    super(`${code}: ${serverMessage}`, init.cause === undefined ? undefined : { cause: init.cause });
    this.code = code;
    this.grpcStatus = grpcStatusOf(code);
    this.serverMessage = serverMessage;
    this.clientSide = init.clientSide ?? false;
    this.details = {
      errorInfo: init.details?.errorInfo,
      flowErrorCode: init.details?.flowErrorCode,
      fieldViolations: init.details?.fieldViolations ?? [],
      retryDelayMs: init.details?.retryDelayMs,
      quotaViolations: init.details?.quotaViolations ?? [],
      raw: init.details?.raw ?? [],
    };
  }

  /**
   * Convert anything caught around an RPC into a FlowClientError:
   * a FlowClientError is returned as is; a ConnectError keeps its code,
   * message and decoded details; an AbortError/TimeoutError becomes
   * `CANCELLED`; anything else becomes `UNKNOWN` with the original as
   * `cause`.
   */
  static from(reason: unknown): FlowClientError {
    if (reason instanceof FlowClientError) return reason;
    const ce = ConnectError.from(reason);
    const code = CODE_NAMES[ce.code] ?? 'UNKNOWN';
    return new FlowClientError(code, ce.rawMessage, { details: detailsOf(ce), cause: reason });
  }
}

function grpcStatusOf(code: GrpcCode): number {
  for (const [num, name] of Object.entries(CODE_NAMES)) {
    if (name === code) return Number(num);
  }
  return Code.Unknown;
}

/**
 * Map a FlowErrorCode-like string (`TRACE_CANCELLED` or
 * `FLOW_ERROR_CODE_TRACE_CANCELLED`) to a {@link FlowErrorCode}; anything
 * else (including `''`) gives `undefined`.
 */
export function parseFlowErrorCode(value: string | undefined): FlowErrorCode | undefined {
  if (value === undefined) return undefined;
  const name = value.startsWith('FLOW_ERROR_CODE_') ? value.slice('FLOW_ERROR_CODE_'.length) : value;
  return FLOW_ERROR_CODES.has(name) ? (name as FlowErrorCode) : undefined;
}

/** The detail types decoded into fields; any other type is kept in `raw`. */
const DECODED_TYPES: ReadonlySet<string> = new Set([
  ErrorInfoSchema.typeName,
  BadRequestSchema.typeName,
  RetryInfoSchema.typeName,
  QuotaFailureSchema.typeName,
]);

/**
 * Decode the `google.rpc` details the client understands. Never throws:
 * details of other types are kept in `raw`; a detail of a known type whose
 * bytes do not decode is dropped, as `ConnectError.findDetails` does.
 *
 * @param details - `{ type, value }` pairs, `type` being the fully
 *   qualified message name (the type URL without its prefix).
 */
export function decodeErrorDetails(details: readonly RawErrorDetail[]): FlowClientErrorDetails {
  const carrier = new ConnectError('', Code.Unknown);
  carrier.details = details.map((d) => ({ type: d.type, value: d.value }));
  return detailsOf(carrier);
}

/**
 * The details of a ConnectError, decoded by `findDetails`. The first
 * ErrorInfo and RetryInfo win; BadRequest and QuotaFailure violations are
 * concatenated.
 */
function detailsOf(err: ConnectError): FlowClientErrorDetails {
  const info = err.findDetails(ErrorInfoSchema)[0];
  const errorInfo = info === undefined ? undefined : { reason: info.reason, domain: info.domain, metadata: { ...info.metadata } };
  const retryDelay = err.findDetails(RetryInfoSchema).find((r) => r.retryDelay !== undefined)?.retryDelay;
  return {
    errorInfo,
    flowErrorCode: parseFlowErrorCode(errorInfo?.reason) ?? parseFlowErrorCode(errorInfo?.metadata['flow_error_code']),
    fieldViolations: err
      .findDetails(BadRequestSchema)
      .flatMap((b) => b.fieldViolations.map((v) => ({ field: v.field, description: v.description }))),
    retryDelayMs: retryDelay === undefined ? undefined : durationMs(retryDelay),
    quotaViolations: err
      .findDetails(QuotaFailureSchema)
      .flatMap((q) => q.violations.map((v) => ({ subject: v.subject, description: v.description }))),
    raw: err.details.flatMap((d) => ('type' in d && !DECODED_TYPES.has(d.type) ? [{ type: d.type, value: d.value }] : [])),
  };
}
