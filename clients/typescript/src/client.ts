/**
 * The PenguiFlow client: {@link createFlowClient} and the {@link FlowClient}
 * interface it returns. gRPC over HTTP/2 via `@connectrpc/connect-node`.
 *
 * @packageDocumentation
 */
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import type { CallOptions, Client, Transport } from '@connectrpc/connect';
import { Http2SessionManager, createGrpcTransport } from '@connectrpc/connect-node';
import { FlowService } from './gen/penguiflow/v1/flow_service_pb.js';
import {
  buildMessage,
  fromCallResponse,
  fromFetchResponse,
  fromFlowEvent,
  fromFlowInfo,
  fromTraceUpdate,
  invalidArgument,
  toAfterSeq,
} from './convert.js';
import { FlowClientError } from './errors.js';
import type {
  CallResult,
  EmitResult,
  FetchResult,
  FlowEvent,
  FlowInfo,
  MessageBody,
  RequestOptions,
  SendOptions,
  SubscribeOptions,
  TraceUpdate,
} from './types.js';

/** Largest timeout the gRPC `grpc-timeout` header can carry in milliseconds (8 digits). */
const MAX_GRPC_TIMEOUT_MS = 99_999_999;

/** Options of {@link createFlowClient}. */
export interface FlowClientOptions {
  /**
   * Server address, e.g. `http://localhost:50051` (HTTP/2 cleartext, "h2c")
   * or `https://flows.internal:443` (TLS). Required unless `transport` is
   * given; ignored when it is.
   */
  baseUrl?: string;
  /**
   * Bearer token sent as `authorization: Bearer <token>` on every call.
   * A function is called before every call (sync or async), so it can
   * return a refreshed token; if it throws, the call fails with
   * `UNAUTHENTICATED` without being sent. Omit for servers that do not
   * use JWT auth.
   */
  token?: string | (() => string | Promise<string>);
  /**
   * Tenant sent as the `x-tenant-id` header on every call. Only trusted by
   * servers in `header` auth mode (behind a mesh sidecar); other modes
   * take the tenant from the token or client certificate.
   */
  tenant?: string;
  /**
   * A connect `Transport` to use instead of the built-in HTTP/2 gRPC
   * transport (e.g. one created with custom TLS `nodeOptions`, or a
   * `createRouterTransport` in tests). The client does not own it:
   * `close()` does not close its connections.
   */
  transport?: Transport;
  /**
   * Deadline in ms applied to every call that passes no `timeoutMs`,
   * except `subscribeEvents` (a live subscription is open-ended by design;
   * give it its own `timeoutMs` or `signal`). Unset = no default deadline.
   */
  defaultTimeoutMs?: number;
}

/**
 * A PenguiFlow client. Every method accepts `{ timeoutMs?, signal? }`
 * ({@link RequestOptions}); every failure is a {@link FlowClientError}
 * (a node failing for good is returned as data, never thrown).
 *
 * Streams (`callStream`, `streamTrace`, `subscribeEvents`) are lazy async
 * iterables: the RPC starts when iteration starts, and each iteration
 * starts a new RPC. Leaving a `for await` loop early (`break`, `return`,
 * `throw`) cancels the RPC.
 */
export interface FlowClient {
  /**
   * Put a message into `flow` and return its trace id without waiting for
   * any output. A `Uint8Array` body is sent as `binary`, anything else as
   * the JSON `payload`. The call's deadline (`timeoutMs`) also becomes the
   * message deadline; aborting emit after it resolved does not affect the
   * trace.
   *
   * @throws FlowClientError `NOT_FOUND` (unknown flow), `INVALID_ARGUMENT`
   *   (bad trace id, payload too large/deep, or rejected client-side),
   *   `RESOURCE_EXHAUSTED` (admission wait passed / quota; see
   *   `details.retryDelayMs`), `PERMISSION_DENIED`, `UNAUTHENTICATED`,
   *   `DEADLINE_EXCEEDED`, `UNAVAILABLE`.
   */
  emit(flow: string, body: MessageBody, options?: SendOptions): Promise<EmitResult>;

