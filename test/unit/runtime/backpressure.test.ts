import { describe, expect, it } from 'vitest';
import { create, FlowStoppedError, Node, TraceCancelled, type Context, type Message } from '../../../src/runtime/index.js';
import { deferred, msg, turns, until, untilAborted } from './helpers.js';

describe('tryEmit', () => {
  it('places a message at once when there is room, and emits nothing (false) when the ingress edge is full', async () => {
    const gate = deferred();
    const seen: number[] = [];
    const consumer = new Node(
      async (m: Message<number>) => {
        await gate.promise;
        seen.push(m.payload);
        return m;
      },
      { name: 'consumer' },
    );
    const flow = create([consumer.to()], { queueMaxsize: 1 });
    flow.run();
    const ms = [msg(1), msg(2), msg(3)];
    expect(flow.tryEmit(ms[0])).toBe(true); // straight to the idle worker
    expect(flow.tryEmit(ms[1])).toBe(true); // the one slot of the edge
    expect(flow.tryEmit(ms[2])).toBe(false);
    expect(flow.stats().queued).toBe(1);
    gate.resolve();
    for (const m of ms.slice(0, 2)) expect(await flow.fetch({ traceId: m.traceId })).toEqual(m);
    expect(seen).toEqual([1, 2]);
    // The refused message never entered: its trace is unknown to the flow.
    expect(flow.traceOutcome(ms[2]!.traceId)).toBeUndefined();
    await flow.stop();
  });

  it('declines a flow with several ingress nodes, and throws after stop or for a trace being cancelled', async () => {
    const a = new Node((m: unknown) => m, { name: 'a' });
    const b = new Node((m: unknown) => m, { name: 'b' });
    const two = create([a.to(), b.to()]);
    two.run();
    expect(two.tryEmit(msg(1))).toBe(false);
    expect(two.tryEmit(msg(1), { to: a })).toBe(true);
    await two.stop();
    expect(() => two.tryEmit(msg(2))).toThrow(FlowStoppedError);

    const stuck = new Node((_m: unknown, ctx: Context) => untilAborted(ctx.signal), { name: 's' });
    const flow = create([stuck.to()]);
    flow.run();
    const m = msg(1);
    expect(flow.tryEmit(m)).toBe(true);
    const cancelling = flow.cancel(m.traceId);
    expect(() => flow.tryEmit(m)).toThrow(TraceCancelled);
    await cancelling;
    await flow.stop();
  });
});

describe('bounded FIFO edges', () => {
  it('makes an emitter wait while the edge is full and releases it when the consumer takes one', async () => {
    const gate = deferred();
    const seen: number[] = [];
    const consumer = new Node(
      async (m: Message<number>) => {
        await gate.promise;
        seen.push(m.payload);
        return undefined;
      },
      { name: 'consumer' },
    );
    const flow = create([consumer.to()], { queueMaxsize: 2 });
    flow.run();
    // 1 goes straight to the (single) worker, 2 and 3 fill the edge, 4 must wait.
    await flow.emit(msg(1));
    await flow.emit(msg(2));
    await flow.emit(msg(3));
    let fourthDone = false;
    const fourth = flow.emit(msg(4)).then(() => (fourthDone = true));
    expect(flow.stats().blockedEmits).toBe(1);
    await turns(3); // nothing but the consumer can make room
    expect(fourthDone).toBe(false);
    expect(flow.stats().blockedEmits).toBe(1);
    gate.resolve();
    await fourth;
    await until(() => seen.length === 4);
    expect(seen).toEqual([1, 2, 3, 4]);
    await flow.stop();
  });

  it('keeps order and drops nothing along a chain with queueMaxsize 1 and a slow tail', async () => {
    const out: number[] = [];
    const a = new Node((m: unknown) => m, { name: 'a' });
    const b = new Node((m: unknown) => m, { name: 'b' });
    const tail = new Node(
      async (m: Message<number>) => {
        await turns(1); // a consumer slower than its producers
        out.push(m.payload);
        return undefined;
      },
      { name: 'tail' },
    );
    const flow = create([a.to(b), b.to(tail), tail.to()], { queueMaxsize: 1 });
    flow.run();
    for (let i = 0; i < 200; i++) await flow.emit(msg(i));
    await until(() => out.length === 200 || flow.stats().pending === 0);
    expect(out).toEqual(Array.from({ length: 200 }, (_, i) => i));
    await flow.stop();
  });

  it('bounds streaming chunks by queueMaxsize: a producer blocks until chunks are fetched', async () => {
    let emitted = 0;
    const streamer = new Node(
      async (m: Message, ctx: Context) => {
        for (let i = 0; i < 10; i++) {
          await ctx.emitChunk({ parent: m, text: String(i), done: i === 9 });
          emitted++;
        }
        return undefined;
      },
      { name: 'streamer' },
    );
    const flow = create([streamer.to()], { queueMaxsize: 3 });
    flow.run();
    const m = msg(null);
    await flow.emit(m);
    // The producer blocks on the 4th chunk: the trace's output buffer holds 3.
    await until(() => flow.stats().blockedEmits === 1);
    await turns(3);
    expect(emitted).toBe(3);
    expect(flow.stats()).toMatchObject({ bufferedOutputs: 3, blockedEmits: 1 });
    const texts: string[] = [];
    for (let i = 0; i < 10; i++) texts.push(((await flow.fetch({ traceId: m.traceId })) as Message<{ text: string }>).payload.text);
    expect(texts).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    await flow.stop();
  });

  it('stop() rejects an emitter blocked on a full ingress edge with FlowStoppedError', async () => {
    const stuck = new Node((_m: unknown, ctx: Context) => untilAborted(ctx.signal), { name: 'stuck' });
    const flow = create([stuck.to()], { queueMaxsize: 1 });
    flow.run();
    await flow.emit(msg(1)); // running
    await flow.emit(msg(2)); // the edge's one slot
    const blocked = flow.emit(msg(3)).catch((e: unknown) => e);
    expect(flow.stats().blockedEmits).toBe(1);
    await flow.stop();
    expect(await blocked).toBeInstanceOf(FlowStoppedError);
  });

  it('treats queueMaxsize <= 0 as unbounded', async () => {
    const gate = deferred();
    const consumer = new Node(async () => gate.promise.then(() => undefined), { name: 'c' });
    const flow = create([consumer.to()], { queueMaxsize: 0 });
    flow.run();
    for (let i = 0; i < 500; i++) await flow.emit(msg(i));
    expect(flow.stats().queued).toBe(499);
    gate.resolve();
    await flow.stop();
  });

  it('runs up to maxConcurrency invocations of one node at once and no more', async () => {
    let running = 0;
    let peak = 0;
    const release = deferred();
    const n = new Node(
      async (m: unknown) => {
        running++;
        peak = Math.max(peak, running);
        await release.promise;
        running--;
        return m;
      },
      { name: 'n', policy: { maxConcurrency: 3 } },
    );
    const flow = create([n.to()]);
    flow.run();
    const msgs = Array.from({ length: 12 }, (_, i) => msg(i));
    await Promise.all(msgs.map((m) => flow.emit(m)));
    await until(() => running === 3);
    await turns(3);
    expect(flow.stats()).toMatchObject({ inflight: 3, queued: 9 });
    release.resolve();
    await Promise.all(msgs.map((m) => flow.fetch({ traceId: m.traceId })));
    expect(peak).toBe(3);
    await flow.stop();
  });
});
