/**
 * The server's view of one RPC, independent of the transport that carries
 * it, and the identity the auth interceptor establishes for it.
 */
import type { PeerCertificate } from 'node:tls';
import type { RpcMetadata } from './metadata.js';
import { ServiceError } from './service-error.js';

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
  /** Request headers (gRPC metadata). Never log them whole: they may carry credentials. */
  readonly metadata: RpcMetadata;
  /** The call's deadline as epoch milliseconds; undefined when the client set none. */
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
   * because a transport may end the call at its deadline a tick before the
   * signal aborts (grpc-js does); a handler that took an update in that
   * tick must put it back.
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
