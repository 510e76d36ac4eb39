/**
 * Binds the server's handlers to grpc-js: builds the {@link RpcCall},
 * runs the interceptor chain, and turns every outcome into exactly one
 * response or status. Nothing a client sends can make a handler's failure
 * escape as an unhandled rejection or crash the process.
 */
import type { handleServerStreamingCall, handleUnaryCall, ServerUnaryCall, ServerWritableStream } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { PeerCertificate } from 'node:tls';
import { onceOrAbort } from '../../internal/once-or-abort.js';
import type { ActiveCall, CallRegistry } from '../../rpc/call-registry.js';
import type { Identity, RpcCall } from '../../rpc/call.js';
import { compose, runNext, type Interceptor } from '../../rpc/interceptor.js';
import type { RpcMetadata } from '../../rpc/metadata.js';
import type { DecodedRequest } from './service-definition.js';
import { ServiceError, toServiceError } from '../../rpc/service-error.js';
import { toGrpcStatus, type GrpcStatusObject } from './grpc-status.js';

/** Writes a server stream's responses, honouring transport backpressure. */
export interface StreamSink<Res> {
  /**
   * Sends one response; resolves when the transport accepted it (waits on
   * a full buffer).
   *
   * @throws the call's abort reason once the client went away or the call was cut off.
   */
  send(response: Res): Promise<void>;
}

/** A unary handler: resolve with the response or throw. */
export type UnaryHandler<Req, Res> = (call: RpcCall<Req>) => Promise<Res>;

/** A server-streaming handler: send responses, then resolve (status OK) or throw (the error's status). */
export type ServerStreamHandler<Req, Res> = (call: RpcCall<Req>, sink: StreamSink<Res>) => Promise<void>;

/** What every binding shares. */
export interface BindingContext {
  /** Run in order before every handler (drain gate, auth, …). */
  readonly interceptors: readonly Interceptor[];
  readonly calls: CallRegistry;
  readonly logger: Logger;
}

/** Per-method binding options. */
export interface BindOptions {
  /** End this call as soon as draining starts (open-ended streams). */
  endOnDrain?: boolean;
}

type GrpcCall<Req> = ServerUnaryCall<DecodedRequest<Req>, unknown> | ServerWritableStream<DecodedRequest<Req>, unknown>;

/** Slack for timer rounding when telling "deadline passed" from "client cancelled". */
const DEADLINE_SLACK_MS = 5;

function deadlineOf(call: GrpcCall<unknown>): number | undefined {
  const raw = call.getDeadline();
  const ms = typeof raw === 'number' ? raw : raw.getTime();
  return Number.isFinite(ms) ? ms : undefined;
}

/**
 * One bound call: the {@link RpcCall} handlers see and the registry's
 * {@link ActiveCall}, as one object with its methods on the prototype
 * (built for every RPC, so no closures per call beyond the cancel listener).
 */
class BoundCall<Req> implements RpcCall<Req>, ActiveCall {
  readonly request: Req;
  readonly requestBytes: number;
  /** grpc-js' `Metadata`, which has the shape of {@link RpcMetadata}: passed as is. */
  readonly metadata: RpcMetadata;
  readonly deadline: number | undefined;
  readonly endOnDrain: boolean;
  identity: Identity | undefined = undefined;
  traceparent?: string;
  traceId?: string;
  /** Created on first read of {@link signal}: most calls are answered without anyone waiting on it. */
  #controller: AbortController | undefined;
  #aborted = false;
  #reason: Error | undefined;
  /** True once the 'cancelled' listener is on (see {@link signal}). */
  #listening = false;
  readonly #call: GrpcCall<Req>;
  readonly #calls: CallRegistry;
  /** Set once answered, so grpc-js' later 'cancelled' notification is not mistaken for a client cancel. */
  #finished = false;
  readonly #onCancelled = (): void => {
    if (this.#finished || this.#aborted) return;
    const deadline = this.deadline;
    const byDeadline = deadline !== undefined && Date.now() >= deadline - DEADLINE_SLACK_MS;
    this.abort(
      byDeadline
        ? new ServiceError('DEADLINE_EXCEEDED', 'the call deadline passed', { reason: 'CALL_DEADLINE_EXCEEDED' })
        : new ServiceError('CANCELLED', 'the client cancelled the call', { reason: 'CALL_CANCELLED' }),
    );
  };

  constructor(
    readonly method: string,
    call: GrpcCall<Req>,
    calls: CallRegistry,
    opts: BindOptions,
    request: Req,
    bytes: number,
  ) {
    this.request = request;
    this.requestBytes = bytes;
    this.metadata = call.metadata;
    this.deadline = deadlineOf(call);
    this.endOnDrain = opts.endOnDrain ?? false;
    this.#call = call;
    this.#calls = calls;
    calls.add(this);
    // Under load grpc-js may have ended the call (deadline, client cancel)
    // before the handler got to run; its 'cancelled' event is then gone.
    if (call.cancelled) this.#onCancelled();
  }

