/**
 * Recognises runtime objects by shape and error name instead of
 * `instanceof`.
 *
 * A flow module may load its own copy of the runtime (e.g. the published
 * package while the server runs from source); its `Flow` and errors are
 * then instances of different classes than the server's, and `instanceof`
 * would misclassify a trace's end as a crash.
 */
import type { FlowError, TraceEndedError } from '../runtime/index.js';

/** Names of the runtime errors the server reacts to. */
export type RuntimeErrorName = 'TraceCancelled' | 'TraceEndedError' | 'FlowStoppedError' | 'DeadlineExceededError' | 'FlowError';

/** True when `err` is an Error named `name` (the runtime sets `name` on each of its error classes). */
export function isRuntimeError(err: unknown, name: RuntimeErrorName): err is Error {
  return err instanceof Error && err.name === name;
}

const TRACE_STATUSES: ReadonlySet<string> = new Set(['COMPLETED', 'FAILED', 'CANCELLED', 'DEADLINE_EXCEEDED']);

/** A runtime `TraceEndedError`: the trace is over; `status` says how. */
export function isTraceEnded(err: unknown): err is TraceEndedError {
  return isRuntimeError(err, 'TraceEndedError') && TRACE_STATUSES.has(String((err as { status?: unknown }).status));
}

/** A runtime `FlowError` (a node failed for good). */
export function isFlowErrorLike(value: unknown): value is FlowError {
  return isRuntimeError(value, 'FlowError') && typeof (value as { code?: unknown }).code === 'string';
}

/** True for an object with the `Flow` methods the server drives. */
export function isFlowLike(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    ['run', 'stop', 'emit', 'fetch', 'cancel', 'addMiddleware', 'stats'].every((m) => typeof v[m] === 'function') &&
    typeof v.graph === 'object' &&
    typeof v.queueMaxsize === 'number'
  );
}