  /**
   * Return the next output of a trace (an output message, a FlowError, a
   * stream chunk, or the trace's end), waiting up to the call's deadline.
   * Each output is delivered once across all fetchers. A timed-out fetch
   * does not cancel the trace; a later fetch can still get the output.
   *
   * @throws FlowClientError `DEADLINE_EXCEEDED` (nothing before the
   *   deadline), `CANCELLED` (the trace was cancelled, or your signal
   *   aborted), `NOT_FOUND` (unknown flow or trace), `INVALID_ARGUMENT`
   *   (malformed trace id).
   */
  fetch(flow: string, traceId: string, options?: RequestOptions): Promise<FetchResult>;

  /**
   * Emit + fetch in one round trip: returns the trace id and the trace's
   * first output (`output`, `error`, or `none` if the trace ended without
   * output). Chunks before the first output are dropped; later outputs stay
   * available to `fetch`/`streamTrace`. If the call is aborted or its
   * deadline passes first, the server cancels the trace (configurable).
   *
   * @throws FlowClientError as {@link FlowClient.emit}, plus `CANCELLED`
   *   (the trace was cancelled or your signal aborted).
   */
  call(flow: string, body: MessageBody, options?: SendOptions): Promise<CallResult>;

  /**
   * Emit, then stream every chunk, output and error of the trace, ending
   * with exactly one `end` update (also for cancelled or deadline-skipped
   * traces, with the matching status). `timeoutMs` bounds the whole stream
   * and also becomes the message deadline. Breaking out of the loop, or
   * aborting `signal`, before the `end` makes the server cancel the trace
   * (configurable).
   *
   * @throws FlowClientError (from the iterator) with the codes of
   *   {@link FlowClient.emit}, `CANCELLED` (aborted), or `INTERNAL` if the
   *   server closed the stream without sending the `end` update.
   */
  callStream(flow: string, body: MessageBody, options?: SendOptions): AsyncIterable<TraceUpdate>;

  /**
   * Stream the not-yet-delivered chunks and outputs of an already emitted
   * trace, then its `end` (immediately for a finished trace). Outputs
   * already taken by fetch or call are not repeated. Leaving the loop or
   * aborting does NOT cancel the trace (use {@link FlowClient.cancel}).
   *
   * @throws FlowClientError (from the iterator) `NOT_FOUND` (unknown flow or
   *   trace), `INVALID_ARGUMENT` (malformed trace id), `DEADLINE_EXCEEDED`,
   *   `CANCELLED` (aborted), `INTERNAL` (closed without `end`).
   */
  streamTrace(flow: string, traceId: string, options?: RequestOptions): AsyncIterable<TraceUpdate>;

  /**
   * Cancel a trace: its queued messages are dropped and running nodes
   * aborted; its pending fetch/call fail with `CANCELLED` and its streams
   * end with `end.status === 'CANCELLED'`. Resolves `true` when this call
   * cancelled a running trace, `false` when the trace already finished or
   * was already cancelled (while the server still remembers it).
   *
   * @throws FlowClientError `NOT_FOUND` (unknown flow; a trace the server
   *   does not know or has forgotten; another tenant's trace),
   *   `INVALID_ARGUMENT` (malformed trace id).
   */
  cancel(flow: string, traceId: string, options?: RequestOptions): Promise<boolean>;

