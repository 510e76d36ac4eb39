import { describe, expect, it } from 'vitest';
import { create, Node, TraceCancelled, type Context, type Message } from '../../../src/runtime/index.js';
import { deferred, msg, recorder, turns, untilAborted } from './helpers.js';

describe('cooperative cancellation', () => {
  it('returns false for an unknown trace and for a finished one', async () => {
    const echo = new Node((m: unknown) => m, { name: 'echo' });
    const flow = create([echo.to()]);
    flow.run();
    expect(await flow.cancel('never-seen')).toBe(false);
    const m = msg(1);
    await flow.emit(m);
    await flow.fetch({ traceId: m.traceId });
    expect(await flow.cancel(m.traceId)).toBe(false);
    await flow.stop();
  });

  it('aborts the in-flight invocation through ctx.signal with TraceCancelled and emits one start/finish pair', async () => {
    const rec = recorder();
    const started = deferred();
    let reason: unknown;
    const slow = new Node(
      (_m: unknown, ctx: Context) =>
        new Promise((_r, reject) => {
          started.resolve();
          ctx.signal.addEventListener('abort', () => {
            reason = ctx.signal.reason;
            reject(ctx.signal.reason);
          });
        }),
      { name: 'slow' },
    );
    const flow = create([slow.to()], { middlewares: [rec.middleware] });
    flow.run();
    const m = msg(1);
    await flow.emit(m);
    await started.promise;
    const fetching = flow.fetch({ traceId: m.traceId }).catch((e: unknown) => e);
    expect(await flow.cancel(m.traceId)).toBe(true);
    expect(reason).toBeInstanceOf(TraceCancelled);
    expect(await fetching).toBeInstanceOf(TraceCancelled);
    const types = rec.types(m.traceId);
    expect(types.filter((t) => t === 'trace_cancel_start')).toHaveLength(1);
    expect(types.filter((t) => t === 'trace_cancel_finish')).toHaveLength(1);
    expect(types.indexOf('trace_cancel_start')).toBeLessThan(types.indexOf('trace_cancel_finish'));
    expect(types).toContain('node_trace_cancelled');
    expect(flow.stats()).toMatchObject({ traces: 0, pending: 0, inflight: 0 });
    await flow.stop();
  });

  it('drops the trace queued messages from every edge (trace_cancel_drop) and leaves other traces alone', async () => {
    const rec = recorder();
    const gate = deferred();
    const processed: string[] = [];
    const worker = new Node(
      async (m: Message<string>) => {
        await gate.promise;
        processed.push(m.payload);
        return m;
      },
      { name: 'worker' },
    );
    const flow = create([worker.to()], { middlewares: [rec.middleware] });
    flow.run();
    const blocker = msg('blocker');
    await flow.emit(blocker);
    const victims = [msg('v1'), msg('v2')].map((m) => ({ ...m, traceId: 'victim' }));
    for (const v of victims) await flow.emit(v);
    const other = msg('other');
    await flow.emit(other);
    expect(flow.stats().queued).toBe(3);
    expect(await flow.cancel('victim')).toBe(true);
    expect(rec.types('victim').filter((t) => t === 'trace_cancel_drop')).toHaveLength(2);
    expect(flow.stats().queued).toBe(1);
    gate.resolve();
    await expect(flow.fetch({ traceId: blocker.traceId })).resolves.toMatchObject({ payload: 'blocker' });
    await expect(flow.fetch({ traceId: other.traceId })).resolves.toMatchObject({ payload: 'other' });
    expect(processed).toEqual(['blocker', 'other']);
    await expect(flow.fetch({ traceId: 'victim' })).rejects.toBeInstanceOf(TraceCancelled);
    await flow.stop();
  });

  it('discards the result of a node that ignores its signal and finishes cancel promptly', async () => {
    const release = deferred<unknown>();
    const started = deferred();
    let afterCalls = 0;
    const ignorant = new Node(() => {
      started.resolve();
      return release.promise;
    }, { name: 'ignorant' });
    const after = new Node((m: unknown) => {
      afterCalls++;
      return m;
    }, { name: 'after' });
    const flow = create([ignorant.to(after), after.to()]);
    flow.run();
    const m = msg(1);
    await flow.emit(m);
    await started.promise;
    const t0 = Date.now();
    expect(await flow.cancel(m.traceId)).toBe(true);
    expect(Date.now() - t0).toBeLessThan(200);
    release.resolve(m);
    await turns(1); // the late result has arrived and been dropped
    expect(afterCalls).toBe(0);
    expect(flow.stats()).toMatchObject({ traces: 0, pending: 0, bufferedOutputs: 0 });
    await flow.stop();
  });

  it('rejects an emitter blocked on a full edge with TraceCancelled', async () => {
    const gate = deferred();
    const consumer = new Node(async () => gate.promise.then(() => undefined), { name: 'c' });
    const flow = create([consumer.to()], { queueMaxsize: 1 });
    flow.run();
    const traceId = 'T';
    await flow.emit({ ...msg(0), traceId });
    await flow.emit({ ...msg(1), traceId });
    const blocked = flow.emit({ ...msg(2), traceId }).catch((e: unknown) => e);
    expect(flow.stats().blockedEmits).toBe(1);
    expect(await flow.cancel(traceId)).toBe(true);
    expect(await blocked).toBeInstanceOf(TraceCancelled);
    gate.resolve();
    await flow.stop();
  });

  it('makes ctx.emit reject inside a node once its trace is cancelled', async () => {
    const emitted = deferred<unknown>();
    const cont = deferred();
    const started = deferred();
    const producer = new Node(
      async (m: Message, ctx: Context) => {
        started.resolve();
        await cont.promise;
        emitted.resolve(await ctx.emit(m).then(() => 'ok', (e: unknown) => e));
        return undefined;
      },
      { name: 'producer' },
    );
    const sink = new Node((m: unknown) => m, { name: 'sink' });
    const flow = create([producer.to(sink), sink.to()]);
    flow.run();
    const m = msg(1);
    await flow.emit(m);
    await started.promise;
    const cancelling = flow.cancel(m.traceId);
    cont.resolve();
    await cancelling;
    // The invocation was abandoned, but its code still runs: its emit must fail.
    expect(await emitted.promise).toBeInstanceOf(TraceCancelled);
    expect(flow.stats()).toMatchObject({ pending: 0, queued: 0, traces: 0 });
    await flow.stop();
  });

  it('a concurrent second cancel of the same trace returns false after the first completes', async () => {
    const started = deferred();
    const slow = new Node((_m: unknown, ctx: Context) => {
      started.resolve();
      return untilAborted(ctx.signal);
    }, { name: 's' });
    const flow = create([slow.to()]);
    flow.run();
    const m = msg(1);
    await flow.emit(m);
    await started.promise;
    const [a, b] = await Promise.all([flow.cancel(m.traceId), flow.cancel(m.traceId)]);
    expect([a, b]).toEqual([true, false]);
    await flow.stop();
  });

  it('stop() aborts every in-flight invocation and rejects waiting fetches', async () => {
    let aborted = false;
    const started = deferred();
    const slow = new Node(
      (_m: unknown, ctx: Context) => {
        started.resolve();
        ctx.signal.addEventListener('abort', () => (aborted = true));
        return untilAborted(ctx.signal);
      },
      { name: 's' },
    );
    const flow = create([slow.to()]);
    flow.run();
    const m = msg(1);
    await flow.emit(m);
    await started.promise;
    const waiting = flow.fetch({ traceId: m.traceId }).catch((e: unknown) => (e as Error).name);
    await flow.stop();
    expect(aborted).toBe(true);
    expect(await waiting).toBe('FlowStoppedError');
    await expect(flow.emit(msg(2))).rejects.toMatchObject({ name: 'FlowStoppedError' });
  });
});
