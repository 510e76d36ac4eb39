/**
 * Demo flow `slow`: waits `payload.ms` milliseconds (default 1000, at most
 * 10 minutes) and returns `{ sleptMs }`. The wait honours `ctx.signal`, so
 * a cancel, a deadline or a shutdown ends it at once; useful for testing
 * deadlines and cancellation.
 */
import { create, Node, type Context, type Message } from '../runtime/index.js';
import { defineFlow } from '../runtime/define-flow.js';
import { sleep } from './abortable-sleep.js';
import { intField } from './payload-fields.js';

/** The `slow` demo flow; see the module comment. */
export default defineFlow({
  name: 'slow',
  description: 'Waits payload.ms milliseconds (default 1000), honouring cancellation, then returns { sleptMs }.',
  build: ({ queueMaxsize, logger }) => {
    const wait = new Node(
      async (msg: Message, ctx: Context) => {
        const ms = intField(msg.payload, 'ms', 1000, 0, 600_000);
        await sleep(ms, ctx.signal);
        return { ...msg, payload: { sleptMs: ms } };
      },
      // Many traces sleep at once; one slot would serialise them all.
      { name: 'wait', policy: { maxConcurrency: 1024 } },
    );
    return create([wait.to()], { queueMaxsize, logger });
  },
});
