import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  create,
  DictRoutingPolicy,
  mapConcurrent,
  Node,
  predicateRouter,
  TraceEndedError,
  unionRouter,
  type Context,
  type Message,
  type RoutingRequest,
} from '../../../src/runtime/index.js';
import { msg, turns } from './helpers.js';

function tagger(name: string): Node {
  return new Node((m: Message) => ({ ...m, payload: { via: name, was: m.payload } }), { name });
}

describe('mapConcurrent', () => {
  it('keeps input order and never exceeds maxConcurrency', async () => {
    let running = 0;
    let peak = 0;
    // Each item takes as many event-loop turns as its value: they finish out of input order.
    const out = await mapConcurrent(
      [30, 5, 20, 1, 10, 2],
      async (n) => {
        running++;
        peak = Math.max(peak, running);
        await turns(n);
        running--;
        return n * 2;
      },
      { maxConcurrency: 2 },
    );
    expect(out).toEqual([60, 10, 40, 2, 20, 4]);
    expect(peak).toBe(2);
  });

  it('rejects with the first error and starts no further items', async () => {
    const started: number[] = [];
    await expect(
      mapConcurrent([1, 2, 3, 4, 5], async (n) => {
        started.push(n);
        await turns(1);
        if (n === 2) throw new Error('two');
        return n;
      }, { maxConcurrency: 1 }),
    ).rejects.toThrow('two');
    expect(started).toEqual([1, 2]);
  });

  it('rejects maxConcurrency < 1', async () => {
    await expect(mapConcurrent([1], (n) => Promise.resolve(n), { maxConcurrency: 0 })).rejects.toThrow(RangeError);
  });
});

describe('predicateRouter', () => {
  it('forwards each message unchanged to the successors the predicate names', async () => {
    const left = tagger('left');
    const right = tagger('right');
    const router = predicateRouter('router', (m) => ((m as Message<number>).payload > 0 ? 'right' : [left]));
    const flow = create([router.to(left, right), left.to(), right.to()]);
    flow.run();
    const pos = msg(5);
    const neg = msg(-1);
    await flow.emit(pos);
    await flow.emit(neg);
    expect(await flow.fetch({ traceId: pos.traceId })).toMatchObject({ payload: { via: 'right', was: 5 } });
    expect(await flow.fetch({ traceId: neg.traceId })).toMatchObject({ payload: { via: 'left', was: -1 } });
    await flow.stop();
  });

  it('fans out to several successors and drops on null', async () => {
    const a = tagger('a');
    const b = tagger('b');
    const router = predicateRouter('router', (m) => ((m as Message<string>).payload === 'both' ? [a, b] : null));
    const flow = create([router.to(a, b), a.to(), b.to()]);
    flow.run();
    const both = msg('both');
    await flow.emit(both);
    const outs = [await flow.fetch({ traceId: both.traceId }), await flow.fetch({ traceId: both.traceId })] as Message<{ via: string }>[];
    expect(outs.map((o) => o.payload.via).sort()).toEqual(['a', 'b']);
    const none = msg('none');
    await flow.emit(none);
    await expect(flow.fetch({ traceId: none.traceId })).rejects.toBeInstanceOf(TraceEndedError);
    await flow.stop();
  });

  it('lets a DictRoutingPolicy override the predicate by tenant, with a default', async () => {
    const fast = tagger('fast');
    const slow = tagger('slow');
    const policy = DictRoutingPolicy.fromJson('{"mapping": {"gold": "fast"}, "default": "slow"}');
    const router = predicateRouter('router', () => 'fast', { policy });
    const flow = create([router.to(fast, slow), fast.to(), slow.to()]);
    flow.run();
    const gold = { ...msg(1), headers: { tenant: 'gold' } };
    const free = { ...msg(2), headers: { tenant: 'free' } };
    await flow.emit(gold);
    await flow.emit(free);
    expect(await flow.fetch({ traceId: gold.traceId })).toMatchObject({ payload: { via: 'fast' } });
    expect(await flow.fetch({ traceId: free.traceId })).toMatchObject({ payload: { via: 'slow' } });
    await flow.stop();
  });

  it('fails the invocation when the predicate names a non-successor', async () => {
    const a = tagger('a');
    const router = predicateRouter('router', () => 'ghost');
    const flow = create([router.to(a), a.to()]);
    flow.run();
    const m = msg(1);
    await flow.emit(m);
    const err = await flow.fetch({ traceId: m.traceId }).catch((e: unknown) => e);
    expect((err as TraceEndedError).status).toBe('FAILED');
    expect((err as TraceEndedError).error?.message).toMatch(/ghost is not a successor/);
    await flow.stop();
  });
});

