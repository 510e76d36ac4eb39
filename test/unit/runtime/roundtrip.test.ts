import { describe, expect, it } from 'vitest';
import { create, Node, type Context, type Message } from '../../../src/runtime/index.js';
import { msg, turns, until } from './helpers.js';

describe('trace-scoped roundtrips', () => {
  it('isolates results per trace across concurrent callers, whatever the completion order', async () => {
    const node = new Node(
      async (m: Message<number>) => {
        await turns(20 - m.payload); // the last emitted finishes first
        return { ...m, payload: m.payload * 10 };
      },
      { name: 'n', policy: { maxConcurrency: 20 } },
    );
    const flow = create([node.to()]);
    flow.run();
    const results = await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const m = msg(i);
        await flow.emit(m, { traceId: m.traceId });
        return ((await flow.fetch({ traceId: m.traceId })) as Message<number>).payload;
      }),
    );
    expect(results).toEqual(Array.from({ length: 20 }, (_, i) => i * 10));
    await flow.stop();
  });

  it('serializes concurrent round trips on one trace: each caller gets the answer to its own message', async () => {
    const node = new Node(
      async (m: Message<number>) => {
        await turns(m.payload % 2 === 0 ? 8 : 1);
        return { ...m, payload: m.payload + 100 };
      },
      { name: 'n', policy: { maxConcurrency: 4 } },
    );
    const flow = create([node.to()]);
    flow.run();
    const traceId = 'session-1';
    const answers = await Promise.all(
      Array.from({ length: 8 }, (_, i) => flow.call(msg(i, { traceId }), { traceId }).then((o) => (o as Message<number>).payload)),
    );
    expect(answers).toEqual([100, 101, 102, 103, 104, 105, 106, 107]);
    await flow.stop();
  });

  it('fetch without a trace id returns outputs of any trace in arrival order', async () => {
    const node = new Node(async (m: Message<number>) => {
      await turns(m.payload);
      return m;
    }, { name: 'n', policy: { maxConcurrency: 3 } });
    const flow = create([node.to()]);
    flow.run();
    for (const d of [12, 2, 6]) await flow.emit(msg(d));
    const got: number[] = [];
    for (let i = 0; i < 3; i++) got.push(((await flow.fetch()) as Message<number>).payload);
    expect(got).toEqual([2, 6, 12]);
    await flow.stop();
  });

  it('does not deliver an output twice to a scoped and an unscoped fetch', async () => {
    const echo = new Node((m: unknown) => m, { name: 'echo' });
    const flow = create([echo.to()]);
    flow.run();
    const a = msg('a');
    const b = msg('b');
    await flow.emit(a);
    await flow.emit(b);
    await until(() => flow.stats().bufferedOutputs === 2);
    expect(await flow.fetch({ traceId: b.traceId })).toMatchObject({ payload: 'b' });
    expect(await flow.fetch()).toMatchObject({ payload: 'a' });
    expect(flow.stats().bufferedOutputs).toBe(0);
    await flow.stop();
  });

  it('emits plain payloads without a trace and fetches them unscoped', async () => {
    const double = new Node((n: number) => n * 2, { name: 'double' });
    const flow = create([double.to()]);
    flow.run();
    await flow.emit(21);
    expect(await flow.fetch()).toBe(42);
    await flow.stop();
  });
});

describe('ctx.fetch', () => {
  it('lets a node pull further messages from its incoming edges, optionally from one predecessor', async () => {
    const left = new Node((m: unknown) => m, { name: 'left' });
    const right = new Node((m: unknown) => m, { name: 'right' });
    const pair = new Node(
      async (first: Message<string>, ctx: Context) => {
        const second = (await ctx.fetch(first.payload.startsWith('L') ? right : left)) as Message<string>;
        return { ...first, payload: `${first.payload}+${second.payload}` };
      },
      { name: 'pair' },
    );
    const flow = create([left.to(pair), right.to(pair), pair.to()]);
    flow.run();
    const traceId = 'pair-trace';
    const l = { ...msg('L1'), traceId };
    const r = { ...msg('R1'), traceId };
    await flow.emit(l, { to: left });
    await until(() => flow.stats().inflight === 1); // pair runs, waiting in ctx.fetch for right's message
    await flow.emit(r, { to: right });
    expect(await flow.fetch({ traceId })).toMatchObject({ payload: 'L1+R1' });
    await flow.stop();
  });

  it('rejects pulling from a node that is not a predecessor', async () => {
    const other = new Node((m: unknown) => m, { name: 'other' });
    let error: unknown;
    const solo = new Node(
      async (_m: unknown, ctx: Context) => {
        error = await ctx.fetch(other).catch((e: unknown) => e);
        return undefined;
      },
      { name: 'solo' },
    );
    const flow = create([solo.to(), other.to()]);
    flow.run();
    await flow.emit(msg(1), { to: solo });
    await until(() => error !== undefined);
    expect(String(error)).toMatch(/not a predecessor/);
    await flow.stop();
  });
});
