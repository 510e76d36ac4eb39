/**
 * Flows only the tests host (passed to startServer in process).
 */
import { create, Node, type Context, type Message } from '../../../src/runtime/index.js';
import { defineFlow, type FlowDefinition } from '../../../src/server/index.js';

/** A flow that counts its invocations, to prove work ran once. */
export function countingFlow(name = 'counter'): { definition: FlowDefinition; count(): number } {
  let count = 0;
  const definition = defineFlow({
    name,
    build: ({ queueMaxsize }) => {
      const node = new Node(
        (msg: Message) => {
          count++;
          return { ...msg, payload: { count } };
        },
        { name: 'count' },
      );
      return create([node.to()], { queueMaxsize });
    },
  });
  return { definition, count: () => count };
}

/** A flow whose node always throws; errors are NOT emitted to Rookery (they only end the trace FAILED). */
export const failingFlow = defineFlow({
  name: 'failing',
  build: ({ queueMaxsize }) => {
    const node = new Node(
      () => {
        throw new TypeError('boom');
      },
      { name: 'explode' },
    );
    return create([node.to()], { queueMaxsize });
  },
});

/** A flow that returns nothing (the trace completes without output). */
export const silentFlow = defineFlow({
  name: 'silent',
  build: ({ queueMaxsize }) => create([new Node(() => undefined, { name: 'sink' }).to()], { queueMaxsize }),
});

/** A flow whose single node blocks until its signal aborts; one slot, queue size 1: saturates at once. */
export const blockingFlow = defineFlow({
  name: 'blocking',
  build: () => {
    const node = new Node(
      (_msg: Message, ctx: Context) =>
        new Promise((_resolve, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason as Error), { once: true })),
      { name: 'block' },
    );
    return create([node.to()], { queueMaxsize: 1 });
  },
});

/** A flow whose output is not plain JSON (bigint, Date, cycle, bytes): the server must still encode it. */
export const oddOutputFlow = defineFlow({
  name: 'odd',
  build: ({ queueMaxsize }) => {
    const node = new Node(
      (msg: Message) => {
        const cyclic: Record<string, unknown> = { name: 'loop' };
        cyclic.self = cyclic;
        return { ...msg, payload: { big: 12n, when: new Date(0), cyclic, nan: Number.NaN, fn: () => 1 } };
      },
      { name: 'odd' },
    );
    return create([node.to()], { queueMaxsize });
  },
});
