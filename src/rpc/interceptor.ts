/**
 * Interceptors: what runs around every handler (draining, auth, metrics,
 * access log, tracing), and the two helpers they share to run the rest of
 * the chain and observe its end.
 */
import type { RpcCall } from './call.js';
import { toServiceError, type ServiceErrorCode } from './service-error.js';

/** The rest of the chain: the next interceptor, or finally the handler. */
export type RpcNext = (call: RpcCall) => Promise<unknown>;

/**
 * Wraps the rest of the chain: `(next) => async (call) => result`. An
 * interceptor may reject the call (throw a `ServiceError`), enrich it
 * (set `identity`) or observe the result. Auth modes (none, jwt, mtls,
 * header), draining and metrics are interceptors.
 */
export type Interceptor = (next: RpcNext) => RpcNext;

/** Composes interceptors around `handler`; the first interceptor runs first. */
export function compose(interceptors: readonly Interceptor[], handler: RpcNext): RpcNext {
  return interceptors.reduceRight<RpcNext>((next, interceptor) => interceptor(next), handler);
}

/** Runs `next(call)`; a synchronous throw becomes a rejection, so callers handle one outcome path. */
export function runNext(next: RpcNext, call: RpcCall): Promise<unknown> {
  try {
    return next(call);
  } catch (err) {
    return Promise.reject(err);
  }
}

/**
 * Calls `onEnd` once `run` settles, with `OK` and the response or the
 * failure's status code name, and passes the outcome on unchanged (the
 * error is rethrown). How the metrics, access-log and tracing interceptors
 * observe the end of a call.
 */
export function whenSettled(run: Promise<unknown>, onEnd: (code: ServiceErrorCode | 'OK', response: unknown) => void): Promise<unknown> {
  return run.then(
    (response) => {
      onEnd('OK', response);
      return response;
    },
    (err: unknown) => {
      onEnd(toServiceError(err).code, undefined);
      throw err;
    },
  );
}
