import { describe, expect, it } from 'vitest';
import { create, joinK, Node, TraceCancelled, TraceEndedError, type Message } from '../../../src/runtime/index.js';
import { deferred, msg, turns, until } from './helpers.js';

function fanout(k: number, worker: (i: number) => (m: Message<number>) => unknown) {
  const source = new Node((m: unknown) => m, { name: 'source' });
  const workers = Array.from({ length: k }, (_, i) => new Node(worker(i), { name: `w${i}` }));
  const join = joinK('join', k);
  const final = new Node((m: unknown) => m, { name: 'final' });
  const flow = create([source.to(...workers), ...workers.map((w) => w.to(join)), join.to(final), final.to()]);
  flow.run();
  return flow;
}

describe('joinK', () => {
  it('emits exactly one aggregate per trace after k messages, payloads in arrival order', async () => {
    const gates = [deferred(), deferred(), deferred()];
    const flow = fanout(3, (i) => async (m) => {
      await gates[i]!.promise;
      return { ...m, payload: `w${i}` };
    });
    const m = msg(0);
    await flow.emit(m);
    // Workers finish in the order 1, 2, 0: each reaches the join before the next is released.
    for (const [arrived, i] of [1, 2, 0].entries()) {
      gates[i]!.resolve();
      if (arrived < 2) await until(() => flow.stats().nodes.join?.buffered === arrived + 1);
    }
    const out = (await flow.fetch({ traceId: m.traceId })) as Message<string[]>;
    expect(out.payload).toEqual(['w1', 'w2', 'w0']);
    expect(out.traceId).toBe(m.traceId);
    await expect(flow.fetch({ traceId: m.traceId })).rejects.toBeInstanceOf(TraceEndedError);
    expect(flow.stats().nodes.join).toEqual({ buckets: 0, buffered: 0 });
    await flow.stop();
  });

  it('frees the bucket when the trace is cancelled with the join partially filled', async () => {
    const gate = deferred();
    const flow = fanout(2, (i) => async (m) => {
      if (i === 1) await gate.promise;
      return m;
    });
    const m = msg(0);
    await flow.emit(m);
    await until(() => flow.stats().nodes.join?.buckets === 1);
    expect(await flow.cancel(m.traceId)).toBe(true);
    expect(flow.stats().nodes.join?.buckets).toBe(0);
    await expect(flow.fetch({ traceId: m.traceId })).rejects.toBeInstanceOf(TraceCancelled);
    gate.resolve();
    await flow.stop();
  });

  it('frees the bucket when the trace ends short (a branch failed) and the fetch says FAILED', async () => {
    const flow = fanout(3, (i) => (m) => {
      if (i === 2) throw new Error('branch down');
      return m;
    });
    const m = msg(0);
    await flow.emit(m);
    const err = await flow.fetch({ traceId: m.traceId }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TraceEndedError);
    expect((err as TraceEndedError).status).toBe('FAILED');
    expect(flow.stats().nodes.join?.buckets).toBe(0);
    await flow.stop();
  });

  it('keeps traces apart: interleaved traces each get their own aggregate', async () => {
    const flow = fanout(2, (i) => async (m) => {
      await turns(i === 0 ? 1 : 3); // branches finish at different turns, so traces interleave at the join
      return m;
    });
    const msgs = Array.from({ length: 10 }, (_, i) => msg(i));
    await Promise.all(msgs.map((m) => flow.emit(m)));
    for (const m of msgs) {
      const out = (await flow.fetch({ traceId: m.traceId })) as Message<number[]>;
      expect(out.payload).toEqual([m.payload, m.payload]);
    }
    await flow.stop();
  });

  it('rejects a non-positive k', () => {
    expect(() => joinK('j', 0)).toThrow(RangeError);
  });
});
