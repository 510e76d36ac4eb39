/**
 * W3C Trace Context (`traceparent`, `tracestate`): parsing and formatting,
 * so a caller's trace can be followed into message meta, logs, FlowEvents
 * and OpenTelemetry spans.
 */
import { createTraceState, isSpanContextValid, TraceFlags, type SpanContext } from '@opentelemetry/api';

/** gRPC metadata (and message meta) key of the W3C trace parent. */
export const TRACEPARENT = 'traceparent';
/** gRPC metadata key of the W3C trace state. */
export const TRACESTATE = 'tracestate';

/** version-traceid-parentid-flags; future versions may append `-…` fields. */
const TRACEPARENT_PATTERN = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const INVALID_TRACE_ID = '00000000000000000000000000000000';
const INVALID_SPAN_ID = '0000000000000000';
/** Longest `tracestate` carried (the spec's 32 members of at most 256 characters, with separators). */
const MAX_TRACESTATE = 8192;

/**
 * Parses a `traceparent` header value.
 *
 * @returns the remote span context, or undefined when the value is not a
 *   valid traceparent (the header is then ignored, as the spec requires).
 */
export function parseTraceparent(value: unknown, tracestate?: unknown): SpanContext | undefined {
  if (typeof value !== 'string' || value.length > 512) return undefined;
  const m = TRACEPARENT_PATTERN.exec(value.trim());
  if (m === null) return undefined;
  const [, version, traceId, spanId, flags, rest] = m as unknown as [string, string, string, string, string, string | undefined];
  if (version === 'ff' || (version === '00' && rest !== undefined)) return undefined;
  if (traceId === INVALID_TRACE_ID || spanId === INVALID_SPAN_ID) return undefined;
  const ctx: SpanContext = { traceId, spanId, traceFlags: Number.parseInt(flags, 16) & TraceFlags.SAMPLED, isRemote: true };
  if (typeof tracestate === 'string' && tracestate.length > 0 && tracestate.length <= MAX_TRACESTATE) ctx.traceState = createTraceState(tracestate);
  return ctx;
}

/** The `traceparent` of a span context (version 00); undefined for an invalid context. */
export function formatTraceparent(ctx: SpanContext): string | undefined {
  if (!isSpanContextValid(ctx)) return undefined;
  return `00-${ctx.traceId}-${ctx.spanId}-${(ctx.traceFlags & TraceFlags.SAMPLED) === 0 ? '00' : '01'}`;
}

/** True when `value` is a well-formed traceparent. */
export function isTraceparent(value: unknown): value is string {
  return parseTraceparent(value) !== undefined;
}
