/**
 * W3C trace context: a `traceparent` in gRPC metadata reaches the message
 * meta, the access log and the trace's FlowEvents; OpenTelemetry spans
 * (one per RPC, one per node invocation) are children of the caller's span.
 */
import {
  trace,
  TraceFlags,
  type Context,
  type Span,
  type SpanContext,
  type SpanOptions,
  type Tracer,
  type TracerProvider,
} from '@opentelemetry/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configureLogging } from '../../src/observability/logger.js';
import { formatTraceparent, parseTraceparent } from '../../src/internal/trace-context.js';
import { eventually, startHarness, value, type Harness } from './helpers/harness.js';
import { logCapture } from './helpers/ops.js';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT_SPAN = '00f067aa0ba902b7';
const TRACEPARENT = `00-${TRACE_ID}-${PARENT_SPAN}-01`;

interface Recorded {
  name: string;
  parent: SpanContext | undefined;
  ctx: SpanContext;
  options: SpanOptions;
  attributes: Record<string, unknown>;
  ended: boolean;
  status: number | undefined;
}

/** A recording TracerProvider: enough of an SDK to see what the server creates. */
class RecordingProvider implements TracerProvider {
  readonly spans: Recorded[] = [];
  #n = 0;
  getTracer(): Tracer {
    const startSpan = (name: string, options: SpanOptions = {}, ctx?: Context): Span => {
      const parent = ctx === undefined ? undefined : trace.getSpanContext(ctx);
      const spanId = (++this.#n).toString(16).padStart(16, '0');
      const rec: Recorded = {
        name,
        parent,
        ctx: { traceId: parent?.traceId ?? 'a'.repeat(32), spanId, traceFlags: TraceFlags.SAMPLED },
        options,
        attributes: { ...(options.attributes ?? {}) },
        ended: false,
        status: undefined,
      };
      this.spans.push(rec);
      const span: Span = {
        spanContext: () => rec.ctx,
        setAttribute: (k, v) => ((rec.attributes[k] = v), span),
        setAttributes: (a) => (Object.assign(rec.attributes, a), span),
        addEvent: () => span,
        addLink: () => span,
        addLinks: () => span,
        setStatus: (s) => ((rec.status = s.code), span),
        updateName: () => span,
        end: () => void (rec.ended = true),
        isRecording: () => true,
        recordException: () => undefined,
      };
      return span;
    };
    return {
      startSpan,
      startActiveSpan: (() => {
        throw new Error('unused');
      }),
    };
  }
}

describe('traceparent parsing', () => {
  it('accepts valid values and rejects invalid ones', () => {
    expect(parseTraceparent(TRACEPARENT)).toMatchObject({ traceId: TRACE_ID, spanId: PARENT_SPAN, traceFlags: 1, isRemote: true });
    expect(formatTraceparent(parseTraceparent(TRACEPARENT)!)).toBe(TRACEPARENT);
    expect(parseTraceparent(`01-${TRACE_ID}-${PARENT_SPAN}-01-future`)).toBeDefined();
    for (const bad of [
      '',
      'garbage',
      `ff-${TRACE_ID}-${PARENT_SPAN}-01`,
      `00-${'0'.repeat(32)}-${PARENT_SPAN}-01`,
      `00-${TRACE_ID}-${'0'.repeat(16)}-01`,
      `00-${TRACE_ID.toUpperCase()}-${PARENT_SPAN}-01`,
      `00-${TRACE_ID}-${PARENT_SPAN}-01-extra`,
      undefined,
      42,
    ]) {
      expect(parseTraceparent(bad), String(bad)).toBeUndefined();
    }
  });
});

describe('trace context propagation', () => {
  const provider = new RecordingProvider();
  const cap = logCapture();
  let h: Harness;

  beforeAll(async () => {
    trace.setGlobalTracerProvider(provider);
    h = await startHarness({}, { logger: configureLogging({ level: 'debug', destination: cap.destination }) });
  });

  afterAll(async () => {
    await h.stop();
    trace.disable();
  });

  it('carries the traceparent into message meta, the access log and the events', async () => {
    const res = await h.client.unary('Call', { flow: 'echo', message: { traceId: 'tp-trace-1', payload: value('hi') } }, { timeoutMs: 5000, metadata: { traceparent: TRACEPARENT } });
    expect(res.result.case).toBe('output');
    const output = res.result.case === 'output' ? res.result.value : undefined;
    const meta = output!.meta as Record<string, string>;
    // The server span is a child of the caller's: same trace, new span id.
    const propagated = parseTraceparent(meta.traceparent)!;
    expect(propagated.traceId).toBe(TRACE_ID);
    const rpcSpan = provider.spans.find((s) => s.name === 'penguiflow.v1.FlowService/Call')!;
    expect(rpcSpan.parent).toMatchObject({ traceId: TRACE_ID, spanId: PARENT_SPAN });
    expect(propagated.spanId).toBe(rpcSpan.ctx.spanId);

    await eventually(() => cap.lines.some((l) => l.log === 'access'));
    const access = cap.lines.find((l) => l.log === 'access')!;
    expect(access.traceparent).toBe(meta.traceparent);
    const eventLines = cap.lines.filter((l) => l.trace_id === 'tp-trace-1' && typeof l.event === 'string');
    expect(eventLines.length).toBeGreaterThan(0);
    for (const l of eventLines) expect(l.traceparent).toBe(meta.traceparent);

    const history = await h.client.unary('GetHistory', { flow: 'echo', traceId: 'tp-trace-1' }, { timeoutMs: 5000 });
    expect(history.events.length).toBeGreaterThan(0);
    for (const e of history.events) expect(e.extra).toMatchObject({ traceparent: meta.traceparent });
  });

  it('creates one span per RPC and one per node invocation, parented on the trace', async () => {
    provider.spans.length = 0;
    await h.client.unary('Call', { flow: 'chain5', message: { payload: value({ n: 1 }) } }, { timeoutMs: 5000, metadata: { traceparent: TRACEPARENT } });
    await eventually(() => provider.spans.filter((s) => s.name.startsWith('chain5/')).length === 5);
    const rpc = provider.spans.filter((s) => s.name === 'penguiflow.v1.FlowService/Call');
    expect(rpc).toHaveLength(1);
    expect(rpc[0]).toMatchObject({ ended: true, attributes: { 'rpc.system': 'grpc', 'rpc.method': 'Call', 'rpc.grpc.status_code': 0 } });
    const nodes = provider.spans.filter((s) => s.name.startsWith('chain5/'));
    expect(nodes.map((s) => s.name).sort()).toEqual(['chain5/hop1', 'chain5/hop2', 'chain5/hop3', 'chain5/hop4', 'chain5/hop5']);
    for (const s of nodes) {
      expect(s.ended).toBe(true);
      expect(s.parent?.traceId).toBe(TRACE_ID);
      expect(s.parent?.spanId).toBe(rpc[0]!.ctx.spanId);
      expect(s.attributes).toMatchObject({ 'penguiflow.flow': 'chain5', 'penguiflow.outcome': 'node_success' });
      expect(typeof s.options.startTime).toBe('number');
    }
  });

  it('marks failed RPCs and ignores an invalid traceparent', async () => {
    provider.spans.length = 0;
    await h.client.unary('Fetch', { flow: 'echo', traceId: 'nope' }, { timeoutMs: 5000, metadata: { traceparent: 'not-a-traceparent' } }).catch(() => undefined);
    const rpc = provider.spans.find((s) => s.name === 'penguiflow.v1.FlowService/Fetch')!;
    expect(rpc.parent).toBeUndefined();
    expect(rpc.status).toBe(2); // SpanStatusCode.ERROR
    expect(rpc.attributes['rpc.grpc.status_code']).toBe(5);
  });
});

describe('without an OpenTelemetry SDK', () => {
  it('still propagates the caller\'s traceparent unchanged', async () => {
    const h = await startHarness();
    try {
      const res = await h.client.unary('Call', { flow: 'echo', message: { payload: value(1) } }, { timeoutMs: 5000, metadata: { traceparent: TRACEPARENT } });
      const output = res.result.case === 'output' ? res.result.value : undefined;
      expect((output!.meta as Record<string, string>).traceparent).toBe(TRACEPARENT);
      const plain = await h.client.unary('Call', { flow: 'echo', message: { payload: value(1) } }, { timeoutMs: 5000 });
      const plainOut = plain.result.case === 'output' ? plain.result.value : undefined;
      expect(plainOut!.meta?.traceparent).toBeUndefined();
    } finally {
      await h.stop();
    }
  });

  it('starts creating spans as soon as an SDK is registered, without a restart', async () => {
    const h = await startHarness();
    const provider = new RecordingProvider();
    try {
      await h.client.unary('Call', { flow: 'chain5', message: { payload: value(1) } }, { timeoutMs: 5000, metadata: { traceparent: TRACEPARENT } });
      expect(provider.spans).toHaveLength(0);
      trace.setGlobalTracerProvider(provider);
      await h.client.unary('Call', { flow: 'chain5', message: { payload: value(1) } }, { timeoutMs: 5000, metadata: { traceparent: TRACEPARENT } });
      await eventually(() => provider.spans.filter((s) => s.name.startsWith('chain5/')).length === 5);
      expect(provider.spans.filter((s) => s.name === 'penguiflow.v1.FlowService/Call')).toHaveLength(1);
    } finally {
      trace.disable();
      await h.stop();
    }
  });
});
