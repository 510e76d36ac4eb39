/**
 * W3C Trace Context (`traceparent`, `tracestate`): parsing and formatting
 * through OpenTelemetry's {@link W3CTraceContextPropagator}, so a caller's
 * trace can be followed into message meta, logs, FlowEvents and spans.
 *
 * Two rules on top of the propagator: only the `sampled` bit of the trace
 * flags is kept (version 00 defines no other; unknown bits are not passed
 * on), and values longer than {@link MAX_TRACEPARENT} /
 * {@link MAX_TRACESTATE} characters are ignored without being parsed.
 */
import { ROOT_CONTEXT, trace, TraceFlags, type SpanContext, type TextMapGetter, type TextMapSetter } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';

/** gRPC metadata (and message meta) key of the W3C trace parent. */
export const TRACEPARENT = 'traceparent';
/** gRPC metadata key of the W3C trace state. */
export const TRACESTATE = 'tracestate';

/** Longest `traceparent` looked at (version 00 is 55 characters; later versions may append fields). */
const MAX_TRACEPARENT = 512;
/** Longest `tracestate` carried (the spec's 32 members of at most 256 characters, with separators). */
const MAX_TRACESTATE = 8192;

const propagator = new W3CTraceContextPropagator();

/** The two header values the propagator reads. */
interface Carrier {
  traceparent?: string;
  tracestate?: string;
}

const getter: TextMapGetter<Carrier> = {
  get: (carrier, key) => (key === TRACEPARENT ? carrier.traceparent : key === TRACESTATE ? carrier.tracestate : undefined),
  keys: (carrier) => Object.keys(carrier),
};

/** Keeps only `traceparent`: the trace state is not formatted here. */
const setter: TextMapSetter<Carrier> = {
  set: (carrier, key, value) => {
    if (key === TRACEPARENT) carrier.traceparent = value;
  },
};

/**
 * Parses a `traceparent` header value (and the `tracestate` sent with it).
 *
 * @returns the remote span context, or undefined when the value is not a
 *   valid traceparent (the header is then ignored, as the spec requires).
 */
export function parseTraceparent(value: unknown, tracestate?: unknown): SpanContext | undefined {
  if (typeof value !== 'string' || value.length > MAX_TRACEPARENT) return undefined;
  const carrier: Carrier = { traceparent: value.trim() };
  if (typeof tracestate === 'string' && tracestate.length > 0 && tracestate.length <= MAX_TRACESTATE) carrier.tracestate = tracestate;
  const parsed = trace.getSpanContext(propagator.extract(ROOT_CONTEXT, carrier, getter));
  if (parsed === undefined) return undefined;
  return { ...parsed, traceFlags: parsed.traceFlags & TraceFlags.SAMPLED };
}

/** The `traceparent` of a span context (version 00); undefined for an invalid context. */
export function formatTraceparent(ctx: SpanContext): string | undefined {
  const carrier: Carrier = {};
  const flags = ctx.traceFlags & TraceFlags.SAMPLED;
  propagator.inject(trace.setSpanContext(ROOT_CONTEXT, flags === ctx.traceFlags ? ctx : { ...ctx, traceFlags: flags }), carrier, setter);
  return carrier.traceparent;
}

/** True when `value` is a well-formed traceparent. */
export function isTraceparent(value: unknown): value is string {
  return parseTraceparent(value) !== undefined;
}
