import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { create, FlowError, ModelRegistry, Node, type Message } from '../../../src/runtime/index.js';
import { msg } from './helpers.js';

const In = z.object({ payload: z.object({ n: z.number() }) }).passthrough();
const Out = z.object({ payload: z.object({ doubled: z.number() }) }).passthrough();

function build(validate: 'both' | 'in' | 'out' | 'none', fn: (m: Message<{ n: number }>) => unknown) {
  const node = new Node(fn, { name: 'double', policy: { validate } });
  const registry = new ModelRegistry().register('double', In, Out);
  const flow = create([node.to()], { registry, emitErrorsToRookery: true });
  flow.run();
  return flow;
}

describe('ModelRegistry validation', () => {
  it('passes valid input and output through', async () => {
    const flow = build('both', (m) => ({ ...m, payload: { doubled: m.payload.n * 2 } }));
    const m = msg({ n: 2 });
    await flow.emit(m);
    expect(await flow.fetch({ traceId: m.traceId })).toMatchObject({ payload: { doubled: 4 } });
    await flow.stop();
  });

  it('fails invalid input before the node runs', async () => {
    let ran = false;
    const flow = build('in', (m) => {
      ran = true;
      return m;
    });
    const m = msg({ n: 'two' });
    await flow.emit(m);
    const out = await flow.fetch({ traceId: m.traceId });
    expect(out).toBeInstanceOf(FlowError);
    expect((out as FlowError).message).toMatch(/input validation failed/);
    expect(ran).toBe(false);
    await flow.stop();
  });

  it('fails invalid output when validate is out or both, not when in or none', async () => {
    for (const [validate, fails] of [['out', true], ['both', true], ['in', false], ['none', false]] as const) {
      const flow = build(validate, (m) => ({ ...m, payload: { wrong: true } }));
      const m = msg({ n: 1 });
      await flow.emit(m);
      const out = await flow.fetch({ traceId: m.traceId });
      expect(out instanceof FlowError).toBe(fails);
      await flow.stop();
    }
  });

  it('refuses to register a node twice', () => {
    const r = new ModelRegistry().register('a', In, Out);
    expect(() => r.register('a', In, Out)).toThrow(/already registered/);
    expect(r.names()).toEqual(['a']);
  });
});
