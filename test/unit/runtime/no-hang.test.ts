import { describe, expect, it } from 'vitest';
import { create, FlowError, FlowStoppedError, Node, TraceCancelled, TraceEndedError, type Context } from '../../../src/runtime/index.js';
import { deferred, msg, until, untilAborted } from './helpers.js';

describe('no silent hang', () => {
  it('traceOutcome says how a trace ended exactly when a fetch would reject at once, and never consumes', async () => {
    const gate = deferred();
    const node = new Node(async (m: unknown) => {
      await gate.promise;
      return m;
    }, { name: 'n' });
    const failing = new Node(() => {
      throw new Error('boom');
    }, { name: 'f' });
    const flow = create([node.to()]);
    const failFlow = create([failing.to()]);
    flow.run();
    failFlow.run();
    expect(flow.traceOutcome('never-emitted')).toBeUndefined();
    const m = msg(1);
    await flow.emit(m);
    expect(flow.traceOutcome(m.traceId)).toBeUndefined(); // running
    gate.resolve();
    await until(() => flow.stats().bufferedOutputs === 1 && flow.stats().pending === 0);
    expect(flow.traceOutcome(m.traceId)).toBeUndefined(); // over, but its output is still to be fetched
    expect(await flow.fetch({ traceId: m.traceId })).toEqual(m);
    expect(flow.traceOutcome(m.traceId)).toMatchObject({ status: 'COMPLETED', error: undefined });
    expect(flow.traceOutcome(m.traceId)).toMatchObject({ status: 'COMPLETED' }); // reading consumes nothing
    await expect(flow.fetch({ traceId: m.traceId })).rejects.toBeInstanceOf(TraceEndedError);

    const f = msg(2);
    await failFlow.emit(f);
    await until(() => failFlow.stats().pending === 0);
    const failed = failFlow.traceOutcome(f.traceId);
    expect(failed?.status).toBe('FAILED');
    expect(failed?.error).toBeInstanceOf(FlowError);

    const stuck = new Node((_m: unknown, ctx: Context) => untilAborted(ctx.signal), { name: 's' });
    const cancelFlow = create([stuck.to()]);
    cancelFlow.run();
    const c = msg(3);
    await cancelFlow.emit(c);
    await cancelFlow.cancel(c.traceId);
    expect(cancelFlow.traceOutcome(c.traceId)?.status).toBe('CANCELLED');
    await Promise.all([flow.stop(), failFlow.stop(), cancelFlow.stop()]);
  });

  it('rejects a fetch on a trace that completed without output (COMPLETED)', async () => {
    const sink = new Node(() => undefined, { name: 'sink' });
    const flow = create([sink.to()]);
    flow.run();
    const m = msg(1);
    await flow.emit(m);
    const err = await flow.fetch({ traceId: m.traceId }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TraceEndedError);
    expect((err as TraceEndedError).status).toBe('COMPLETED');
    await flow.stop();
  });

  it('rejects a waiting fetch as soon as the trace ends, not when a timer fires', async () => {
    const gate = deferred();
    const node = new Node(async () => {
      await gate.promise;
      return undefined;
    }, { name: 'n' });
    const flow = create([node.to()]);
    flow.run();
    const m = msg(1);
    await flow.emit(m);
    const fetching = flow.fetch({ traceId: m.traceId });
    expect(flow.stats().fetchWaiters).toBe(1);
    const t0 = Date.now();
    gate.resolve();
    await expect(fetching).rejects.toBeInstanceOf(TraceEndedError);
    expect(Date.now() - t0).toBeLessThan(500);
    await flow.stop();
  });

  it('says CANCELLED (TraceCancelled) for a fetch after the trace was cancelled', async () => {
    const node = new Node((_m: unknown, ctx: Context) => untilAborted(ctx.signal), { name: 'n' });
    const flow = create([node.to()]);
    flow.run();
    const m = msg(1);
    await flow.emit(m);
    await flow.cancel(m.traceId);
    await expect(flow.fetch({ traceId: m.traceId })).rejects.toBeInstanceOf(TraceCancelled);
    await flow.stop();
  });

  it('a fetch for a trace not emitted yet waits for it, and its signal aborts the wait', async () => {
    const echo = new Node((m: unknown) => m, { name: 'echo' });
    const flow = create([echo.to()]);
    flow.run();
    const m = msg('later');
    const waiting = flow.fetch({ traceId: m.traceId });
    expect(flow.stats()).toMatchObject({ traces: 1, fetchWaiters: 1 });
    await flow.emit(m);
    await expect(waiting).resolves.toMatchObject({ payload: 'later' });

    const ac = new AbortController();
    const never = flow.fetch({ traceId: 'nobody', signal: ac.signal });
    ac.abort(new Error('gave up'));
    await expect(never).rejects.toThrow('gave up');
    expect(flow.stats()).toMatchObject({ traces: 0, fetchWaiters: 0 });
    await flow.stop();
  });

  it('rejects fetch and emit with FlowStoppedError after stop', async () => {
    const echo = new Node((m: unknown) => m, { name: 'echo' });
    const flow = create([echo.to()]);
    flow.run();
    await flow.stop();
    await expect(flow.fetch({ traceId: 'x' })).rejects.toBeInstanceOf(FlowStoppedError);
    await expect(flow.emit(msg(1))).rejects.toBeInstanceOf(FlowStoppedError);
    expect(() => flow.run()).toThrow(FlowStoppedError);
  });

  it('remembers only endedTraceCacheSize ended traces', async () => {
    const echo = new Node((m: unknown) => m, { name: 'echo' });
    const flow = create([echo.to()], { endedTraceCacheSize: 3 });
    flow.run();
    for (let i = 0; i < 10; i++) {
      const m = msg(i);
      await flow.emit(m);
      await flow.fetch({ traceId: m.traceId });
    }
    expect(flow.stats().endedTraces).toBe(3);
    await flow.stop();
  });
});