describe('DictRoutingPolicy', () => {
  const req = (tenant: string): RoutingRequest => ({
    message: { ...msg(0), headers: { tenant } },
    proposed: [],
    successors: [],
    routerName: 'r',
    traceId: undefined,
    context: undefined as unknown as Context,
  });

  it('maps keys to targets, falls back to default, and supports a custom keyGetter', () => {
    const p = new DictRoutingPolicy({ a: 'x', b: ['x', 'y'], c: null }, { default: 'z' });
    expect(p.select(req('a'))).toBe('x');
    expect(p.select(req('b'))).toEqual(['x', 'y']);
    expect(p.select(req('c'))).toBeNull();
    expect(p.select(req('other'))).toBe('z');
    const byTopic = new DictRoutingPolicy({ t1: 'x' }, { keyGetter: () => 't1' });
    expect(byTopic.select(req('whatever'))).toBe('x');
  });

  it('loads from a bare mapping or an envelope, and from an environment variable', () => {
    expect(DictRoutingPolicy.fromJson({ a: 'x' }).mapping).toEqual({ a: 'x' });
    const env = { ROUTES: '{"mapping":{"a":["x"]},"default":null}' };
    const p = DictRoutingPolicy.fromEnv('ROUTES', { env });
    expect(p.mapping).toEqual({ a: ['x'] });
    expect(p.default).toBeNull();
  });

  it('rejects malformed JSON, bad targets and a missing variable with clear errors', () => {
    expect(() => DictRoutingPolicy.fromJson('[1]')).toThrow(/must be an object/);
    expect(() => DictRoutingPolicy.fromJson({ a: 3 })).toThrow(/"a" must be a node name/);
    expect(() => DictRoutingPolicy.fromEnv('NOPE', { env: {} })).toThrow(/NOPE is not set/);
  });
});

describe('unionRouter', () => {
  const Schema = z.discriminatedUnion('kind', [
    z.object({ kind: z.literal('search'), query: z.string() }),
    z.object({ kind: z.literal('math'), expr: z.string() }),
  ]);

  it('routes by the validated kind to the successor of that name', async () => {
    const search = tagger('search');
    const math = tagger('math');
    const router = unionRouter('router', Schema);
    const flow = create([router.to(search, math), search.to(), math.to()]);
    flow.run();
    const s = msg({ kind: 'search', query: 'penguins' });
    const m = msg({ kind: 'math', expr: '1+1' });
    await flow.emit(s);
    await flow.emit(m);
    expect(await flow.fetch({ traceId: s.traceId })).toMatchObject({ payload: { via: 'search', was: { query: 'penguins' } } });
    expect(await flow.fetch({ traceId: m.traceId })).toMatchObject({ payload: { via: 'math', was: { expr: '1+1' } } });
    await flow.stop();
  });

  it('fails the invocation on a payload outside the union', async () => {
    const search = tagger('search');
    const router = unionRouter('router', Schema);
    const flow = create([router.to(search), search.to()]);
    flow.run();
    const bad = msg({ kind: 'poetry' });
    await flow.emit(bad);
    await expect(flow.fetch({ traceId: bad.traceId })).rejects.toMatchObject({ status: 'FAILED' });
    await flow.stop();
  });
});