  /**
   * Live FlowEvents of the caller's tenant, filtered by flow, trace ids and
   * event types. With `traceIds` and `afterSeq` the server first replays the
   * stored events after that seq, then continues live without gap or
   * duplicate. The stream never ends on its own: stop it by leaving the
   * loop, aborting `signal`, or `timeoutMs` (`defaultTimeoutMs` does not
   * apply). If the server drains (`UNAVAILABLE`) or drops a slow subscriber
   * (`RESOURCE_EXHAUSTED`), resume with the last `seq` received.
   *
   * @throws FlowClientError (from the iterator) `NOT_FOUND` (unknown flow),
   *   `INVALID_ARGUMENT` (unknown event type, bad afterSeq),
   *   `RESOURCE_EXHAUSTED`, `UNAVAILABLE`, `CANCELLED`, `DEADLINE_EXCEEDED`.
   */
  subscribeEvents(options?: SubscribeOptions): AsyncIterable<FlowEvent>;

  /**
   * A trace's stored events in seq order (1, 2, 3, …), for running and
   * finished traces.
   *
   * @throws FlowClientError `NOT_FOUND` (unknown flow or trace),
   *   `INVALID_ARGUMENT` (malformed trace id).
   */
  getHistory(flow: string, traceId: string, options?: RequestOptions): Promise<FlowEvent[]>;

  /** The flows hosted by the server, sorted by name, with nodes, edges and policies. */
  listFlows(options?: RequestOptions): Promise<FlowInfo[]>;

  /**
   * Close the client: in-flight calls and streams fail with `CANCELLED`,
   * later calls fail with `FAILED_PRECONDITION` (client-side, message
   * `the client is closed`, nothing sent), and the HTTP/2 connection
   * of the built-in transport is closed (a custom `transport` is left
   * alone). Idempotent. Call it when done, or the open connection keeps
   * the Node.js process alive.
   */
  close(): void;

  /** True once {@link FlowClient.close} has been called. */
  readonly closed: boolean;
}

/**
 * Create a {@link FlowClient}. No connection is made until the first call.
 *
 * @throws FlowClientError `INVALID_ARGUMENT` (clientSide) when neither
 *   `baseUrl` nor `transport` is given, `baseUrl` is not an http(s) URL, or
 *   `defaultTimeoutMs` is not a number.
 */
export function createFlowClient(options: FlowClientOptions): FlowClient {
  return new FlowClientImpl(options);
}

type Raw = Client<typeof FlowService>;

/** Per-call state: the signal handed to connect, and how to release it. */
interface CallScope {
  callOptions: CallOptions;
  /** Abort the RPC (used when a stream consumer leaves early). */
  abort(): void;
  /** Remove the listeners linking the caller's signal and the client's close signal. */
  dispose(): void;
}

class FlowClientImpl implements FlowClient {
  readonly #raw: Raw;
  readonly #session: Http2SessionManager | undefined;
  readonly #closer = new AbortController();
  readonly #token: FlowClientOptions['token'];
  readonly #tenant: string | undefined;
  readonly #defaultTimeoutMs: number | undefined;

  constructor(options: FlowClientOptions) {
    if (options.defaultTimeoutMs !== undefined) checkTimeout(options.defaultTimeoutMs, 'defaultTimeoutMs');
    this.#token = options.token;
    this.#tenant = options.tenant;
    this.#defaultTimeoutMs = options.defaultTimeoutMs;
    let transport = options.transport;
    if (transport === undefined) {
      const baseUrl = options.baseUrl;
      if (baseUrl === undefined) throw invalidArgument('baseUrl', 'baseUrl or transport is required');
      let url: URL;
      try {
        url = new URL(baseUrl);
      } catch {
        throw invalidArgument('baseUrl', `not a URL: ${baseUrl}`);
      }
      if (url.protocol !== 'http:' && url.protocol !== 'https:') {
        throw invalidArgument('baseUrl', 'must start with http:// (h2c) or https://');
      }
      this.#session = new Http2SessionManager(url);
      transport = createGrpcTransport({ baseUrl, sessionManager: this.#session });
    }
    this.#raw = createClient(FlowService, transport);
  }

  get closed(): boolean {
    return this.#closer.signal.aborted;
  }

  close(): void {
    if (this.closed) return;
    this.#closer.abort(new ConnectError('the client was closed', Code.Canceled));
    this.#session?.abort();
  }

  emit(flow: string, body: MessageBody, options: SendOptions = {}): Promise<EmitResult> {
    return this.#unary(options, true, async (o) => {
      const message = buildMessage(body, options);
      const res = await this.#raw.emit({ flow, message, idempotencyKey: options.idempotencyKey }, o);
      return { traceId: res.traceId, deduplicated: res.deduplicated };
    });
  }

