/**
 * The server's view of one RPC, independent of grpc-js, and the
 * interceptor chain that runs before every handler.
 */
import type { Metadata } from '@grpc/grpc-js';
import type { PeerCertificate } from 'node:tls';
import { ServiceError, toServiceError, type ServiceErrorCode } from './service-error.js';

/** How a caller's identity is established (`PENGUIFLOW_AUTH`). */
export type AuthMode = 'none' | 'jwt' | 'mtls' | 'header';

/** Who is calling, as established by the auth interceptor. */
export interface Identity {
  /** Tenant that owns everything this caller emits and the only tenant it can see. */
  readonly tenant: string;
  /** Authenticated principal (JWT `sub`, certificate subject); undefined in `none` mode. */
  readonly subject: string | undefined;
  /** How the identity was established. */
  readonly mode: AuthMode;
}

/** One incoming RPC as the interceptors and handlers see it. */
export interface RpcCall<Req = unknown> {
  /** Method name as in the proto, e.g. `Emit`. */
  readonly method: string;
  /** The decoded request. */
  readonly request: Req;
  /** Encoded size of the request in bytes. */
  readonly requestBytes: number;
  /** Request metadata (headers). Never log it whole: it may carry credentials. */
  readonly metadata: Metadata;
  /** The call's gRPC deadline as epoch milliseconds; undefined when the client set none. */
  readonly deadline: number | undefined;
  /**
   * Aborts when the client cancels, the deadline passes or the server cuts
   * the call off while shutting down; the reason is a {@link ServiceError}
   * (CANCELLED, DEADLINE_EXCEEDED or UNAVAILABLE).
   */
  readonly signal: AbortSignal;
  /** Remote address, for logs (computed on first read). */
  readonly peer: string;
  /** The client's TLS certificate when the connection is TLS and the client sent one (read by `mtls` auth). */
  readonly peerCertificate: PeerCertificate | undefined;
  /** Set by the auth interceptor; handlers read it through {@link identityOf}. */
  identity: Identity | undefined;
  /**
   * W3C traceparent of the server's RPC span (the caller's trace, when it
   * sent a valid `traceparent`); set by the tracing interceptor and carried
   * into the message meta by Emit/Call/CallStream.
   */
  traceparent?: string;
  /** The client trace id this call concerns, once a handler knows it (for the access log). */
  traceId?: string;
  /**
   * True once a response can no longer reach the client: the signal
   * aborted, or the deadline is reached. The deadline check matters
   * because grpc-js ends the call at its deadline a tick before the signal
   * aborts; a handler that took an update in that tick must put it back.
   */
  isOver(): boolean;
  /** Throws why the call is over (the abort reason, or DEADLINE_EXCEEDED); returns when it is not. */
  throwIfOver(): void;
  /**
   * Gives up on the call: aborts {@link signal} with `reason`, which then
   * becomes the call's status (e.g. RESOURCE_EXHAUSTED when admission
   * timed out). No-op when already aborted.
   */
  abort(reason: Error): void;
}

/** The rest of the chain: the next interceptor, or finally the handler. */
export type RpcNext = (call: RpcCall) => Promise<unknown>;

/**
 * Wraps the rest of the chain: `(next) => async (call) => result`. An
 * interceptor may reject the call (throw a {@link ServiceError}), enrich it
 * (set `identity`) or observe the result. Auth modes (none, jwt, mtls,
 * header), draining and metrics are interceptors.
 */
export type Interceptor = (next: RpcNext) => RpcNext;

/** Composes interceptors around `handler`; the first interceptor runs first. */
export function compose(interceptors: readonly Interceptor[], handler: RpcNext): RpcNext {
  return interceptors.reduceRight<RpcNext>((next, interceptor) => interceptor(next), handler);
}

/**
 * The caller's identity.
 *
 * @throws ServiceError UNAUTHENTICATED when no auth interceptor ran (a
 *   wiring bug must fail closed, never serve an anonymous tenant).
 */
export function identityOf(call: RpcCall): Identity {
  if (call.identity === undefined) throw new ServiceError('UNAUTHENTICATED', 'no identity established for this call');
  return call.identity;
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
