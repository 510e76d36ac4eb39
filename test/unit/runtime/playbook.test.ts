import { describe, expect, it } from 'vitest';
import { callPlaybook, create, Node, PlaybookTimeoutError, TraceCancelled, type Context, type Message } from '../../../src/runtime/index.js';
import { deferred, msg, recorder, until, untilAborted } from './helpers.js';

describe('playbooks', () => {
  it('runs a sub-flow for the parent message and returns its first output', async () => {
    const factory = () => create([new Node((m: Message<number>) => ({ ...m, payload: m.payload + 1 }), { name: 'inc' }).to()]);
    const out = await callPlaybook(factory, msg(41));
    expect(out).toMatchObject({ payload: 42 });
  });

  it('from a node: cancelling the parent trace cancels the playbook trace', async () => {
    const subRec = recorder();
    const subStarted = deferred();
    let subReason: unknown;
    const factory = () =>
      create(
        [
          new Node(
            (_m: unknown, ctx: Context) =>
              new Promise((_r, rej) => {
                subStarted.resolve();
                ctx.signal.addEventListener('abort', () => {
                  subReason = ctx.signal.reason;
                  rej(ctx.signal.reason);
                });
              }),
            { name: 'inner' },
          ).to(),
        ],
        { middlewares: [subRec.middleware] },
      );
    const outer = new Node((m: Message, ctx: Context) => ctx.callPlaybook(factory, m), { name: 'outer' });
    const flow = create([outer.to()]);
    flow.run();
    const m = msg(1);
    await flow.emit(m);
    await subStarted.promise;
    expect(await flow.cancel(m.traceId)).toBe(true);
    // The playbook's own cancellation runs on after the parent's.
    await until(() => subRec.types(m.traceId).includes('trace_cancel_finish'));
    expect(subReason).toBeInstanceOf(TraceCancelled);
    expect(subRec.types(m.traceId)).toContain('trace_cancel_start');
    expect(subRec.types(m.traceId)).toContain('trace_cancel_finish');
    await flow.stop();
  });

  it('from a node: a playbook whose trace is cancelled cancels the parent trace', async () => {
    const rec = recorder();
    let sub: ReturnType<typeof create> | undefined;
    const factory = () => {
      const inner = new Node(async (m: Message, ctx: Context) => {
        // The sub-flow cancels its own trace (e.g. a guardrail node), once this invocation waits.
        setImmediate(() => void sub!.cancel(m.traceId));
        await untilAborted(ctx.signal);
      }, { name: 'inner' });
      sub = create([inner.to()]);
      return sub;
    };
    const outer = new Node((m: Message, ctx: Context) => ctx.callPlaybook(factory, m), { name: 'outer' });
    const flow = create([outer.to()], { middlewares: [rec.middleware] });
    flow.run();
    const m = msg(1);
    await flow.emit(m);
    await expect(flow.fetch({ traceId: m.traceId })).rejects.toBeInstanceOf(TraceCancelled);
    expect(rec.types(m.traceId)).toContain('trace_cancel_finish');
    await flow.stop();
  });

  it('times out with PlaybookTimeoutError and stops the sub-flow', async () => {
    let aborted = false;
    const factory = () =>
      create([
        new Node((_m: unknown, ctx: Context) => new Promise((_r, rej) => ctx.signal.addEventListener('abort', () => {
          aborted = true;
          rej(ctx.signal.reason);
        })), { name: 'hang' }).to(),
      ]);
    await expect(callPlaybook(factory, msg(1), { timeoutMs: 20 })).rejects.toBeInstanceOf(PlaybookTimeoutError);
    expect(aborted).toBe(true);
  });
});
