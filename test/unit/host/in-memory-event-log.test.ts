/**
 * InMemoryEventLog is the store-backed event log over a MemoryStateStore:
 * what `history` returns must be exactly what was appended, in order, with
 * gap-free seqs, whether the events still wait in the write buffer or are
 * in the store; and the store keeps every running trace's history and the
 * last `maxReleasedTraces` ended ones.
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
  it('returns every appended event unchanged, per (tenant, trace id), with seqs 1, 2, 3, …, before and after the write (property)', async () => {
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
        for (const written of [false, true]) {
          if (written) await log.writer.flush();
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
        }
        await log.close();
      }),
      { numRuns: 200 },
    );
  });

  it('keeps at most maxEventsPerTrace events, the newest, with their original seqs', async () => {
    const log = new InMemoryEventLog({ retentionMs: 60_000, maxReleasedTraces: 10, maxEventsPerTrace: 5 });
    for (let i = 0; i < 3000; i++) {
      log.append('chain5', 'acme', 't', toEvent({ ...sample(), attempt: i, extra: i % 7 === 0 ? { n: i } : {} }));
    }
    await log.writer.flush();
    const got = (await log.history('acme', 't'))!;
    expect(got.map((e) => e.seq)).toEqual([2996, 2997, 2998, 2999, 3000]);
    expect(got.map((e) => e.event.attempt)).toEqual([2995, 2996, 2997, 2998, 2999]);
    expect(got.map((e) => e.event.extra)).toEqual([2995, 2996, 2997, 2998, 2999].map((i) => (i % 7 === 0 ? { n: i } : {})));
    expect((await log.history('acme', 't', 2998))!.map((e) => e.seq)).toEqual([2999, 3000]);
    await log.close();
  });

  it('keeps the history of running traces and of the last maxReleasedTraces ended ones, forgetting the oldest end first', async () => {
    const log = new InMemoryEventLog({ retentionMs: 1000, maxReleasedTraces: 3 });
    const ids = ['a', 'b', 'c', 'd', 'e'];
    // As a hosted flow does: retain and record the start, then events.
    for (const id of ids) {
      log.retain('acme', id);
      log.traceStarted('acme', 'f', id);
      log.append('f', 'acme', id, toEvent(sample()));
    }
    const known = async (): Promise<string[]> => {
      const out: string[] = [];
      for (const id of ids) if ((await log.history('acme', id)) !== undefined) out.push(id);
      return out;
    };
    // End order: b, a, d, c; e keeps running.
    for (const id of ['b', 'a', 'd', 'c']) {
      log.traceEnded('acme', 'f', id, 'COMPLETED');
      log.release('acme', id);
    }
    await log.writer.flush();
    // Four ended against a cap of 3: b, the oldest end, is gone; e runs and stays.
    expect(await known()).toEqual(['a', 'c', 'd', 'e']);
    // Past the numbering's retention the history is still there: it goes with the history retention.
    log.sweep(Date.now() + 1000);
    expect(await known()).toEqual(['a', 'c', 'd', 'e']);
    expect(log.traceCount).toBe(1); // only e's numbering stays in memory
    // Pruned past the 7-day history retention, as every store is: only e, still running, is known (with no stored events).
    await log.prune(Date.now() + 8 * 24 * 3_600_000);
    expect(await known()).toEqual(['e']);
    expect(await log.history('acme', 'e')).toEqual([]);
    await log.close();
  });
});

function sample(): Arb {
  return fc.sample(arbEvent, { numRuns: 1, seed: 42 })[0]!;
}
