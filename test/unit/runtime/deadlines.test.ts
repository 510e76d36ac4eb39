import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { create, DeadlineExceededError, isFinalAnswer, Node, TraceEndedError, type Context, type Message } from '../../../src/runtime/index.js';
import { msg, recorder } from './helpers.js';

describe('message deadlines', () => {
  it('never hands an expired message to user code: deadline_skip and FinalAnswer("Deadline exceeded") to Rookery', async () => {
    let calls = 0;
    const rec = recorder();
    const node = new Node(
      (m: unknown) => {
        calls++;
        return m;
      },
      { name: 'node' },
    );
    const flow = create([node.to()], { middlewares: [rec.middleware] });
    flow.run();
    const m = msg('late', { deadline: Date.now() - 1 });
    await flow.emit(m);
    const out = (await flow.fetch({ traceId: m.traceId })) as Message;
    expect(calls).toBe(0);
    expect(isFinalAnswer(out.payload)).toBe(true);
    expect(out.payload).toEqual({ text: 'Deadline exceeded', citations: [] });
    expect(out.traceId).toBe(m.traceId);
    expect(rec.types(m.traceId)).toEqual(['deadline_skip']);
    const after = await flow.fetch({ traceId: m.traceId }).catch((e: unknown) => e);
    expect(after).toBeInstanceOf(TraceEndedError);
    expect((after as TraceEndedError).status).toBe('DEADLINE_EXCEEDED');
    await flow.stop();
  });

  it('skips downstream hops once the deadline passes mid-flow', async () => {
    let secondCalls = 0;
    // Still running when the deadline passes; returns (late) once aborted.
    const first = new Node(async (m: unknown, ctx: Context) => {
      await once(ctx.signal, 'abort');
      return m;
    }, { name: 'first' });
    const second = new Node((m: unknown) => {
      secondCalls++;
      return m;
    }, { name: 'second' });
    const flow = create([first.to(second), second.to()]);
    flow.run();
    const m = msg('x', { deadline: Date.now() + 10 });
    await flow.emit(m);
    const out = (await flow.fetch({ traceId: m.traceId })) as Message;
    expect(out.payload).toMatchObject({ text: 'Deadline exceeded' });
    expect(secondCalls).toBe(0);
    await flow.stop();
  });

  it('aborts ctx.signal with DeadlineExceededError when the deadline passes during an invocation', async () => {
    let reason: unknown;
    const node = new Node(
      (_m: unknown, ctx: Context) =>
        new Promise((_r, rej) =>
          ctx.signal.addEventListener('abort', () => {
            reason = ctx.signal.reason;
            rej(ctx.signal.reason);
          }),
        ),
      { name: 'node', policy: { maxRetries: 3 } },
    );
    const rec = recorder();
    const flow = create([node.to()], { middlewares: [rec.middleware] });
    flow.run();
    const m = msg('x', { deadline: Date.now() + 20 });
    await flow.emit(m);
    const out = (await flow.fetch({ traceId: m.traceId })) as Message;
    expect(reason).toBeInstanceOf(DeadlineExceededError);
    expect(out.payload).toMatchObject({ text: 'Deadline exceeded' });
    // Retrying past a deadline cannot succeed, so there is exactly one attempt; the node did not fail, time ran out.
    expect(rec.types(m.traceId)).toEqual(['node_start', 'node_timeout']);
    expect(rec.events.at(-1)!.extra.code).toBe('DEADLINE_EXCEEDED');
    await expect(flow.fetch({ traceId: m.traceId })).rejects.toMatchObject({ status: 'DEADLINE_EXCEEDED' });
    await flow.stop();
  });
});
