/**
 * The driver of the no-leak tests (no-leak-*.test.ts): one flow with a
 * branch per kind of trace (completed, retried, failed after retries,
 * cancelled while running / queued / while the node ignores its signal,
 * deadline-skipped, joinK complete / partially filled then cancelled /
 * partially filled then failed, streams complete / cancelled mid-stream),
 * driven by 50 concurrent workers through thousands of traces of the kinds
 * a test picks, in a seeded random order. Each trace's outputs and end are
 * checked as it runs; afterwards every piece of per-trace bookkeeping in
 * `flow.stats()` must be back to zero.
 */
import { expect } from 'vitest';
import {
  create,
  createMessage,
  FlowError,
  FlowErrorCode,
  joinK,
  Node,
  TraceCancelled,
  TraceEndedError,
  type Context,
  type FinalAnswer,
  type Flow,
  type FlowStats,
  type Message,
  type StreamChunk,
} from '../../../src/runtime/index.js';
import { deferred, until, untilAborted } from './helpers.js';

const CONCURRENCY = 50;
/** `endedTraceCacheSize` of the flow: the ended-trace cache must stay within it. */
export const ENDED_CACHE = 100;
const QUEUE_MAXSIZE = 8;

export const KINDS = [
  'ok',
  'retryOk',
  'fail',
  'cancelRunning',
  'cancelQueued',
  'cancelIgnoring',
  'deadline',
  'joinOk',
  'joinCancel',
  'joinFail',
  'streamOk',
  'streamCancel',
] as const;
export type Kind = (typeof KINDS)[number];

interface P {
  i: number;
  kind: Kind;
}

/** What a run saw, and the flow's bookkeeping once every trace and abandoned invocation ran out. */
export interface LeakRun {
  readonly kinds: readonly Kind[];
  readonly traces: number;
  /** Per-trace checks that failed (first 20). */
  readonly failures: string[];
  readonly counts: Record<Kind, number>;
  /** Peaks while traces were live, so the zeros at the end mean something. */
  readonly sawLiveTraces: number;
  readonly sawJoinBucket: number;
  readonly sawOpenStream: number;
  readonly elapsedMs: number;
  readonly stats: FlowStats;
}

