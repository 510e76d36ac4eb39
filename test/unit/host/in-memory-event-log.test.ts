/**
 * InMemoryEventLog stores events flattened (numbers in one buffer per
 * trace, origins interned, rare fields aside); what `history` returns must
 * be exactly what was appended, in order, with gap-free seqs.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FLOW_EVENT_TYPES, FlowEvent } from '../../../src/runtime/index.js';
import { InMemoryEventLog } from '../../../src/server/index.js';

const FLOWS = ['chain5', 'fanout'];
const NODES: readonly { name: string | undefined; id: string | undefined }[] = [
  { name: 'hop1', id: 'n-1' },
  { name: 'hop2', id: 'n-2' },
  // The same id under another name (and in another flow) must not be confused.
  { name: 'other', id: 'n-1' },
  { name: undefined, id: undefined },
];

const maybeNumber = fc.option(fc.double({ noNaN: true, min: 0, max: 1e6 }), { nil: undefined });

const arbEvent = fc.record({
  flow: fc.constantFrom(...FLOWS),
  tenant: fc.constantFrom('acme', 'globex'),
  traceId: fc.constantFrom('t1', 't2', 'q"uote'),
  node: fc.constantFrom(...NODES),
  eventType: fc.constantFrom(...FLOW_EVENT_TYPES),
  ts: fc.integer({ min: 0, max: 2 ** 45 }),
  attempt: fc.nat(10),
  latencyMs: maybeNumber,
  queueDepthIn: fc.nat(64),
  queueDepthOut: fc.nat(64),
  outgoingEdges: fc.nat(8),
  queueMaxsize: fc.nat(1000),
  tracePending: fc.option(fc.nat(100), { nil: undefined }),
  traceInflight: fc.option(fc.nat(100), { nil: undefined }),
  traceCancelled: fc.boolean(),
  extra: fc.oneof(fc.constant({}), fc.record({ traceparent: fc.string(), exceptionType: fc.string() }, { requiredKeys: [] })),
  runtimeTraceId: fc.option(fc.constantFrom('k1', 'k2'), { nil: undefined }),
});

type Arb = typeof arbEvent extends fc.Arbitrary<infer T> ? T : never;

function toEvent(a: Arb): FlowEvent {
  return new FlowEvent({
    eventType: a.eventType,
    ts: a.ts,
    nodeName: a.node.name,
    nodeId: a.node.id,
    traceId: a.runtimeTraceId,
    attempt: a.attempt,
    latencyMs: a.latencyMs,
    queueDepthIn: a.queueDepthIn,
    queueDepthOut: a.queueDepthOut,
    outgoingEdges: a.outgoingEdges,
    queueMaxsize: a.queueMaxsize,
    tracePending: a.tracePending,
    traceInflight: a.traceInflight,
    traceCancelled: a.traceCancelled,
    extra: a.extra,
  });
}

describe('InMemoryEventLog', () => {
  it('returns every appended event unchanged, per (tenant, trace id), with seqs 1, 2, 3, … (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(arbEvent, { maxLength: 60 }), async (arbs) => {
        const log = new InMemoryEventLog({ retentionMs: 60_000, maxReleasedTraces: 100 });
        const expected = new Map<string, { flow: string; event: FlowEvent }[]>();
        for (const a of arbs) {
          const event = toEvent(a);
          log.append(a.flow, a.tenant, a.traceId, event);
          const key = `${a.tenant}/${a.traceId}`;
          expected.set(key, [...(expected.get(key) ?? []), { flow: a.flow, event }]);
        }
        for (const [key, events] of expected) {
          const [tenant, traceId] = key.split('/') as [string, string];
          const got = (await log.history(tenant, traceId))!;
          expect(got.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
          got.forEach((g, i) => {
            expect(g).toMatchObject({ tenant, traceId, flow: events[i]!.flow });
            expect({ ...g.event }).toEqual({ ...events[i]!.event });
          });
          const after = (await log.history(tenant, traceId, 2))!;
          expect(after.map((e) => e.seq)).toEqual(events.slice(2).map((_, i) => i + 3));
        }
      }),
      { numRuns: 200 },
    );
  });

  it('keeps at most maxEventsPerTrace events, the newest, with their original seqs', async () => {
    const log = new InMemoryEventLog({ retentionMs: 60_000, maxReleasedTraces: 10, maxEventsPerTrace: 5 });
    for (let i = 0; i < 3000; i++) {
      log.append('chain5', 'acme', 't', toEvent({ ...sample(), attempt: i, extra: i % 7 === 0 ? { n: i } : {} }));
    }
    const got = (await log.history('acme', 't'))!;
    expect(got.map((e) => e.seq)).toEqual([2996, 2997, 2998, 2999, 3000]);
    expect(got.map((e) => e.event.attempt)).toEqual([2995, 2996, 2997, 2998, 2999]);
    expect(got.map((e) => e.event.extra)).toEqual([2995, 2996, 2997, 2998, 2999].map((i) => (i % 7 === 0 ? { n: i } : {})));
    expect((await log.history('acme', 't', 2998))!.map((e) => e.seq)).toEqual([2999, 3000]);
  });

  it('forgets released traces oldest release first, over the cap or past the retention, and never a retained one', async () => {
    const log = new InMemoryEventLog({ retentionMs: 1000, maxReleasedTraces: 3 });
    const ids = ['a', 'b', 'c', 'd', 'e'];
    for (const id of ids) {
      log.retain('acme', id);
      log.append('f', 'acme', id, toEvent(sample()));
    }
    // Release order: b, a, d, c (e stays retained); then b is re-retained.
    // Every release below happens at or after t.
    const t = Date.now();
    for (const id of ['b', 'a', 'd', 'c']) log.release('acme', id);
    log.retain('acme', 'b');
    log.release('acme', 'e');
    // Released now: a, d, c, e (cap 3): a, the oldest release, is gone.
    const known = async (): Promise<string[]> => {
      const out: string[] = [];
      for (const id of ids) if ((await log.history('acme', id)) !== undefined) out.push(id);
      return out;
    };
    expect(await known()).toEqual(['b', 'c', 'd', 'e']);
    expect(log.traceCount).toBe(4);
    log.sweep(t + 999);
    expect(await known()).toEqual(['b', 'c', 'd', 'e']);
    log.sweep(Date.now() + 1000);
    // Everything released has expired; b is still retained.
    expect(await known()).toEqual(['b']);
    log.release('acme', 'b');
    log.sweep(Date.now() + 1000);
    expect(await known()).toEqual([]);
    expect(log.traceCount).toBe(0);
  });

  it('still records the origin of events once the intern table is full', async () => {
    const log = new InMemoryEventLog({ retentionMs: 60_000, maxReleasedTraces: 10, maxEventsPerTrace: 100_000 });
    const n = 65_536 + 10;
    for (let i = 0; i < n; i++) log.append('f', 'acme', 't', toEvent({ ...sample(), node: { name: `node${i}`, id: `id${i}` } }));
    const got = (await log.history('acme', 't', n - 3))!;
    expect(got.map((e) => [e.event.nodeName, e.event.nodeId, e.flow])).toEqual([
      [`node${n - 3}`, `id${n - 3}`, 'f'],
      [`node${n - 2}`, `id${n - 2}`, 'f'],
      [`node${n - 1}`, `id${n - 1}`, 'f'],
    ]);
  });
});

function sample(): Arb {
  return fc.sample(arbEvent, { numRuns: 1, seed: 42 })[0]!;
}