  /**
   * Created on first read, together with the listener for grpc-js'
   * 'cancelled' event: a call answered without waiting on anything needs
   * neither (its `cancelled` flag is read by {@link isOver} instead).
   */
  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort(this.#reason);
      else if (!this.#finished) {
        this.#listening = true;
        this.#call.once('cancelled', this.#onCancelled);
        if (this.#call.cancelled) this.#onCancelled();
      }
    }
    return this.#controller.signal;
  }

  get peer(): string {
    return this.#call.getPeer();
  }

  get peerCertificate(): PeerCertificate | undefined {
    const cert = this.#call.getAuthContext().sslPeerCertificate;
    // Node reports "no certificate" as an empty object.
    return cert === undefined || Object.keys(cert).length === 0 ? undefined : cert;
  }

  isOver(): boolean {
    if (!this.#aborted && this.#call.cancelled) this.#onCancelled();
    const deadline = this.deadline;
    return this.#aborted || (deadline !== undefined && Date.now() >= deadline - DEADLINE_SLACK_MS);
  }

  throwIfOver(): void {
    if (!this.#aborted && this.#call.cancelled) this.#onCancelled();
    if (this.#aborted) throw this.#reason!;
    if (this.isOver()) throw new ServiceError('DEADLINE_EXCEEDED', 'the call deadline passed', { reason: 'CALL_DEADLINE_EXCEEDED' });
  }

  abort(reason: Error): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    this.#controller?.abort(reason);
  }

  /** The call is answered: stop listening and leave the registry. */
  finish(): void {
    this.#finished = true;
    if (this.#listening) this.#call.removeListener('cancelled', this.#onCancelled);
    this.#calls.delete(this);
  }
}

function failure(err: unknown, method: string, logger: Logger): GrpcStatusObject {
  const se = toServiceError(err);
  if (se.code === 'INTERNAL') {
    const cause = se.cause;
    // Type and message only: stacks and causes may quote request data.
    logger.error({ method, err: cause instanceof Error ? { type: cause.name, message: cause.message } : { type: typeof cause } }, 'internal error in handler');
  }
  return toGrpcStatus(se);
}

function malformed(method: string, decoded: { error: Error }): ServiceError {
  return new ServiceError('INVALID_ARGUMENT', `the request body is not a valid ${method} request`, {
    reason: 'MALFORMED_REQUEST',
    fieldViolations: [{ field: '', description: `undecodable protobuf (${decoded.error.name})` }],
  });
}

/** Adapts a unary handler to grpc-js. */
export function bindUnary<Req, Res>(method: string, handler: UnaryHandler<Req, Res>, ctx: BindingContext, opts: BindOptions = {}): handleUnaryCall<DecodedRequest<Req>, Res> {
  const chain = compose(ctx.interceptors, (rpc) => handler(rpc as RpcCall<Req>));
  return (call, callback) => {
    const decoded = call.request;
    if (!decoded.ok) {
      callback(toGrpcStatus(malformed(method, decoded)));
      return;
    }
    const prepared = new BoundCall(method, call, ctx.calls, opts, decoded.message, decoded.bytes);
    runNext(chain, prepared).then(
      (response) => {
        prepared.finish();
        callback(null, response as Res);
      },
      (err: unknown) => {
        prepared.finish();
        callback(failure(err, method, ctx.logger));
      },
    );
  };
}

/** Adapts a server-streaming handler to grpc-js. */
export function bindServerStream<Req, Res>(
  method: string,
  handler: ServerStreamHandler<Req, Res>,
  ctx: BindingContext,
  opts: BindOptions = {},
): handleServerStreamingCall<DecodedRequest<Req>, Res> {
  return (call) => {
    const decoded = call.request;
    if (!decoded.ok) {
      call.emit('error', toGrpcStatus(malformed(method, decoded)));
      return;
    }
    const prepared = new BoundCall(method, call, ctx.calls, opts, decoded.message, decoded.bytes);
    const signal = prepared.signal;
    const sink: StreamSink<Res> = {
      send: (response) => {
        if (signal.aborted) return Promise.reject(signal.reason as Error);
        let accepted: boolean;
        try {
          accepted = call.write(response);
        } catch (err) {
          return Promise.reject(err);
        }
        // A full transport buffer: wait for it to drain, or for the call to end.
        return accepted ? Promise.resolve() : onceOrAbort(call, 'drain', signal);
      },
    };
    const chain = compose(ctx.interceptors, (rpc) => handler(rpc as RpcCall<Req>, sink));
    runNext(chain, prepared).then(
      () => {
        prepared.finish();
        call.end();
      },
      (err: unknown) => {
        prepared.finish();
        const status = failure(err, method, ctx.logger);
        if (!call.cancelled) call.emit('error', status);
      },
    );
  };
}
