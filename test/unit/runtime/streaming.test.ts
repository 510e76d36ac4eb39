import { describe, expect, it } from 'vitest';
import { create, Node, type Context, type Message, type StreamChunk } from '../../../src/runtime/index.js';
import { msg, until } from './helpers.js';

describe('emitChunk', () => {
  it('numbers chunks 0,1,2,… per stream id (default: the trace id) and restarts after done', async () => {
    const streamer = new Node(
      async (m: Message, ctx: Context) => {
        await ctx.emitChunk({ parent: m, text: 'a' });
        await ctx.emitChunk({ parent: m, text: 'b', done: true });
        await ctx.emitChunk({ parent: m, text: 'c' });
        await ctx.emitChunk({ parent: m, text: 'x', streamId: 'side' });
        await ctx.emitChunk({ parent: m, text: 'd', done: true });
        return undefined;
      },
      { name: 'streamer' },
    );
    const flow = create([streamer.to()]);
    flow.run();
    const m = msg(null);
    await flow.emit(m);
    const chunks: StreamChunk[] = [];
    for (let i = 0; i < 5; i++) chunks.push(((await flow.fetch({ traceId: m.traceId })) as Message<StreamChunk>).payload);
    expect(chunks.map((c) => [c.streamId === m.traceId ? 'main' : c.streamId, c.seq, c.text, c.done])).toEqual([
      ['main', 0, 'a', false],
      ['main', 1, 'b', true],
      ['main', 0, 'c', false],
      ['side', 0, 'x', false],
      ['main', 1, 'd', true],
    ]);
    // 'side' never got done; its counter must still be freed when the trace ends.
    await until(() => flow.stats().traces === 0);
    expect(flow.stats().openStreams).toBe(0);
    await flow.stop();
  });

  it('keeps concurrent traces numbered independently', async () => {
    const streamer = new Node(
      async (m: Message<number>, ctx: Context) => {
        for (let i = 0; i < m.payload; i++) {
          await ctx.emitChunk({ parent: m, text: `${i}`, done: i === m.payload - 1 });
          await new Promise((r) => setImmediate(r));
        }
        return undefined;
      },
      { name: 'streamer', policy: { maxConcurrency: 8 } },
    );
    const flow = create([streamer.to()]);
    flow.run();
    const msgs = [3, 7, 5, 9].map((n) => msg(n));
    await Promise.all(msgs.map((m) => flow.emit(m)));
    for (const m of msgs) {
      const seqs: number[] = [];
      for (let i = 0; i < m.payload; i++) seqs.push(((await flow.fetch({ traceId: m.traceId })) as Message<StreamChunk>).payload.seq);
      expect(seqs).toEqual(Array.from({ length: m.payload }, (_, i) => i));
    }
    await flow.stop();
  });

  it('wraps a chunk in a Message carrying the parent trace and headers, and returns the chunk', async () => {
    let returned: StreamChunk | undefined;
    const streamer = new Node(
      async (m: Message, ctx: Context) => {
        returned = await ctx.emitChunk({ parent: m, text: 'hi', meta: { k: 1 }, done: true });
        return undefined;
      },
      { name: 'streamer' },
    );
    const flow = create([streamer.to()]);
    flow.run();
    const m = msg(null);
    await flow.emit(m);
    const out = (await flow.fetch({ traceId: m.traceId })) as Message<StreamChunk>;
    expect(out.traceId).toBe(m.traceId);
    expect(out.headers).toEqual(m.headers);
    expect(out.payload).toEqual({ streamId: m.traceId, seq: 0, text: 'hi', done: true, meta: { k: 1 } });
    expect(returned).toEqual(out.payload);
    await flow.stop();
  });

  it('Flow.emitChunk numbers chunks sent from outside the graph', async () => {
    const sink = new Node((m: unknown) => m, { name: 'sink' });
    const flow = create([sink.to()]);
    flow.run();
    const m = msg(null);
    const a = await flow.emitChunk({ parent: m, text: 'a' });
    // The trace goes idle (its only work is done) before the next chunk:
    // numbering still continues.
    await until(() => flow.stats().pending === 0 && flow.stats().inflight === 0);
    const b = await flow.emitChunk({ parent: m, text: 'b', done: true });
    expect([a.seq, b.seq]).toEqual([0, 1]);
    await flow.fetch({ traceId: m.traceId });
    await flow.fetch({ traceId: m.traceId });
    await flow.stop();
  });
});
