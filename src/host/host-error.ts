/**
 * The host layer's failures, as data the edge maps to a status.
 *
 * The host never speaks gRPC: it throws a {@link HostError} with a code from
 * a closed set, and `toServiceError` (src/rpc) is the one place that turns
 * each code into a status.
 */

/** Every reason the host refuses or fails a request. */
export const HOST_ERROR_CODES = ['FLOW_NOT_FOUND', 'TRACE_NOT_FOUND', 'STORE_UNAVAILABLE', 'DRAINING', 'TRACE_ID_IN_USE'] as const;

/** One of {@link HOST_ERROR_CODES}. */
export type HostErrorCode = (typeof HOST_ERROR_CODES)[number];

/** A host-level failure; its `message` is safe to show to the caller. */
export class HostError extends Error {
  override readonly name = 'HostError';
  readonly code: HostErrorCode;

  constructor(code: HostErrorCode, message: string, opts?: { cause?: unknown }) {
    super(message, opts);
    this.code = code;
  }

  /** No hosted flow has this name. */
  static flowNotFound(flow: string): HostError {
    return new HostError('FLOW_NOT_FOUND', `flow ${flow} not found`);
  }

  /** The trace is unknown to the caller's tenant (never emitted, forgotten, or another tenant's: one answer). */
  static traceNotFound(traceId: string): HostError {
    return new HostError('TRACE_NOT_FOUND', `trace ${traceId} not found`);
  }

  /** The state store does not answer or its writes fail. */
  static storeUnavailable(): HostError {
    return new HostError('STORE_UNAVAILABLE', 'the state store is unavailable; retry later');
  }
}
