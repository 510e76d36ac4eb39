import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import {
  backoffMs,
  create,
  FlowError,
  FlowErrorCode,
  Node,
  NodeTimeoutError,
  resolvePolicy,
  TraceEndedError,
  type Context,
} from '../../../src/runtime/index.js';
import { msg, recorder, until } from './helpers.js';

describe('node policies', () => {
  it('aborts an invocation at timeoutMs: the signal fires with NodeTimeoutError and node_timeout is emitted', async () => {
    let reason: unknown;
    const rec = recorder();
    const slow = new Node(
      (_m: unknown, ctx: Context) =>
        new Promise((_resolve, reject) => {
          ctx.signal.addEventListener('abort', () => {
            reason = ctx.signal.reason;
            reject(ctx.signal.reason);
          });
        }),
      { name: 'slow', policy: { timeoutMs: 20 } },
    );
    const flow = create([slow.to()], { middlewares: [rec.middleware] });
    flow.run();
    const m = msg(1);
    const t0 = Date.now();
    await flow.emit(m);
    const err = await flow.fetch({ traceId: m.traceId }).catch((e: unknown) => e);
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(reason).toBeInstanceOf(NodeTimeoutError);
    expect(err).toBeInstanceOf(TraceEndedError);
    expect((err as TraceEndedError).status).toBe('FAILED');
    expect((err as TraceEndedError).error?.code).toBe(FlowErrorCode.NODE_TIMEOUT);
    expect(rec.types(m.traceId)).toEqual(['node_start', 'node_timeout', 'node_failed']);
    await flow.stop();
  });

  it('stops waiting for a node that ignores its signal once the timeout passes', async () => {
    const stubborn = new Node(() => new Promise(() => undefined), { name: 'stubborn', policy: { timeoutMs: 15 } });
    const flow = create([stubborn.to()], { emitErrorsToRookery: true });
    flow.run();
    const m = msg(1);
    await flow.emit(m);
    const out = await flow.fetch({ traceId: m.traceId });
    expect(out).toBeInstanceOf(FlowError);
    expect((out as FlowError).code).toBe(FlowErrorCode.NODE_TIMEOUT);
    await flow.stop();
  });


  it('counts the synchronous part of an async node against its timeout (measured from node_start, not from the first await)', async () => {
    const busy = new Node(
      async (_m: unknown, ctx: Context) => {
        const end = performance.now() + 100;
        while (performance.now() < end) {
          // Busy for 100 ms before the first await: the 120 ms timeout has 20 ms left.
        }
        await once(ctx.signal, 'abort');
        return 'late';
      },
      { name: 'busy', policy: { timeoutMs: 120 } },
    );
    const flow = create([busy.to()], { emitErrorsToRookery: true });
    flow.run();
    const m = msg(1);
    const t0 = performance.now();
    await flow.emit(m);
    const out = await flow.fetch({ traceId: m.traceId });
    expect(out).toBeInstanceOf(FlowError);
    expect((out as FlowError).code).toBe(FlowErrorCode.NODE_TIMEOUT);
    // Fired 120 ms after the node started; a timer armed only at the first
    // await would fire at 220 ms.
    expect(performance.now() - t0).toBeLessThan(190);
    await flow.stop();
  });

  it('never times out a synchronous node: its result is complete before any timer can fire', async () => {
    const sync = new Node(
      (m: unknown) => {
        const until = performance.now() + 30;
        while (performance.now() < until) {
          // Longer than the timeout, but synchronous.
        }
        return m;
      },
      { name: 'sync', policy: { timeoutMs: 5 } },
    );
    const flow = create([sync.to()]);
    flow.run();
    const m = msg(1);
    await flow.emit(m);
    expect(await flow.fetch({ traceId: m.traceId })).toEqual(m);
    await flow.stop();
  });
  it('runs maxRetries + 1 attempts in total, then fails with a FlowError (node_failed)', async () => {
    let attempts = 0;
    const rec = recorder();
    const failing = new Node(
      () => {
        attempts++;
        throw new TypeError('boom');
      },
      { name: 'failing', policy: { maxRetries: 2, backoffBaseMs: 1 } },
    );
    const flow = create([failing.to()], { middlewares: [rec.middleware], emitErrorsToRookery: true });
    flow.run();
    const m = msg(1);
    await flow.emit(m);
    const err = (await flow.fetch({ traceId: m.traceId })) as FlowError;
    expect(attempts).toBe(3);
    expect(err).toBeInstanceOf(FlowError);
    expect(err.code).toBe(FlowErrorCode.NODE_EXCEPTION);
    expect(err.exceptionType).toBe('TypeError');
    expect(err.nodeName).toBe('failing');
    expect(err.traceId).toBe(m.traceId);
    expect(rec.types(m.traceId)).toEqual([
      'node_start', 'node_error', 'node_retry',
      'node_start', 'node_error', 'node_retry',
      'node_start', 'node_error', 'node_failed',
    ]);
    await flow.stop();
  });

  it('succeeds on a retry and delivers the output once', async () => {
    let attempts = 0;
    const flaky = new Node(
      (m: unknown) => {
        if (++attempts < 3) throw new Error('transient');
        return m;
      },
      { name: 'flaky', policy: { maxRetries: 3, backoffBaseMs: 1 } },
    );
    const flow = create([flaky.to()]);
    flow.run();
    const m = msg('ok');
    await flow.emit(m);
    await expect(flow.fetch({ traceId: m.traceId })).resolves.toMatchObject({ payload: 'ok' });
    await expect(flow.fetch({ traceId: m.traceId })).rejects.toMatchObject({ status: 'COMPLETED' });
    await flow.stop();
  });

  it('backs off min(maxBackoffMs, base * mult^attempt) between attempts', async () => {
    const policy = resolvePolicy({ backoffBaseMs: 10, backoffMult: 3, maxBackoffMs: 50 });
    expect([0, 1, 2, 3].map((a) => backoffMs(policy, a))).toEqual([10, 30, 50, 50]);

    const starts: number[] = [];
    const rec = recorder();
    const failing = new Node(
      () => {
        starts.push(performance.now());
        throw new Error('x');
      },
      { name: 'f', policy: { maxRetries: 3, backoffBaseMs: 10, backoffMult: 3, maxBackoffMs: 50 } },
    );
    const flow = create([failing.to()], { middlewares: [rec.middleware] });
    flow.run();
    const m = msg(1);
    await flow.emit(m);
    await flow.fetch({ traceId: m.traceId }).catch(() => undefined);
    const sleeps = rec.events.filter((e) => e.eventType === 'node_retry').map((e) => e.extra.sleepMs);
    expect(sleeps).toEqual([10, 30, 50]);
    const gaps = starts.slice(1).map((s, i) => s - starts[i]!);
    expect(gaps[0]).toBeGreaterThanOrEqual(9);
    expect(gaps[1]).toBeGreaterThanOrEqual(29);
    expect(gaps[2]).toBeGreaterThanOrEqual(49);
    await flow.stop();
  });

  it('without emitErrorsToRookery a failed trace ends FAILED and a fetch says so instead of hanging', async () => {
    const failing = new Node(() => Promise.reject(new Error('nope')), { name: 'failing' });
    const flow = create([failing.to()]);
    flow.run();
    const m = msg(1);
    await flow.emit(m);
    const err = await flow.fetch({ traceId: m.traceId }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TraceEndedError);
    expect((err as TraceEndedError).status).toBe('FAILED');
    expect((err as TraceEndedError).error?.message).toBe('nope');
    await flow.stop();
  });

  it('a retry does not happen once the trace is cancelled during backoff', async () => {
    let attempts = 0;
    const rec = recorder();
    const failing = new Node(
      () => {
        attempts++;
        throw new Error('x');
      },
      { name: 'f', policy: { maxRetries: 5, backoffBaseMs: 60_000 } },
    );
    const flow = create([failing.to()], { middlewares: [rec.middleware] });
    flow.run();
    const m = msg(1);
    await flow.emit(m);
    await until(() => rec.types(m.traceId).includes('node_retry'));
    expect(flow.stats().inflight).toBe(1); // the backoff
    // cancel resolves once the trace's work has unwound: the backoff ended without a retry.
    expect(await flow.cancel(m.traceId)).toBe(true);
    expect(attempts).toBe(1);
    expect(rec.types(m.traceId).filter((t) => t === 'node_start')).toHaveLength(1);
    expect(rec.types(m.traceId)).toContain('node_trace_cancelled');
    expect(flow.stats()).toMatchObject({ inflight: 0, pending: 0 });
    await flow.stop();
  });
});
