import { describe, expect, it } from 'vitest';
import { create, CycleError, Node } from '../../../src/runtime/index.js';
import { msg } from './helpers.js';

const id = (m: unknown): unknown => m;

describe('graph wiring', () => {
  it('feeds parentless nodes from OpenSea and sends successor-less nodes to Rookery', async () => {
    const a = new Node(id, { name: 'a' });
    const b = new Node((m: { payload: number }) => ({ ...m, payload: m.payload + 1 }), { name: 'b' });
    const flow = create([a.to(b), b.to()]);
    expect(flow.graph.ingress.map((n) => n.name)).toEqual(['a']);
    expect(flow.graph.egress.map((n) => n.name)).toEqual(['b']);
    flow.run();
    const m = msg(1);
    await flow.emit(m);
    await expect(flow.fetch({ traceId: m.traceId })).resolves.toMatchObject({ payload: 2 });
    await flow.stop();
  });

  it('treats a node whose only successor is itself as egress and whose only parent is itself as ingress', () => {
    const loop = new Node(id, { name: 'loop', allowCycle: true });
    const flow = create([loop.to(loop)]);
    expect(flow.graph.ingress).toEqual([loop]);
    expect(flow.graph.egress).toEqual([loop]);
  });

  it('rejects a cycle with CycleError naming the path', () => {
    const a = new Node(id, { name: 'a' });
    const b = new Node(id, { name: 'b' });
    const c = new Node(id, { name: 'c' });
    expect(() => create([a.to(b), b.to(c), c.to(b)])).toThrow(CycleError);
    expect(() => create([a.to(b), b.to(c), c.to(b)])).toThrow(/b -> c -> b/);
  });

  it('accepts cycles with allowCycles', () => {
    const a = new Node(id, { name: 'a' });
    const b = new Node(id, { name: 'b' });
    const c = new Node(id, { name: 'c' });
    expect(() => create([a.to(b), b.to(c), c.to(b)], { allowCycles: true })).not.toThrow();
  });

  it('accepts a self-loop only on a node built with allowCycle', () => {
    const bad = new Node(id, { name: 'bad' });
    expect(() => create([bad.to(bad)])).toThrow(CycleError);
    const good = new Node(id, { name: 'good', allowCycle: true });
    expect(() => create([good.to(good)])).not.toThrow();
  });

  it('rejects two different nodes with the same name', () => {
    const a1 = new Node(id, { name: 'a' });
    const a2 = new Node(id, { name: 'a' });
    expect(() => create([a1.to(a2)])).toThrow(/two different nodes/);
  });

  it('rejects invalid policies when the node is built', () => {
    expect(() => new Node(id, { policy: { maxConcurrency: 0 } })).toThrow(RangeError);
    expect(() => new Node(id, { policy: { maxRetries: -1 } })).toThrow(RangeError);
    expect(() => new Node(id, { policy: { timeoutMs: Number.NaN } })).toThrow(RangeError);
  });
});
