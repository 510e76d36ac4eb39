/**
 * Demo flow `stream`: emits `payload.chunks` text chunks (default 5, at most
 * 10 000) through `ctx.emitChunk`, optionally `payload.delayMs` apart (at
 * most 10 s, honouring cancellation), then a final message
 * `{ text, chunks }` holding the whole text.
 */
import { create, Node, type Context, type Message } from '../runtime/index.js';
import { defineFlow } from '../runtime/define-flow.js';
import { sleep } from './abortable-sleep.js';
import { intField } from './payload-fields.js';

/** The `stream` demo flow; see the module comment. */
export default defineFlow({
  name: 'stream',
  description: 'Streams payload.chunks chunks of text (default 5; payload.delayMs apart), then a final message with the whole text.',
  build: ({ queueMaxsize, logger }) => {
    const streamer = new Node(
      async (msg: Message, ctx: Context) => {
        const chunks = intField(msg.payload, 'chunks', 5, 0, 10_000);
        const delayMs = intField(msg.payload, 'delayMs', 0, 0, 10_000);
        const parts: string[] = [];
        for (let i = 0; i < chunks; i++) {
          if (delayMs > 0) await sleep(delayMs, ctx.signal);
          const text = `chunk-${i} `;
          parts.push(text);
          await ctx.emitChunk({ parent: msg, text, done: i === chunks - 1 });
        }
        return { ...msg, payload: { text: parts.join(''), chunks } };
      },
      { name: 'streamer', policy: { maxConcurrency: 256 } },
    );
    return create([streamer.to()], { queueMaxsize, logger });
  },
});