  fetch(flow: string, traceId: string, options: RequestOptions = {}): Promise<FetchResult> {
    return this.#unary(options, true, async (o) => fromFetchResponse(await this.#raw.fetch({ flow, traceId }, o)));
  }

  call(flow: string, body: MessageBody, options: SendOptions = {}): Promise<CallResult> {
    return this.#unary(options, true, async (o) => {
      const message = buildMessage(body, options);
      return fromCallResponse(await this.#raw.call({ flow, message, idempotencyKey: options.idempotencyKey }, o));
    });
  }

  callStream(flow: string, body: MessageBody, options: SendOptions = {}): AsyncIterable<TraceUpdate> {
    return this.#traceStream(options, (o) =>
      this.#raw.callStream({ flow, message: buildMessage(body, options), idempotencyKey: options.idempotencyKey }, o),
    );
  }

  streamTrace(flow: string, traceId: string, options: RequestOptions = {}): AsyncIterable<TraceUpdate> {
    return this.#traceStream(options, (o) => this.#raw.streamTrace({ flow, traceId }, o));
  }

  cancel(flow: string, traceId: string, options: RequestOptions = {}): Promise<boolean> {
    return this.#unary(options, true, async (o) => (await this.#raw.cancel({ flow, traceId }, o)).cancelled);
  }

  subscribeEvents(options: SubscribeOptions = {}): AsyncIterable<FlowEvent> {
    return this.#stream(
      options,
      false,
      (o) =>
        this.#raw.subscribeEvents(
          {
            flow: options.flow ?? '',
            traceIds: [...(options.traceIds ?? [])],
            eventTypes: [...(options.eventTypes ?? [])],
            afterSeq: toAfterSeq(options.afterSeq),
          },
          o,
        ),
      () => ({ map: (res) => (res.event === undefined ? undefined : fromFlowEvent(res.event)) }),
    );
  }

  getHistory(flow: string, traceId: string, options: RequestOptions = {}): Promise<FlowEvent[]> {
    return this.#unary(options, true, async (o) =>
      (await this.#raw.getHistory({ flow, traceId }, o)).events.map(fromFlowEvent),
    );
  }

  listFlows(options: RequestOptions = {}): Promise<FlowInfo[]> {
    return this.#unary(options, true, async (o) => (await this.#raw.listFlows({}, o)).flows.map(fromFlowInfo));
  }

  // --- plumbing ---------------------------------------------------------------

  async #unary<T>(options: RequestOptions, useDefault: boolean, run: (o: CallOptions) => Promise<T>): Promise<T> {
    const scope = await this.#open(options, useDefault);
    try {
      return await run(scope.callOptions);
    } catch (err) {
      throw FlowClientError.from(err);
    } finally {
      scope.dispose();
    }
  }

  #traceStream<Res extends { traceId: string; update?: Parameters<typeof fromTraceUpdate>[1] }>(
    options: RequestOptions,
    open: (o: CallOptions) => AsyncIterable<Res>,
  ): AsyncIterable<TraceUpdate> {
    return this.#stream(options, true, open, () => {
      let sawEnd = false;
      return {
        map: (res) => {
          const u = fromTraceUpdate(res.traceId, res.update);
          if (u?.kind === 'end') sawEnd = true;
          return u;
        },
        complete: () => {
          if (!sawEnd) throw new FlowClientError('INTERNAL', 'the server closed the trace stream without a TraceEnd');
        },
      };
    });
  }

  /**
   * A lazy stream: each iteration opens one RPC, maps its responses
   * (skipping `undefined`), runs `complete` when the server ends the stream
   * with OK, converts every failure to FlowClientError, and aborts the RPC
   * if the consumer leaves early.
   */
  #stream<Res, Out>(
    options: RequestOptions,
    useDefault: boolean,
    open: (o: CallOptions) => AsyncIterable<Res>,
    mapper: () => { map: (res: Res) => Out | undefined; complete?: () => void },
  ): AsyncIterable<Out> {
    const open_ = this.#open.bind(this);
    return {
      async *[Symbol.asyncIterator]() {
        const { map, complete } = mapper();
        const scope = await open_(options, useDefault);
        try {
          for await (const res of open(scope.callOptions)) {
            const out = map(res);
            if (out !== undefined) yield out;
          }
          complete?.();
        } catch (err) {
          throw FlowClientError.from(err);
        } finally {
          // No-op after a normal end; cancels the RPC when the consumer left early.
          scope.abort();
          scope.dispose();
        }
      },
    };
  }

  /**
   * Prepare one call: reject if closed, resolve headers (token), compute the
   * timeout, and link the caller's signal and the client's close signal to
   * one controller whose abort reason is a CANCELLED ConnectError (so the
   * code is CANCELLED whatever reason the caller aborted with).
   */
  async #open(options: RequestOptions, useDefault: boolean): Promise<CallScope> {
    if (this.closed) throw closedError();
    const timeoutMs = options.timeoutMs ?? (useDefault ? this.#defaultTimeoutMs : undefined);
    if (timeoutMs !== undefined) checkTimeout(timeoutMs, 'timeoutMs');
    const headers: Record<string, string> = {};
    if (this.#tenant !== undefined) headers['x-tenant-id'] = this.#tenant;
    const token = await this.#resolveToken();
    if (token !== undefined) headers['authorization'] = `Bearer ${token}`;

    const controller = new AbortController();
    const sources = [this.#closer.signal, options.signal].filter((s): s is AbortSignal => s !== undefined);
    const onAbort = (ev: Event): void => {
      const src = ev.target as AbortSignal;
      const reason: unknown = src.reason;
      const message = src === this.#closer.signal ? 'the client was closed' : 'the call was aborted by its signal';
      controller.abort(new ConnectError(message, Code.Canceled, undefined, undefined, reason));
    };
    for (const s of sources) {
      if (s.aborted) {
        onAbort({ target: s } as unknown as Event);
        break;
      }
      s.addEventListener('abort', onAbort, { once: true });
    }
    const callOptions: CallOptions = { headers, signal: controller.signal };
    if (timeoutMs !== undefined) {
      callOptions.timeoutMs = timeoutMs <= 0 ? 0 : Math.min(Math.ceil(timeoutMs), MAX_GRPC_TIMEOUT_MS);
    }
    return {
      callOptions,
      abort: () => controller.abort(new ConnectError('the stream was left before it ended', Code.Canceled)),
      dispose: () => {
        for (const s of sources) s.removeEventListener('abort', onAbort);
      },
    };
  }

  async #resolveToken(): Promise<string | undefined> {
    const t = this.#token;
    if (typeof t !== 'function') return t;
    try {
      return await t();
    } catch (err) {
      throw new FlowClientError('UNAUTHENTICATED', `the token provider failed: ${String(err)}`, {
        cause: err,
        clientSide: true,
      });
    }
  }
}

function checkTimeout(ms: number, field: string): void {
  if (typeof ms !== 'number' || Number.isNaN(ms)) throw invalidArgument(field, 'must be a number of milliseconds');
}

/**
 * The error of a call made after `close()`. FAILED_PRECONDITION, as in the
 * Python and Go clients: the client's state, not the call, is wrong, and
 * CANCELLED stays the answer for calls that were in flight at `close()`.
 */
function closedError(): FlowClientError {
  return new FlowClientError('FAILED_PRECONDITION', 'the client is closed', { clientSide: true });
}