/** Small deterministic PRNG (mulberry32) so a failure reproduces. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function settle<T>(p: Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
  try {
    return { ok: true, value: await p };
  } catch (error) {
    return { ok: false, error };
  }
}

function describe_(r: { ok: boolean; value?: unknown; error?: unknown }): string {
  if (r.ok) return `output ${JSON.stringify(r.value)?.slice(0, 200)}`;
  return r.error instanceof Error ? `${r.error.name}: ${r.error.message}` : String(r.error);
}

/** Runs `traces` traces of the given kinds (drawn at random with `seed`) through the flow described above. */
export async function runTraces(opts: { kinds: readonly Kind[]; traces: number; emitErrorsToRookery: boolean; seed?: number }): Promise<LeakRun> {
  const { kinds, traces: TRACES } = opts;
  const errorsToRookery = opts.emitErrorsToRookery;
  // Per-trace hand-offs between node code and the test driver.
  const started = new Map<string, () => void>();
  const releaseZombie = new Map<string, Promise<void>>();
  const joinSawTwo = new Map<string, () => void>();
  const attempts = new Map<string, number>();

  const okHead = new Node((m: Message<P>) => ({ ...m, payload: { ...m.payload, hop: 1 } }), { name: 'okHead', policy: { maxConcurrency: 4 } });
  const okTail = new Node((m: Message<P & { hop: number }>) => ({ ...m, payload: { ...m.payload, hop: m.payload.hop + 1 } }), { name: 'okTail' });

  // Fails `failures` times per trace, then succeeds; 3 attempts in total.
  const flaky = new Node(
    (m: Message<P>, ctx: Context) => {
      const n = (attempts.get(ctx.traceId!) ?? 0) + 1;
      attempts.set(ctx.traceId!, n);
      if (m.payload.kind === 'fail' || n === 1) throw new Error(`flaky attempt ${n}`);
      attempts.delete(ctx.traceId!);
      return { ...m, payload: { ...m.payload, attempts: n } };
    },
    { name: 'flaky', policy: { maxRetries: 2, backoffBaseMs: 1, backoffMult: 1, maxConcurrency: 16 } },
  );

  // Runs until cancelled; `cancelIgnoring` ignores its signal and returns late (its result must be discarded).
  const hang = new Node(
    async (m: Message<P>, ctx: Context) => {
      started.get(ctx.traceId!)?.();
      if (m.payload.kind === 'cancelIgnoring') {
        await releaseZombie.get(ctx.traceId!);
        return { ...m, payload: 'zombie result' };
      }
      return untilAborted(ctx.signal);
    },
    { name: 'hang', policy: { maxConcurrency: 8 } },
  );

  const jfan = new Node((m: Message<P>) => m, { name: 'jfan' });
  const jfast1 = new Node((m: Message<P>) => ({ ...m, payload: { ...m.payload, branch: 1 } }), { name: 'jfast1' });
  const jfast2 = new Node((m: Message<P>) => ({ ...m, payload: { ...m.payload, branch: 2 } }), { name: 'jfast2' });
  const jslow = new Node(
    async (m: Message<P>, ctx: Context) => {
      if (m.payload.kind === 'joinFail') throw new Error('branch failed');
      if (m.payload.kind === 'joinCancel') {
        await joinSawTwoPromise(ctx.traceId!);
        return untilAborted(ctx.signal);
      }
      return { ...m, payload: { ...m.payload, branch: 3 } };
    },
    { name: 'jslow', policy: { maxConcurrency: 16 } },
  );
  // The real joinK, observed: the wrapper counts arrivals per trace and shares joinK's hooks (stats, bucket release).
  const inner = joinK('join', 3);
  const innerFn = inner.fn as unknown as (msg: unknown, ctx: Context) => unknown;
  const seenByJoin = new Map<string, number>();
  const join = new Node(
    (m: unknown, ctx: Context) => {
      const out = innerFn(m, ctx);
      const n = (seenByJoin.get(ctx.traceId!) ?? 0) + 1;
      if (n === 2) joinSawTwo.get(ctx.traceId!)?.();
      if (n >= 3) seenByJoin.delete(ctx.traceId!);
      else seenByJoin.set(ctx.traceId!, n);
      return out;
    },
    { name: 'join', ...(inner.hooks ? { hooks: inner.hooks } : {}) },
  );
  const jout = new Node((m: Message<unknown[]>) => m, { name: 'jout' });
  const joinSawTwoWaits = new Map<string, Promise<void>>();
  const joinSawTwoPromise = (traceId: string): Promise<void> => joinSawTwoWaits.get(traceId) ?? Promise.resolve();

  const streamer = new Node(
    async (m: Message<P>, ctx: Context) => {
      const last = m.payload.kind === 'streamOk' ? 2 : -1;
      for (let s = 0; s < 3; s++) await ctx.emitChunk({ parent: m, text: `c${s}`, done: s === last });
      if (m.payload.kind === 'streamCancel') {
        started.get(ctx.traceId!)?.();
        return untilAborted(ctx.signal);
      }
      return undefined;
    },
    { name: 'streamer', policy: { maxConcurrency: 8 } },
  );

  const flow: Flow = create(
    [
      okHead.to(okTail),
      okTail.to(),
      flaky.to(),
      hang.to(),
      jfan.to(jfast1, jfast2, jslow),
      jfast1.to(join),
      jfast2.to(join),
      jslow.to(join),
      join.to(jout),
      jout.to(),
      streamer.to(),
    ],
    { queueMaxsize: QUEUE_MAXSIZE, endedTraceCacheSize: ENDED_CACHE, emitErrorsToRookery: errorsToRookery },
  );
  const entry: Record<Kind, Node> = {
    ok: okHead,
    retryOk: flaky,
    fail: flaky,
    cancelRunning: hang,
    cancelQueued: hang,
    cancelIgnoring: hang,
    deadline: okHead,
    joinOk: jfan,
    joinCancel: jfan,
    joinFail: jfan,
    streamOk: streamer,
    streamCancel: streamer,
  };
  flow.run();

  const failures: string[] = [];
  const check = (cond: boolean, what: string): void => {
    if (!cond && failures.length < 20) failures.push(what);
  };
  const expectEnd = (r: { ok: boolean; error?: unknown }, status: string, what: string): void => {
    check(!r.ok && r.error instanceof TraceEndedError && r.error.status === status, `${what}: expected TraceEndedError(${status}), got ${describe_(r)}`);
  };
  const expectCancelled = (r: { ok: boolean; error?: unknown }, what: string): void => {
    check(!r.ok && r.error instanceof TraceCancelled, `${what}: expected TraceCancelled, got ${describe_(r)}`);
  };
  const counts = Object.fromEntries(KINDS.map((k) => [k, 0])) as Record<Kind, number>;
  let sawJoinBucket = 0;
  let sawOpenStream = 0;
  let sawLiveTraces = 0;

  const runTrace = async (i: number, kind: Kind, waitersFirst: boolean): Promise<void> => {
    counts[kind]++;
    const m = createMessage<P>({
      payload: { i, kind },
      headers: { tenant: 'leak' },
      ...(kind === 'deadline' ? { deadline: Date.now() - 1 } : {}),
    });
    const id = m.traceId;
    const what = `trace #${i} (${kind})`;
    const emit = (): Promise<void> => flow.emit(m, { to: entry[kind] });
    // `n` outputs then the end: either all fetches queued before the emit, or emit first and fetch afterwards.
    const roundtrip = async (n: number): Promise<{ outs: unknown[]; end?: { ok: boolean; error?: unknown } }> => {
      // With no output to wait for, a fetch after the emit could find the trace already ended; only waiters-first is deterministic.
      if (waitersFirst || n === 0) {
        const fetches = Array.from({ length: n + 1 }, () => settle(flow.fetch({ traceId: id })));
        await emit();
        const res = await Promise.all(fetches);
        const end = res.pop()!;
        for (const [k, r] of res.entries()) check(r.ok, `${what}: output ${k} missing: ${describe_(r)}`);
        return { outs: res.map((r) => (r.ok ? r.value : undefined)), end };
      }
      await emit();
      const outs: unknown[] = [];
      for (let k = 0; k < n; k++) outs.push(await flow.fetch({ traceId: id }));
      return { outs };
    };

    switch (kind) {
      case 'ok': {
        const { outs, end } = await roundtrip(1);
        const out = outs[0] as Message<P & { hop: number }>;
        check(out?.payload.hop === 2 && out.traceId === id, `${what}: wrong output`);
        if (end) expectEnd(end, 'COMPLETED', what);
        break;
      }
      case 'retryOk': {
        const { outs, end } = await roundtrip(1);
        check((outs[0] as Message<{ attempts: number }> | undefined)?.payload.attempts === 2, `${what}: expected success on attempt 2`);
        if (end) expectEnd(end, 'COMPLETED', what);
        break;
      }
      case 'fail': {
        const { outs, end } = await roundtrip(errorsToRookery ? 1 : 0);
        if (errorsToRookery) {
          const err = outs[0];
          check(err instanceof FlowError && err.code === FlowErrorCode.NODE_EXCEPTION && err.metadata.attempts === 3, `${what}: expected the FlowError as output`);
        }
        if (end) {
          expectEnd(end, 'FAILED', what);
          if (!end.ok && end.error instanceof TraceEndedError) {
            check(end.error.error instanceof FlowError && end.error.error.code === FlowErrorCode.NODE_EXCEPTION, `${what}: FAILED without its FlowError`);
          }
        }
        attempts.delete(id);
        break;
      }
      case 'deadline': {
        const { outs, end } = await roundtrip(1);
        const out = outs[0] as Message<FinalAnswer> | undefined;
        check(out?.payload.text === 'Deadline exceeded' && out.traceId === id, `${what}: expected FinalAnswer 'Deadline exceeded', got ${JSON.stringify(out?.payload)}`);
        if (end) expectEnd(end, 'DEADLINE_EXCEEDED', what);
        break;
      }
      case 'joinOk': {
        const { outs, end } = await roundtrip(1);
        const out = outs[0] as Message<Array<{ branch: number }>> | undefined;
        check(out?.payload.map((p) => p.branch).sort().join() === '1,2,3', `${what}: wrong aggregate ${JSON.stringify(out?.payload)}`);
        if (end) expectEnd(end, 'COMPLETED', what);
        break;
      }
      case 'joinFail': {
        // One branch fails: the join bucket stays short (2 of 3) and must be freed when the trace ends.
        const { outs, end } = await roundtrip(errorsToRookery ? 1 : 0);
        if (errorsToRookery) check(outs[0] instanceof FlowError && outs[0].nodeName === 'jslow', `${what}: expected jslow's FlowError as output`);
        if (end) expectEnd(end, 'FAILED', what);
        seenByJoin.delete(id);
        break;
      }
      case 'streamOk': {
        const { outs, end } = await roundtrip(3);
        const seqs = outs.map((o) => (o as Message<StreamChunk> | undefined)?.payload.seq);
        check(seqs.join() === '0,1,2', `${what}: chunk seqs ${seqs.join()}`);
        if (end) expectEnd(end, 'COMPLETED', what);
        break;
      }
      case 'cancelRunning':
      case 'cancelQueued':
      case 'cancelIgnoring':
      case 'streamCancel':
      case 'joinCancel': {
        const ready = deferred();
        let zombie: ReturnType<typeof deferred<void>> | undefined;
        if (kind === 'joinCancel') {
          joinSawTwo.set(id, ready.resolve);
          joinSawTwoWaits.set(id, ready.promise);
        } else started.set(id, ready.resolve);
        if (kind === 'cancelIgnoring') {
          zombie = deferred();
          releaseZombie.set(id, zombie.promise);
        }
        // A cancelled stream has delivered its 3 chunks first. Without waiters they sit in Rookery and the cancel must drop them.
        const before = kind === 'streamCancel' ? 3 : 0;
        const fetches =
          kind === 'streamCancel' && !waitersFirst ? [] : Array.from({ length: before + 2 }, () => settle(flow.fetch({ traceId: id })));
        await emit();
        if (kind !== 'cancelQueued') await ready.promise;
        if (kind === 'joinCancel') sawJoinBucket = Math.max(sawJoinBucket, flow.stats().nodes.join?.buckets ?? 0);
        if (kind === 'streamCancel') sawOpenStream = Math.max(sawOpenStream, flow.stats().openStreams);
        sawLiveTraces = Math.max(sawLiveTraces, flow.stats().traces);
        const cancelling = flow.cancel(id);
        if (kind === 'streamCancel' && !waitersFirst) {
          // Mid-cancel (the aborted invocation has not unwound yet) the 3 buffered chunks must already be gone.
          const during = await settle(flow.fetch({ traceId: id }));
          expectCancelled(during, `${what} (fetch during cancel)`);
        }
        check((await cancelling) === true, `${what}: cancel of a live trace returned false`);
        zombie?.resolve();
        const res = await Promise.all(fetches);
        for (const [k, r] of res.entries()) {
          if (k < before) check(r.ok && (r.value as Message<StreamChunk>).payload.seq === k, `${what}: chunk ${k} missing: ${describe_(r)}`);
          else expectCancelled(r, what);
        }
        started.delete(id);
        joinSawTwo.delete(id);
        joinSawTwoWaits.delete(id);
        releaseZombie.delete(id);
        seenByJoin.delete(id);
        break;
      }
    }
  };

  const t0 = Date.now();
  const rand = prng(opts.seed ?? 0x5eed);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < TRACES) {
      const i = next++;
      const kind = kinds[Math.floor(rand() * kinds.length)]!;
      sawLiveTraces = Math.max(sawLiveTraces, flow.stats().traces);
      await runTrace(i, kind, rand() < 0.5);
    }
  };
  const all = Promise.all(Array.from({ length: CONCURRENCY }, worker));
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<never>((_r, reject) => {
    timer = setTimeout(() => reject(new Error(`traces did not finish; next=${next} stats=${JSON.stringify(flow.stats())}`)), 25_000);
  });
  try {
    await Promise.race([all, hung]);
  } finally {
    clearTimeout(timer);
  }
  const elapsedMs = Date.now() - t0;
  // Abandoned invocations (which ignored their signal) and trailing trace ends run out;
  // a leak shows up below as a non-zero figure, not as this wait's failure.
  await until(() => {
    const s = flow.stats();
    return s.inflight === 0 && s.pending === 0 && s.traces === 0;
  }, 5_000).catch(() => undefined);
  const stats = flow.stats();
  await flow.stop();
  return { kinds, traces: TRACES, failures, counts, sawLiveTraces, sawJoinBucket, sawOpenStream, elapsedMs, stats };
}

