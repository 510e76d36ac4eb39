/**
 * trace-context delegates to OpenTelemetry's W3C propagator; these are the
 * rules it adds on top (and that the hand-written parser had): only the
 * sampled flag survives, surrounding whitespace is ignored, over-long
 * values are not parsed, and the trace state rides along.
 */
import { describe, expect, it } from 'vitest';
import { formatTraceparent, isTraceparent, parseTraceparent } from '../../../src/internal/trace-context.js';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN_ID = '00f067aa0ba902b7';

describe('trace context', () => {
  it('keeps only the sampled flag when parsing and formatting', () => {
    expect(parseTraceparent(`00-${TRACE_ID}-${SPAN_ID}-03`)?.traceFlags).toBe(1);
    expect(parseTraceparent(`00-${TRACE_ID}-${SPAN_ID}-02`)?.traceFlags).toBe(0);
    expect(formatTraceparent({ traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: 0xff })).toBe(`00-${TRACE_ID}-${SPAN_ID}-01`);
    expect(formatTraceparent({ traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: 0 })).toBe(`00-${TRACE_ID}-${SPAN_ID}-00`);
  });

  it('formats nothing for an invalid span context', () => {
    expect(formatTraceparent({ traceId: '0'.repeat(32), spanId: SPAN_ID, traceFlags: 1 })).toBeUndefined();
  });

  it('ignores surrounding whitespace and refuses over-long values unparsed', () => {
    expect(isTraceparent(`  00-${TRACE_ID}-${SPAN_ID}-01 \t`)).toBe(true);
    expect(isTraceparent(`01-${TRACE_ID}-${SPAN_ID}-01-${'x'.repeat(600)}`)).toBe(false);
  });

  it('carries the trace state sent with the parent', () => {
    const ctx = parseTraceparent(`00-${TRACE_ID}-${SPAN_ID}-01`, 'vendor=abc,other=1');
    expect(ctx?.traceState?.get('vendor')).toBe('abc');
    expect(ctx?.traceState?.serialize()).toBe('vendor=abc,other=1');
    expect(parseTraceparent(`00-${TRACE_ID}-${SPAN_ID}-01`, '')?.traceState).toBeUndefined();
  });
});
