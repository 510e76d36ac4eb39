import { describe, expect, it } from 'vitest';
import { create, createMessage, createWM, Node, type Message, type WM } from '../../../src/runtime/index.js';

function loopFlow(step: (wm: WM) => WM | string) {
  const hopsSeen: number[] = [];
  const controller = new Node(
    (m: Message<WM>) => {
      hopsSeen.push(m.payload.hops);
      const next = step(m.payload);
      if (typeof next === 'string') return { ...m, payload: { text: next, citations: [] } };
      return { ...m, payload: next };
    },
    { name: 'controller', allowCycle: true },
  );
  const flow = create([controller.to(controller)]);
  flow.run();
  return { flow, hopsSeen };
}

const start = (wm: Partial<WM>, deadline?: number): Message<WM> =>
  createMessage({ payload: createWM({ query: 'q', ...wm }), headers: { tenant: 't' }, ...(deadline ? { deadline } : {}) });

describe('controller loops over WM', () => {
  it('re-enqueues a WM result to the same node with hops incremented until the hop budget ends it', async () => {
    const { flow, hopsSeen } = loopFlow((wm) => wm);
    const m = start({ budgetHops: 3 });
    await flow.emit(m);
    const out = (await flow.fetch({ traceId: m.traceId })) as Message;
    expect(out.payload).toEqual({ text: 'Hop budget exhausted', citations: [] });
    expect(hopsSeen).toEqual([0, 1, 2]);
    await flow.stop();
  });

  it('ends the loop with "Token budget exhausted" once tokensUsed reaches budgetTokens', async () => {
    const { flow, hopsSeen } = loopFlow((wm) => ({ ...wm, tokensUsed: wm.tokensUsed + 40 }));
    const m = start({ budgetTokens: 100 });
    await flow.emit(m);
    const out = (await flow.fetch({ traceId: m.traceId })) as Message;
    expect(out.payload).toMatchObject({ text: 'Token budget exhausted' });
    expect(hopsSeen).toEqual([0, 1, 2]);
    await flow.stop();
  });

  it('ends the loop with "Deadline exceeded" once the message deadline passes', async () => {
    const { flow, hopsSeen } = loopFlow((wm) => {
      const until = Date.now() + 5;
      while (Date.now() < until) {
        /* burn time */
      }
      return wm;
    });
    const m = start({}, Date.now() + 12);
    await flow.emit(m);
    const out = (await flow.fetch({ traceId: m.traceId })) as Message;
    expect(out.payload).toMatchObject({ text: 'Deadline exceeded' });
    expect(hopsSeen.length).toBeGreaterThanOrEqual(1);
    expect(hopsSeen.length).toBeLessThan(10);
    await flow.stop();
  });

  it('passes a non-WM result on as the final answer', async () => {
    const { flow, hopsSeen } = loopFlow((wm) => (wm.hops >= 2 ? 'done' : wm));
    const m = start({});
    await flow.emit(m);
    const out = (await flow.fetch({ traceId: m.traceId })) as Message;
    expect(out.payload).toEqual({ text: 'done', citations: [] });
    expect(hopsSeen).toEqual([0, 1, 2]);
    await flow.stop();
  });
});