/** Every kind ran often, the bookkeeping was in use, and all of it is back to zero. */
export function expectNoLeaks(run: LeakRun): void {
  expect(run.failures).toEqual([]);
  for (const k of run.kinds) expect(run.counts[k], `kind ${k} ran`).toBeGreaterThan(run.traces / run.kinds.length / 2);
  expect(run.sawLiveTraces).toBeGreaterThan(0);
  if (run.kinds.includes('joinCancel')) expect(run.sawJoinBucket).toBeGreaterThan(0);
  if (run.kinds.includes('streamCancel')) expect(run.sawOpenStream).toBeGreaterThan(0);
  const s = run.stats;
  expect({
    traces: s.traces,
    pending: s.pending,
    inflight: s.inflight,
    queued: s.queued,
    blockedEmits: s.blockedEmits,
    bufferedOutputs: s.bufferedOutputs,
    fetchWaiters: s.fetchWaiters,
    openStreams: s.openStreams,
    join: s.nodes.join,
  }).toEqual({
    traces: 0,
    pending: 0,
    inflight: 0,
    queued: 0,
    blockedEmits: 0,
    bufferedOutputs: 0,
    fetchWaiters: 0,
    openStreams: 0,
    join: { buckets: 0, buffered: 0 },
  });
  expect(s.endedTraces).toBeGreaterThan(0);
  expect(s.endedTraces).toBeLessThanOrEqual(ENDED_CACHE);
  expect(run.elapsedMs).toBeLessThan(15_000);
}
