/**
 * OpenTelemetry spans through `@opentelemetry/api`: one SERVER span per RPC
 * and one INTERNAL span per node invocation. Without a registered SDK the
 * API is a no-op, so this costs a few allocations per call and nothing is
 * exported.
 */
import { context, ProxyTracerProvider, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Attributes, type Context, type Span, type Tracer, type TracerProvider } from '@opentelemetry/api';
import type { FlowEvent, Middleware } from '../runtime/index.js';
import { runNext, whenSettled, type Interceptor } from '../rpc/interceptor.js';
import type { RpcMetadata } from '../rpc/metadata.js';
import { grpcCodeOf } from '../rpc/service-error.js';
import { formatTraceparent, parseTraceparent, TRACEPARENT, TRACESTATE } from '../internal/trace-context.js';

/** Instrumentation scope of every span the service creates. */
export const TRACER_NAME = 'penguiflow';

/**
 * The service's tracer. A proxy: it delegates to whatever SDK is
 * registered globally, even one registered after it was obtained, so
 * callers obtain it once and keep it.
 */
export function tracer(): Tracer {
  return trace.getTracer(TRACER_NAME);
}

/** What the global provider delegates to while no SDK is registered (the API's no-op provider). */
// ProxyTracerProvider is deprecated in the API but still the global provider's class and the only public way to reach the no-op delegate.
const NOOP_PROVIDER: TracerProvider = new ProxyTracerProvider().getDelegate();

/**
 * True when an OpenTelemetry SDK (a tracer provider) is registered
 * globally. Checked per call, so an SDK registered after start-up takes
 * effect at once. Without one every span would be a no-op, so the
 * interceptor and {@link nodeSpans} skip building them (several objects
 * and a context switch per RPC and per node invocation).
 */
export function tracingActive(): boolean {
  const provider = trace.getTracerProvider();
  return !(provider instanceof ProxyTracerProvider) || provider.getDelegate() !== NOOP_PROVIDER;
}

/** An RPC's span and the traceparent to propagate downstream. */
export interface RpcSpan {
  readonly span: Span;
  /** traceparent of the RPC span (the caller's own when no SDK records), undefined when there is no trace. */
  readonly traceparent: string | undefined;
}

/** The caller's trace context from its request headers, as an OpenTelemetry context (ROOT when absent or invalid). */
export function contextFromMetadata(metadata: RpcMetadata): Context {
  const parent = parseTraceparent(metadata.get(TRACEPARENT)[0], metadata.get(TRACESTATE)[0]);
  return parent === undefined ? ROOT_CONTEXT : trace.setSpanContext(ROOT_CONTEXT, parent);
}

/** Starts the SERVER span of an RPC, child of the caller's `traceparent` when one was sent. */
export function startRpcSpan(service: string, method: string, metadata: RpcMetadata, using: Tracer = tracer()): RpcSpan {
  const parent = contextFromMetadata(metadata);
  const span = using.startSpan(
    `${service}/${method}`,
    { kind: SpanKind.SERVER, attributes: { 'rpc.system': 'grpc', 'rpc.service': service, 'rpc.method': method } },
    parent,
  );
  return { span, traceparent: formatTraceparent(span.spanContext()) };
}

/** Ends an RPC span with its gRPC status. */
export function endRpcSpan(span: Span, grpcCode: number, codeName: string): void {
  span.setAttribute('rpc.grpc.status_code', grpcCode);
  if (grpcCode !== 0) span.setStatus({ code: SpanStatusCode.ERROR, message: codeName });
  span.end();
}

/** Events that close one node invocation, with the span status they imply. */
const INVOCATION_END: Readonly<Record<string, 'ok' | 'error' | 'cancelled' | undefined>> = {
  node_success: 'ok',
  node_error: 'error',
  node_timeout: 'error',
  node_trace_cancelled: 'cancelled',
};

/** Options of {@link nodeSpans}. */
export interface NodeSpansOptions {
  /** Hosted flow name (span name prefix and attribute). */
  flow: string;
  /** The client trace id of an event (the runtime's is an internal key); undefined when unknown. */
  clientTraceId?: (event: FlowEvent) => string | undefined;
}

/**
 * A middleware creating one INTERNAL span per node invocation, child of the
 * trace's `traceparent` (carried in `event.extra.traceparent`).
 *
 * The span is created when the invocation ends (node_success, node_error,
 * node_timeout, node_trace_cancelled), back-dated by the event's latency to
 * when the node_start event fired, so no state is kept per invocation and
 * concurrent invocations of one node can never be mismatched.
 */
export function nodeSpans(opts: NodeSpansOptions): Middleware {
  const t = tracer();
  return (event) => {
    const outcome = INVOCATION_END[event.eventType];
    if (outcome === undefined || event.latencyMs === undefined || !tracingActive()) return;
    const tp = event.extra.traceparent;
    const parentCtx = typeof tp === 'string' ? parseTraceparent(tp) : undefined;
    const parent = parentCtx === undefined ? ROOT_CONTEXT : trace.setSpanContext(ROOT_CONTEXT, parentCtx);
    const attributes: Attributes = {
      'penguiflow.flow': opts.flow,
      'penguiflow.node': event.nodeName ?? '',
      'penguiflow.node_id': event.nodeId ?? '',
      'penguiflow.attempt': event.attempt,
      'penguiflow.outcome': event.eventType,
    };
    const traceId = opts.clientTraceId?.(event);
    if (traceId !== undefined) attributes['penguiflow.trace_id'] = traceId;
    const span = t.startSpan(`${opts.flow}/${event.nodeName ?? 'node'}`, { kind: SpanKind.INTERNAL, startTime: event.ts - event.latencyMs, attributes }, parent);
    if (outcome === 'error') {
      const type = event.extra.exceptionType;
      span.setStatus({ code: SpanStatusCode.ERROR, message: typeof type === 'string' ? type : event.eventType });
    }
    span.end(event.ts);
  };
}

/** Runs `fn` with `span` active (so spans started inside become its children). */
export function withSpan<T>(span: Span, fn: () => T): T {
  return context.with(trace.setSpan(context.active(), span), fn);
}

/**
 * The tracing interceptor: a SERVER span per RPC, child of the caller's
 * `traceparent`; sets `call.traceparent` for the handlers (message meta)
 * and the access log.
 */
export function tracingInterceptor(service: string): Interceptor {
  const t = tracer();
  return (next) => (call) => {
    if (!tracingActive()) {
      // No SDK: the RPC span would be a no-op carrying the caller's context,
      // so only the caller's traceparent (normalized) is propagated.
      const parent = parseTraceparent(call.metadata.get(TRACEPARENT)[0]);
      if (parent !== undefined) call.traceparent = formatTraceparent(parent);
      return next(call);
    }
    const { span, traceparent } = startRpcSpan(service, call.method, call.metadata, t);
    if (traceparent !== undefined) call.traceparent = traceparent;
    return whenSettled(
      withSpan(span, () => runNext(next, call)),
      (code) => {
        if (call.traceId !== undefined) span.setAttribute('penguiflow.trace_id', call.traceId);
        endRpcSpan(span, code === 'OK' ? 0 : grpcCodeOf(code), code);
      },
    );
  };
}
