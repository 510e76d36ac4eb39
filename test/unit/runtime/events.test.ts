import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import {
  create,
  FLOW_EVENT_TYPES,
  FlowEvent,
  InMemoryStateStore,
  logFlowEvents,
  Node,
  type StateStore,
} from '../../../src/runtime/index.js';
import { msg, recorder, until } from './helpers.js';

function capture(): { logger: pino.Logger; lines: () => Record<string, unknown>[] } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk.toString());
      cb();
    },
  });
  const logger = pino({ level: 'trace' }, stream);
  return { logger, lines: () => chunks.join('').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe('events and middlewares', () => {
  it('emits node_start/node_success with queue depths and trace pending/inflight counts', async () => {
    const rec = recorder();
    const a = new Node((m: unknown) => m, { name: 'a' });
    const b = new Node((m: unknown) => m, { name: 'b' });
    const flow = create([a.to(b), b.to()], { middlewares: [rec.middleware], queueMaxsize: 7 });
    flow.run();
    const m = msg(1);
    await flow.emit(m);
    await flow.fetch({ traceId: m.traceId });
    expect(rec.types(m.traceId)).toEqual(['node_start', 'node_success', 'node_start', 'node_success']);
    const start = rec.events[0]!;
    expect(start).toMatchObject({ nodeName: 'a', nodeId: a.id, traceId: m.traceId, attempt: 0, queueMaxsize: 7, outgoingEdges: 1, tracePending: 1, traceInflight: 1, traceCancelled: false });
    const success = rec.events[1]!;
    expect(success.latencyMs).toBeGreaterThanOrEqual(0);
    expect(rec.events[3]!.outgoingEdges).toBe(0);
    await flow.stop();
  });

  it('logs a throwing or rejecting middleware and keeps the flow and other middlewares running', async () => {
    const cap = capture();
    const rec = recorder();
    const echo = new Node((m: unknown) => m, { name: 'echo' });
    const flow = create([echo.to()], {
      logger: cap.logger,
      middlewares: [
        () => {
          throw new Error('sync boom');
        },
        () => Promise.reject(new Error('async boom')),
        rec.middleware,
      ],
    });
    flow.run();
    const m = msg('ok');
    await flow.emit(m);
    await expect(flow.fetch({ traceId: m.traceId })).resolves.toMatchObject({ payload: 'ok' });
    await until(() => cap.lines().length >= 4);
    expect(rec.types(m.traceId)).toEqual(['node_start', 'node_success']);
    const errs = cap.lines().filter((l) => l.msg === 'middleware failed; event skipped for it');
    expect(errs.length).toBe(4);
    expect(errs.map((e) => (e.err as { message: string }).message).sort()).toEqual(['async boom', 'async boom', 'sync boom', 'sync boom']);
    await flow.stop();
  });

  it('FlowEvent exposes a flat payload, numeric metric samples and low-cardinality tags (no trace id)', () => {
    const e = new FlowEvent({
      eventType: 'node_success', ts: 1, nodeName: 'n', nodeId: 'id', traceId: 'T', attempt: 2, latencyMs: 3.5,
      queueDepthIn: 4, queueDepthOut: 5, outgoingEdges: 1, queueMaxsize: 64, tracePending: 2, traceInflight: 1,
      traceCancelled: false, extra: { custom: 'x', event: 'must-not-override' },
    });
    expect(e.toPayload()).toMatchObject({ event: 'node_success', node_name: 'n', trace_id: 'T', latency_ms: 3.5, q_depth_total: 9, custom: 'x' });
    expect(e.metricSamples()).toEqual({ queue_depth_in: 4, queue_depth_out: 5, queue_depth_total: 9, outgoing_edges: 1, queue_maxsize: 64, attempt: 2, trace_cancelled: 0, latency_ms: 3.5, trace_pending: 2, trace_inflight: 1 });
    expect(e.tagValues()).toEqual({ event_type: 'node_success', node_name: 'n', node_id: 'id' });
    expect(JSON.stringify(e.tagValues())).not.toContain('T"');
    expect(FLOW_EVENT_TYPES).toHaveLength(11);
  });

  it('logFlowEvents writes one JSON line per event without message payloads, errors at error level', async () => {
    const cap = capture();
    const ok = new Node((m: unknown) => m, { name: 'ok' });
    const bad = new Node(() => {
      throw new Error('nope');
    }, { name: 'bad' });
    const flow = create([ok.to(bad), bad.to()], { middlewares: [logFlowEvents(cap.logger, { bindings: { flow: 'demo' } })] });
    flow.run();
    const m = msg({ secret: 'canary-payload-7731' });
    await flow.emit(m);
    await flow.fetch({ traceId: m.traceId }).catch(() => undefined);
    await until(() => cap.lines().length >= 5);
    const lines = cap.lines();
    expect(lines.map((l) => l.msg)).toEqual(['node_start', 'node_success', 'node_start', 'node_error', 'node_failed']);
    expect(lines.every((l) => l.flow === 'demo' && l.trace_id === m.traceId)).toBe(true);
    expect(lines.filter((l) => l.level === 50).map((l) => l.msg)).toEqual(['node_error', 'node_failed']);
    expect(JSON.stringify(lines)).not.toContain('canary-payload-7731');
    await flow.stop();
  });

  it('saves every event to the state store as a StoredEvent and loadHistory returns them in order', async () => {
    const store = new InMemoryStateStore();
    const rec = recorder();
    const a = new Node((m: unknown) => m, { name: 'a' });
    const flow = create([a.to()], { stateStore: store, middlewares: [rec.middleware] });
    flow.run();
    const m = msg(1);
    await flow.emit(m);
    await flow.fetch({ traceId: m.traceId });
    const history = await flow.loadHistory(m.traceId);
    expect(history.map((h) => h.kind)).toEqual(rec.types(m.traceId));
    expect(history[0]).toMatchObject({ traceId: m.traceId, nodeName: 'a', kind: 'node_start' });
    // idempotent by id
    await store.saveEvent(history[0]!);
    expect(await flow.loadHistory(m.traceId)).toHaveLength(history.length);
    await flow.stop();
  });

  it('a failing state store never breaks the flow', async () => {
    const cap = capture();
    const broken: StateStore = {
      saveEvent: () => Promise.reject(new Error('db down')),
      loadHistory: () => Promise.resolve([]),
      saveRemoteBinding: () => Promise.resolve(),
    };
    const throwing: StateStore = { ...broken, saveEvent: () => { throw new Error('sync db down'); } };
    for (const store of [broken, throwing]) {
      const echo = new Node((m: unknown) => m, { name: 'echo' });
      const flow = create([echo.to()], { stateStore: store, logger: cap.logger });
      flow.run();
      const m = msg('fine');
      await flow.emit(m);
      await expect(flow.fetch({ traceId: m.traceId })).resolves.toMatchObject({ payload: 'fine' });
      await flow.stop();
    }
    await until(() => cap.lines().some((l) => l.msg === 'state store saveEvent failed'));
  });

  it('loadHistory without a store rejects clearly', async () => {
    const flow = create([new Node((m: unknown) => m, { name: 'x' }).to()]);
    await expect(flow.loadHistory('t')).rejects.toThrow(/stateStore/);
  });

  it('addMiddleware attaches a middleware to a running flow', async () => {
    const echo = new Node((m: unknown) => m, { name: 'echo' });
    const flow = create([echo.to()]);
    flow.run();
    const rec = recorder();
    flow.addMiddleware(rec.middleware);
    const m = msg(1);
    await flow.emit(m);
    await flow.fetch({ traceId: m.traceId });
    expect(rec.types(m.traceId)).toEqual(['node_start', 'node_success']);
    await flow.stop();
  });
});
