/**
 * Property-based tests of the runtime's concurrency guarantees (DESIGN.md §2):
 * per-edge FIFO under backpressure, trace isolation, stream numbering, joinK
 * under random arrival, and cancellation isolation. Every property builds a
 * fresh flow per run with random timings drawn by fast-check, so a failure
 * prints a seed and a shrunk counterexample.
 */
import { setImmediate as nextTurn, setTimeout as delay } from 'node:timers/promises';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  create,
  createMessage,
  joinK,
  Node,
  TraceCancelled,
  TraceEndedError,
  type Context,
  type Flow,
  type FlowEvent,
  type Message,
  type StreamChunk,
} from '../../../src/runtime/index.js';

// ---------------------------------------------------------------- helpers

/**
 * A random scheduling point: run on (no yield), yield to the microtask
 * queue, yield to the macrotask queue via setImmediate, or wait 0..2 ms.
 */
type Pause = 'sync' | 'micro' | 'immediate' | number;

const pauseArb: fc.Arbitrary<Pause> = fc.oneof(
  fc.constant<Pause>('sync'),
  fc.constant<Pause>('micro'),
  fc.constant<Pause>('immediate'),
  fc.integer({ min: 0, max: 2 }),
);

/** Waits as `p` says; with a signal, rejects (AbortError) as soon as it aborts. */
function pause(p: Pause, signal?: AbortSignal): Promise<void> | undefined {
  if (p === 'sync') return undefined;
  if (p === 'micro') return new Promise<void>((resolve) => queueMicrotask(resolve));
  const opts = signal === undefined ? undefined : { signal };
  return p === 'immediate' ? nextTurn(undefined, opts) : delay(p, undefined, opts);
}

async function doPause(p: Pause, signal?: AbortSignal): Promise<void> {
  const w = pause(p, signal);
  if (w !== undefined) await w;
}

const HEADERS = { tenant: 'props' };

