/**
 * Runtime benchmark: the four workloads used to measure PenguiFlow (Python).
 * Prints exactly one JSON object on stdout. Events are on as in normal
 * operation: no middleware attached, default logger level.
 *
 *   npm run bench:runtime              # median of 3 runs (what bench/README.md records)
 *   BENCH_RUNS=5 npm run bench:runtime # median of 5 runs
 *   BENCH_MIDDLEWARE=1 npm run bench:runtime # every event materialized (a no-op middleware)
 */
import { performance } from 'node:perf_hooks';
import { create, createMessage, joinK, Node, type Context, type FlowOptions, type Message } from '../src/runtime/index.js';

const identity = (m: unknown): unknown => m;

/**
 * With BENCH_MIDDLEWARE=1 a no-op middleware is attached, so every FlowEvent
 * is built (PenguiFlow always builds its events, even when logging discards
 * them; without a listener this runtime skips that work).
 */
const options: FlowOptions = process.env.BENCH_MIDDLEWARE === '1' ? { middlewares: [() => undefined] } : {};

function chain5() {
  const nodes = Array.from({ length: 5 }, (_, i) => new Node(identity, { name: `hop${i}` }));
  const adj = nodes.map((n, i) => (i < nodes.length - 1 ? n.to(nodes[i + 1]!) : n.to()));
  return create(adj, options);
}

function percentile(sorted: number[], p: number): number {
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx]!;
}

function msg(i: number): Message<number> {
  return createMessage({ payload: i, headers: { tenant: 'bench' } });
}

async function sequential5hop(): Promise<{ p50_us: number; p99_us: number; per_s: number }> {
  const flow = chain5();
  flow.run();
  const run = async (i: number): Promise<void> => {
    const m = msg(i);
    await flow.emit(m, { traceId: m.traceId });
    await flow.fetch({ traceId: m.traceId });
  };
  for (let i = 0; i < 200; i++) await run(i);
  const lat: number[] = [];
  const t0 = performance.now();
  for (let i = 0; i < 3000; i++) {
    const s = performance.now();
    await run(i);
    lat.push((performance.now() - s) * 1000);
  }
  const total = performance.now() - t0;
  await flow.stop();
  lat.sort((a, b) => a - b);
  return { p50_us: round(percentile(lat, 50)), p99_us: round(percentile(lat, 99)), per_s: round(3000 / (total / 1000)) };
}

async function concurrent5hop(): Promise<{ traces_per_s: number }> {
  const flow = chain5();
  flow.run();
  const total = 20_000;
  const callers = 64;
  let next = 0;
  const caller = async (): Promise<void> => {
    while (next < total) {
      const m = msg(next++);
      await flow.emit(m, { traceId: m.traceId });
      await flow.fetch({ traceId: m.traceId });
    }
  };
  // warm-up
  for (let i = 0; i < 200; i++) {
    const m = msg(i);
    await flow.emit(m, { traceId: m.traceId });
    await flow.fetch({ traceId: m.traceId });
  }
  const t0 = performance.now();
  await Promise.all(Array.from({ length: callers }, caller));
  const secs = (performance.now() - t0) / 1000;
  await flow.stop();
  return { traces_per_s: round(total / secs) };
}

async function streaming32(): Promise<{ chunks_per_s: number }> {
  const streamer = new Node(
    async (m: Message, ctx: Context) => {
      for (let i = 0; i < 32; i++) await ctx.emitChunk({ parent: m, text: `t${i}`, done: i === 31 });
      return undefined;
    },
    { name: 'streamer' },
  );
  const flow = create([streamer.to()], options);
  flow.run();
  const run = async (i: number): Promise<number> => {
    const m = msg(i);
    await flow.emit(m, { traceId: m.traceId });
    for (let c = 0; c < 32; c++) await flow.fetch({ traceId: m.traceId });
    return 32;
  };
  for (let i = 0; i < 20; i++) await run(i);
  const t0 = performance.now();
  let chunks = 0;
  for (let i = 0; i < 300; i++) chunks += await run(i);
  const secs = (performance.now() - t0) / 1000;
  await flow.stop();
  return { chunks_per_s: round(chunks / secs) };
}

async function fanout4Join(): Promise<{ p50_us: number; per_s: number }> {
  const source = new Node(identity, { name: 'source' });
  const workers = Array.from({ length: 4 }, (_, i) => new Node(identity, { name: `w${i}` }));
  const join = joinK('join', 4);
  const final = new Node(identity, { name: 'final' });
  const flow = create([source.to(...workers), ...workers.map((w) => w.to(join)), join.to(final), final.to()], options);
  flow.run();
  const run = async (i: number): Promise<void> => {
    const m = msg(i);
    await flow.emit(m, { traceId: m.traceId });
    await flow.fetch({ traceId: m.traceId });
  };
  for (let i = 0; i < 200; i++) await run(i);
  const lat: number[] = [];
  const t0 = performance.now();
  for (let i = 0; i < 3000; i++) {
    const s = performance.now();
    await run(i);
    lat.push((performance.now() - s) * 1000);
  }
  const total = performance.now() - t0;
  await flow.stop();
  lat.sort((a, b) => a - b);
  return { p50_us: round(percentile(lat, 50)), per_s: round(3000 / (total / 1000)) };
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

type Result = {
  sequential_5hop: { p50_us: number; p99_us: number; per_s: number };
  concurrent64_5hop: { traces_per_s: number };
  streaming_32: { chunks_per_s: number };
  fanout4_join: { p50_us: number; per_s: number };
};

async function once(): Promise<Result> {
  return {
    sequential_5hop: await sequential5hop(),
    concurrent64_5hop: await concurrent5hop(),
    streaming_32: await streaming32(),
    fanout4_join: await fanout4Join(),
  };
}

const runs = Math.max(1, Number(process.env.BENCH_RUNS ?? 3));
const results: Result[] = [];
for (let i = 0; i < runs; i++) results.push(await once());
const pick = <K extends keyof Result, F extends keyof Result[K]>(k: K, f: F): number => median(results.map((r) => r[k][f] as number));
const out: Result = {
  sequential_5hop: { p50_us: pick('sequential_5hop', 'p50_us'), p99_us: pick('sequential_5hop', 'p99_us'), per_s: pick('sequential_5hop', 'per_s') },
  concurrent64_5hop: { traces_per_s: pick('concurrent64_5hop', 'traces_per_s') },
  streaming_32: { chunks_per_s: pick('streaming_32', 'chunks_per_s') },
  fanout4_join: { p50_us: pick('fanout4_join', 'p50_us'), per_s: pick('fanout4_join', 'per_s') },
};
process.stdout.write(`${JSON.stringify(out)}\n`);