/** Rejects with a diagnostic (including the flow's bookkeeping) if `p` does not settle in time: a hang is a failure, not a test timeout. */
async function within<T>(p: Promise<T>, ms: number, flow: Flow, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_r, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: did not settle within ${ms} ms; stats=${JSON.stringify(flow.stats())}`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Settles `p` into a tagged result so a rejection can be asserted on. */
async function settle<T>(p: Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
  try {
    return { ok: true, value: await p };
  } catch (error) {
    return { ok: false, error };
  }
}

/** The per-trace bookkeeping every property expects to be empty once all its traces are over. */
function expectIdle(flow: Flow): void {
  const s = flow.stats();
  expect({
    traces: s.traces,
    pending: s.pending,
    inflight: s.inflight,
    queued: s.queued,
    blockedEmits: s.blockedEmits,
    bufferedOutputs: s.bufferedOutputs,
    fetchWaiters: s.fetchWaiters,
    openStreams: s.openStreams,
  }).toEqual({ traces: 0, pending: 0, inflight: 0, queued: 0, blockedEmits: 0, bufferedOutputs: 0, fetchWaiters: 0, openStreams: 0 });
}

/** Asserts the trace has no further output and ended with `status` (the "exactly one output" half of each roundtrip). */
async function expectEnded(flow: Flow, traceId: string, status: 'COMPLETED' | 'FAILED' | 'DEADLINE_EXCEEDED'): Promise<void> {
  const after = await within(settle(flow.fetch({ traceId })), 3000, flow, `end of trace ${traceId}`);
  expect(after.ok, `trace ${traceId} produced an extra output`).toBe(false);
  if (!after.ok) {
    expect(after.error).toBeInstanceOf(TraceEndedError);
    expect((after.error as TraceEndedError).status).toBe(status);
  }
}

const RUN_MS = 5000;
/** Report a (partly shrunk) counterexample before vitest's timeout when runs hang; an interrupted run counts as a failure. */
const BOUNDED = { interruptAfterTimeLimit: 40_000, markInterruptAsFailure: true } as const;

// ---------------------------------------------------------------- properties

describe('runtime properties (fast-check)', () => {
  it('keeps FIFO order on an edge and drops nothing under random producer timing, consumer timing and queueMaxsize', async () => {
    const stepArb = fc.record({ v: fc.integer(), before: pauseArb, awaitEmit: fc.boolean() });
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 8 }),
        fc.array(stepArb, { minLength: 0, maxLength: 40, size: 'max' }),
        fc.array(pauseArb, { minLength: 40, maxLength: 40 }),
        fc.array(pauseArb, { minLength: 41, maxLength: 41 }),
        async (queueMaxsize, steps, consumerPauses, fetchPauses) => {
          type Item = { i: number; v: number };
          const seen: Item[] = [];
          let maxQueued = 0;
          let maxBuffered = 0;
          const ref: { flow?: Flow } = {};
          const observe = (): void => {
            const s = ref.flow!.stats();
            maxQueued = Math.max(maxQueued, s.queued);
            maxBuffered = Math.max(maxBuffered, s.bufferedOutputs);
          };
          const producer = new Node(
            async (_m: Message, ctx: Context) => {
              const inFlight: Promise<void>[] = [];
              for (const [i, step] of steps.entries()) {
                await doPause(step.before);
                // Order of ctx.emit calls is the order the edge must preserve, whether or not the call is awaited.
                const put = ctx.emit({ i, v: step.v });
                observe();
                if (step.awaitEmit) {
                  await put;
                  observe();
                } else inFlight.push(put);
              }
              await Promise.all(inFlight);
              return undefined;
            },
            { name: 'producer' },
          );
          const consumer = new Node(
            async (item: Item) => {
              seen.push(item);
              observe();
              await doPause(consumerPauses[item.i % consumerPauses.length]!);
              return item;
            },
            { name: 'consumer' },
          );
          const flow = create([producer.to(consumer), consumer.to()], { queueMaxsize });
          ref.flow = flow;
          flow.run();
          try {
            const m = createMessage({ payload: null, headers: HEADERS });
            const expected = steps.map((s, i) => ({ i, v: s.v }));
            const run = async (): Promise<unknown[]> => {
              await flow.emit(m);
              const fetched: unknown[] = [];
              for (let k = 0; k < expected.length; k++) {
                await doPause(fetchPauses[k]!);
                fetched.push(await flow.fetch({ traceId: m.traceId }));
              }
              return fetched;
            };
            const fetched = await within(run(), RUN_MS, flow, 'FIFO roundtrip');
            await expectEnded(flow, m.traceId, 'COMPLETED');
            expect(seen).toEqual(expected);
            expect(fetched).toEqual(expected);
            // The producer→consumer edge is the only edge holding items, and Rookery buffers per trace.
            expect(maxQueued).toBeLessThanOrEqual(queueMaxsize);
            expect(maxBuffered).toBeLessThanOrEqual(queueMaxsize);
            expectIdle(flow);
          } finally {
            await flow.stop();
          }
        },
      ),
      { numRuns: 100, ...BOUNDED },
    );
  }, 60_000);

  it('isolates concurrent emit+fetch roundtrips per trace through a multi-node chain with maxConcurrency > 1', async () => {
    const callerArb = fc.record({
      v: fc.integer({ min: -1000, max: 1000 }),
      delays: fc.tuple(pauseArb, pauseArb, pauseArb),
      fetchFirst: fc.boolean(),
      // Between emit and fetch: a late fetch finds its output buffered in Rookery among other traces' outputs.
      fetchAfter: pauseArb,
    });
    await fc.assert(
      fc.asyncProperty(
        fc.array(callerArb, { minLength: 1, maxLength: 50, size: 'max' }),
        fc.tuple(fc.integer({ min: 2, max: 8 }), fc.integer({ min: 2, max: 8 }), fc.integer({ min: 2, max: 8 })),
        fc.integer({ min: 1, max: 8 }),
        async (callers, [c1, c2, c3], queueMaxsize) => {
          type P = { id: number; v: number; path: string[] };
          type Caller = (typeof callers)[number];
          const step = (name: string, idx: 0 | 1 | 2, f: (v: number) => number, maxConcurrency: number): Node =>
            new Node(
              async (m: Message<P>) => {
                await doPause(callers[m.payload.id]!.delays[idx]);
                return { ...m, payload: { id: m.payload.id, v: f(m.payload.v), path: [...m.payload.path, name] } };
              },
              { name, policy: { maxConcurrency } },
            );
          const a = step('a', 0, (v) => v + 1, c1);
          const b = step('b', 1, (v) => v * 3, c2);
          const c = step('c', 2, (v) => v - 7, c3);
          const flow = create([a.to(b), b.to(c), c.to()], { queueMaxsize });
          flow.run();
          try {
            const roundtrip = async (caller: Caller, id: number): Promise<{ traceId: string; out: unknown }> => {
              const m = createMessage<P>({ payload: { id, v: caller.v, path: [] }, headers: { tenant: `t${id}` } });
              let out: unknown;
              if (caller.fetchFirst) {
                const f = flow.fetch({ traceId: m.traceId });
                await flow.emit(m);
                out = await f;
              } else {
                await flow.emit(m);
                await doPause(caller.fetchAfter);
                out = await flow.fetch({ traceId: m.traceId });
              }
              return { traceId: m.traceId, out };
            };
            const results = await within(Promise.all(callers.map(roundtrip)), RUN_MS, flow, 'concurrent roundtrips');
            for (const [id, { traceId, out }] of results.entries()) {
              const o = out as Message<P>;
              expect(o.traceId).toBe(traceId);
              expect(o.headers.tenant).toBe(`t${id}`);
              expect(o.payload).toEqual({ id, v: (callers[id]!.v + 1) * 3 - 7, path: ['a', 'b', 'c'] });
            }
            await Promise.all(results.map((r) => expectEnded(flow, r.traceId, 'COMPLETED')));
            expectIdle(flow);
          } finally {
            await flow.stop();
          }
        },
      ),
      { numRuns: 60, ...BOUNDED },
    );
  }, 60_000);

  it('numbers emitChunk seq 0,1,2,… per stream, restarting after done, across concurrent traces of a node with maxConcurrency > 1', async () => {
    // Each trace streams 1..3 consecutive streams (same streamId = trace id) of 1..8 chunks.
    const traceArb = fc.array(fc.array(pauseArb, { minLength: 1, maxLength: 8, size: 'max' }), { minLength: 1, maxLength: 3, size: 'max' });
    await fc.assert(
      fc.asyncProperty(
        fc.array(traceArb, { minLength: 1, maxLength: 20, size: 'max' }),
        fc.integer({ min: 2, max: 8 }),
        fc.integer({ min: 1, max: 8 }),
        fc.boolean(),
        async (traces, maxConcurrency, queueMaxsize, viaSink) => {
          type P = { id: number };
          // Seq numbers returned to the emitting node; asserted outside the node, where a failure is reported as such.
          const returnedSeqs = new Map<number, number[]>();
          const streamer = new Node(
            async (m: Message<P>, ctx: Context) => {
              const streams = traces[m.payload.id]!;
              for (const [s, chunks] of streams.entries()) {
                for (const [i, p] of chunks.entries()) {
                  await doPause(p);
                  const chunk = await ctx.emitChunk({ parent: m, text: `${s}:${i}`, done: i === chunks.length - 1 });
                  const seqs = returnedSeqs.get(m.payload.id) ?? [];
                  seqs.push(chunk.seq);
                  returnedSeqs.set(m.payload.id, seqs);
                }
              }
              return undefined;
            },
            { name: 'streamer', policy: { maxConcurrency } },
          );
          // Optionally pass chunks through a one-at-a-time sink: chunks then cross a bounded edge too.
          const sink = new Node((m: unknown) => m, { name: 'sink' });
          const flow = create(viaSink ? [streamer.to(sink), sink.to()] : [streamer.to()], { queueMaxsize });
          flow.run();
          try {
            const one = async (streams: Pause[][], id: number): Promise<void> => {
              const m = createMessage<P>({ payload: { id }, headers: HEADERS });
              await flow.emit(m);
              const total = streams.reduce((n, s) => n + s.length, 0);
              const got: StreamChunk[] = [];
              for (let k = 0; k < total; k++) {
                const out = (await flow.fetch({ traceId: m.traceId })) as Message<StreamChunk>;
                expect(out.traceId).toBe(m.traceId);
                got.push(out.payload);
              }
              const expected = streams.flatMap((chunks, s) =>
                chunks.map((_p, i) => ({ streamId: m.traceId, seq: i, text: `${s}:${i}`, done: i === chunks.length - 1 })),
              );
              expect(got.map(({ streamId, seq, text, done }) => ({ streamId, seq, text, done }))).toEqual(expected);
              await expectEnded(flow, m.traceId, 'COMPLETED');
              // The node has returned once the trace ended, so every emitChunk it awaited has resolved.
              expect(returnedSeqs.get(id)).toEqual(expected.map((e) => e.seq));
            };
            await within(Promise.all(traces.map(one)), RUN_MS, flow, 'concurrent streams');
            expectIdle(flow);
          } finally {
            await flow.stop();
          }
        },
      ),
      { numRuns: 80, ...BOUNDED },
    );
  }, 60_000);

  it('joinK emits exactly one aggregate with exactly its k items per trace under random arrival order with queueMaxsize 1, and frees each bucket as it emits', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 2, max: 5 }).chain((k) =>
          fc.record({
            k: fc.constant(k),
            workerConcurrency: fc.integer({ min: 1, max: 3 }),
            traces: fc.array(
              fc.record({ v: fc.integer(), delays: fc.array(pauseArb, { minLength: k, maxLength: k }), fetchFirst: fc.boolean() }),
              { minLength: 1, maxLength: 20, size: 'max' },
            ),
          }),
        ),
        async ({ k, workerConcurrency, traces }) => {
          type In = { id: number; v: number };
          type Out = { id: number; v: number; w: number };
          const fan = new Node((m: Message<In>) => m, { name: 'fan' });
          const workers = Array.from(
            { length: k },
            (_x, w) =>
              new Node(
                async (m: Message<In>) => {
                  await doPause(traces[m.payload.id]!.delays[w]!);
                  return { ...m, payload: { ...m.payload, w } };
                },
                { name: `w${w}`, policy: { maxConcurrency: workerConcurrency } },
              ),
          );
          const join = joinK('join', k);
          const final = new Node((m: Message<Out[]>) => ({ ...m, payload: { joined: m.payload } }), { name: 'final' });
          // A branch around the join that keeps every trace alive until the gate opens, so "freed when it emits"
          // is observable separately from "freed when the trace ends".
          let openGate!: () => void;
          const gate = new Promise<void>((r) => (openGate = r));
          const holder = new Node(
            async () => {
              await gate;
              return undefined;
            },
            { name: 'holder', policy: { maxConcurrency: 32 } },
          );
          const flow = create([fan.to(...workers, holder), ...workers.map((w) => w.to(join)), join.to(final), final.to(), holder.to()], {
            queueMaxsize: 1,
          });
          flow.run();
          try {
            const one = async (t: (typeof traces)[number], id: number): Promise<string> => {
              const m = createMessage<In>({ payload: { id, v: t.v }, headers: HEADERS });
              let out: unknown;
              if (t.fetchFirst) {
                const f = flow.fetch({ traceId: m.traceId });
                await flow.emit(m);
                out = await f;
              } else {
                await flow.emit(m);
                out = await flow.fetch({ traceId: m.traceId });
              }
              const agg = out as Message<{ joined: Out[] }>;
              expect(agg.traceId).toBe(m.traceId);
              expect(agg.payload.joined).toHaveLength(k);
              expect(agg.payload.joined.every((p) => p.id === id && p.v === t.v)).toBe(true);
              expect(agg.payload.joined.map((p) => p.w).sort((x, y) => x - y)).toEqual(Array.from({ length: k }, (_x, w) => w));
              return m.traceId;
            };
            const ids = await within(Promise.all(traces.map(one)), RUN_MS, flow, 'joinK traces');
            // Every trace is still live (held), yet every join bucket is already gone.
            expect(flow.stats().traces).toBe(traces.length);
            expect(flow.stats().nodes.join).toEqual({ buckets: 0, buffered: 0 });
            openGate();
            await Promise.all(ids.map((id) => expectEnded(flow, id, 'COMPLETED')));
            expect(flow.stats().nodes.join).toEqual({ buckets: 0, buffered: 0 });
            expectIdle(flow);
          } finally {
            await flow.stop();
          }
        },
      ),
      { numRuns: 80, ...BOUNDED },
    );
  }, 60_000);

  it('cancelling random traces at random times never affects the other traces, and leaves no bookkeeping behind', async () => {
    const traceArb = fc.record({
      v: fc.integer({ min: -1000, max: 1000 }),
      delays: fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 3 })),
      cancelAtMs: fc.option(fc.integer({ min: 0, max: 12 }), { nil: undefined, freq: 2 }),
      // Fetch only after the cancel settled: a trace that finished first then still holds its output in Rookery.
      fetchLate: fc.boolean(),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.array(traceArb, { minLength: 1, maxLength: 30, size: 'max' }),
        fc.tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 })),
        // Whether each node honours ctx.signal; one that ignores it must not delay or corrupt anything either.
        fc.tuple(fc.boolean(), fc.boolean(), fc.boolean()),
        fc.integer({ min: 1, max: 4 }),
        async (traces, concurrency, honoursSignal, queueMaxsize) => {
          type P = { id: number; v: number; path: string[] };
          // Traces whose last node has returned. Checked from a timer callback, where every microtask has run,
          // "c returned" means the trace has ended, and "c has not returned" means it is still live.
          const finished = new Set<number>();
          const step = (name: string, idx: 0 | 1 | 2, f: (v: number) => number): Node =>
            new Node(
              async (m: Message<P>, ctx: Context) => {
                await doPause(traces[m.payload.id]!.delays[idx], honoursSignal[idx] ? ctx.signal : undefined);
                if (idx === 2) finished.add(m.payload.id);
                return { ...m, payload: { id: m.payload.id, v: f(m.payload.v), path: [...m.payload.path, name] } };
              },
              { name, policy: { maxConcurrency: concurrency[idx] } },
            );
          const a = step('a', 0, (v) => v + 1);
          const b = step('b', 1, (v) => v * 5);
          const c = step('c', 2, (v) => v - 3);
          const cancelEvents = new Map<string, string[]>();
          const middleware = (e: FlowEvent): void => {
            if (e.traceId !== undefined && (e.eventType === 'trace_cancel_start' || e.eventType === 'trace_cancel_finish')) {
              const list = cancelEvents.get(e.traceId) ?? [];
              list.push(e.eventType);
              cancelEvents.set(e.traceId, list);
            }
          };
          const flow = create([a.to(b), b.to(c), c.to()], { queueMaxsize, middlewares: [middleware] });
          flow.run();
          try {
            type Outcome = {
              traceId: string;
              emitted: Awaited<ReturnType<typeof settle<void>>>;
              fetched: Awaited<ReturnType<typeof settle<unknown>>>;
              cancelled?: boolean;
              cancelledAgain?: boolean;
              finishedAtCancel?: boolean;
            };
            const one = async (t: (typeof traces)[number], id: number): Promise<Outcome> => {
              const m = createMessage<P>({ payload: { id, v: t.v, path: [] }, headers: HEADERS });
              const late = t.fetchLate && t.cancelAtMs !== undefined;
              const early = late ? undefined : settle(flow.fetch({ traceId: m.traceId }));
              const emitting = settle(flow.emit(m));
              let cancelling: Promise<[boolean, boolean]> | undefined;
              let finishedAtCancel: boolean | undefined;
              if (t.cancelAtMs !== undefined) {
                cancelling = new Promise<[boolean, boolean]>((resolve, reject) => {
                  setTimeout(() => {
                    finishedAtCancel = finished.has(id);
                    // Two concurrent cancels: at most one may report true.
                    Promise.all([flow.cancel(m.traceId), flow.cancel(m.traceId)]).then(resolve, reject);
                  }, t.cancelAtMs);
                });
              }
              const [emitted, cancelled] = await Promise.all([emitting, cancelling]);
              const fetched = await (early ?? settle(flow.fetch({ traceId: m.traceId })));
              return { traceId: m.traceId, emitted, fetched, cancelled: cancelled?.[0], cancelledAgain: cancelled?.[1], finishedAtCancel };
            };
            const outcomes = await within(Promise.all(traces.map(one)), RUN_MS, flow, 'cancel run');
            for (const [id, o] of outcomes.entries()) {
              const expected = { id, v: (traces[id]!.v + 1) * 5 - 3, path: ['a', 'b', 'c'] };
              const events = cancelEvents.get(o.traceId) ?? [];
              expect(o.cancelledAgain ?? false).toBe(false);
              // cancel is true exactly for a trace still live when it was called, false for one already finished.
              if (o.cancelled !== undefined) expect(o.cancelled, `trace ${id}: cancel result vs finished=${String(o.finishedAtCancel)}`).toBe(!o.finishedAtCancel);
              if (o.cancelled === true) {
                // Cancelled while live: its fetch (before or after the cancel) rejects, its emit either went in or was dropped.
                expect(o.fetched.ok).toBe(false);
                if (!o.fetched.ok) expect(o.fetched.error).toBeInstanceOf(TraceCancelled);
                if (!o.emitted.ok) expect(o.emitted.error).toBeInstanceOf(TraceCancelled);
                expect(events).toEqual(['trace_cancel_start', 'trace_cancel_finish']);
                const late = await settle(flow.fetch({ traceId: o.traceId }));
                expect(late.ok).toBe(false);
                if (!late.ok) expect(late.error).toBeInstanceOf(TraceCancelled);
              } else {
                // Never cancelled, or cancelled after it had finished (cancel returned false): untouched.
                expect(o.emitted).toEqual({ ok: true, value: undefined });
                expect(o.fetched.ok, `trace ${id} (cancel=${String(o.cancelled)}) failed: ${o.fetched.ok ? '' : String(o.fetched.error)}`).toBe(true);
                if (o.fetched.ok) {
                  const out = o.fetched.value as Message<P>;
                  expect(out.traceId).toBe(o.traceId);
                  expect(out.payload).toEqual(expected);
                }
                expect(events).toEqual([]);
                await expectEnded(flow, o.traceId, 'COMPLETED');
              }
            }
            expectIdle(flow);
          } finally {
            await flow.stop();
          }
        },
      ),
      { numRuns: 100, ...BOUNDED },
    );
  }, 60_000);
});
