/**
 * TraceStore commit benchmark: what the cluster backbone's store costs per
 * batch, on SQLite (writer thread, the default; and inline on the caller's
 * thread for comparison) and in memory (the reference).
 *
 *   npx tsx bench/trace-store.ts                       # 3 runs per case
 *   BENCH_RUNS=5 BENCH_ROWS=40000 npx tsx bench/trace-store.ts
 *   BENCH_STORES=sqlite BENCH_BATCHES=64 BENCH_CONCURRENCY=1 npx tsx bench/trace-store.ts
 *
 * Cases, for batches of 1, 64 and 512 rows:
 * - `accepts`: commits of new traces started at once (runner set), one
 *   message each;
 * - `outputs`: commits of unread outputs of running traces;
 * - `cycle`: the life of a Call: a commit of accepts, then a commit of
 *   those traces' outputs (consumed: delivered on the runner) and ends.
 * Each case runs with one caller (commit latency = a batch's round trip)
 * and with 16 concurrent callers (what group commit does for concurrent
 * requests). Rows per case: BENCH_ROWS (default 20 000; batches of 1 use a
 * quarter). SQLite runs on a fresh file in a temporary directory (WAL,
 * synchronous=NORMAL).
 *
 * Prints one JSON object on stdout: per store, case, batch size and
 * concurrency, the median over runs of rows/s, commits/s, the commit
 * latency p50/p99 (µs), the event loop's busy time per row (µs: what the
 * store costs the thread that serves gRPC) and the process's CPU time per
 * row (µs, all threads: on a busy machine steadier than the rates).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { MemoryTraceStore } from '../src/state/cluster/memory-trace-store.js';
import { SqliteTraceStore } from '../src/state/cluster/sqlite-trace-store.js';
import type { AcceptRequest, CommitBatch, TraceStore, ValueCodec } from '../src/state/cluster/trace-store.js';

const RUNS = Math.max(1, Number(process.env.BENCH_RUNS ?? 3));
const ROWS = Math.max(512, Number(process.env.BENCH_ROWS ?? 20_000));
const STORES = (process.env.BENCH_STORES ?? 'sqlite,sqlite-inline,memory').split(',');
const BATCHES = (process.env.BENCH_BATCHES ?? '1,64,512').split(',').map(Number);
const CONCURRENCY = (process.env.BENCH_CONCURRENCY ?? '1,16').split(',').map(Number);

const json: ValueCodec = { encode: (v) => JSON.stringify(v) ?? 'null', decode: (t) => JSON.parse(t) as unknown };
const EMPTY: CommitBatch = { accepts: [], outputs: [], putBacks: [], events: [], ends: [] };
const timing = { leaseMs: 10_000, idempotencyRetentionMs: 3_600_000 };

let seq = 0;
function accept(traceId: string): AcceptRequest {
  return {
    tenant: 'bench',
    traceId,
    flow: 'echo',
    message: { payload: { text: 'hello world', n: 42 }, headers: { tenant: 'bench' }, traceId, ts: Date.now(), meta: {} },
    deadline: Date.now() + 30_000,
    traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    idempotencyKey: undefined,
    runner: 'r1',
    maxInflight: 0,
    maxQueued: 0,
  };
}

async function openStore(kind: string, dir: string): Promise<TraceStore> {
  if (kind === 'memory') return new MemoryTraceStore({ ...timing, retentionMs: 60_000, maxEndedPerFlow: 1_000_000 });
  const store = new SqliteTraceStore({ ...timing, path: path.join(dir, `bench-${++seq}.db`), codec: json, writerThread: kind === 'sqlite' });
  await store.init();
  return store;
}

function percentile(sorted: number[], p: number): number {
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

interface Sample {
  rows_per_s: number;
  commits_per_s: number;
  p50_us: number;
  p99_us: number;
  /** Time the event loop (the server's gRPC thread) was busy, per row. */
  main_us_per_row: number;
  /** CPU time of the whole process (event loop, writer thread, GC) per row: steadier than rates on a busy machine. */
  cpu_us_per_row: number;
}

/** Runs `commits` commits of `make(i)` from `concurrency` callers; returns throughput and latency. */
async function drive(commits: number, concurrency: number, rowsPerCommit: number, make: (i: number) => Promise<void>): Promise<Sample> {
  const lat: number[] = [];
  let next = 0;
  const elu0 = performance.eventLoopUtilization();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let i = next++; i < commits; i = next++) {
        const s = performance.now();
        await make(i);
        lat.push(performance.now() - s);
      }
    }),
  );
  const secs = (performance.now() - t0) / 1000;
  const busyMs = performance.eventLoopUtilization(elu0).active;
  const cpu = process.cpuUsage(cpu0);
  lat.sort((a, b) => a - b);
  return {
    rows_per_s: Math.round((commits * rowsPerCommit) / secs),
    commits_per_s: Math.round(commits / secs),
    p50_us: Math.round(percentile(lat, 0.5) * 1000),
    p99_us: Math.round(percentile(lat, 0.99) * 1000),
    main_us_per_row: Math.round(((busyMs * 1000) / (commits * rowsPerCommit)) * 10) / 10,
    cpu_us_per_row: Math.round(((cpu.user + cpu.system) / (commits * rowsPerCommit)) * 10) / 10,
  };
}

async function runCase(store: TraceStore, name: string, batchSize: number, concurrency: number): Promise<Sample> {
  const rows = batchSize === 1 ? ROWS / 4 : ROWS;
  const commits = Math.max(concurrency, Math.floor(rows / batchSize));
  const prefix = `${name}-${batchSize}-${concurrency}-${++seq}-`;
  const ids = (i: number): string[] => Array.from({ length: batchSize }, (_, k) => `${prefix}${i}-${k}`);
  const acceptAll = async (i: number): Promise<number[]> => {
    const res = await store.commit({ ...EMPTY, accepts: ids(i).map(accept) });
    return res.accepts.map((a) => (a.kind === 'accepted' ? a.row.epoch : 0));
  };
  switch (name) {
    case 'accepts':
      return drive(commits, concurrency, batchSize, async (i) => void (await acceptAll(i)));
    case 'outputs': {
      const epochs: number[][] = [];
      for (let i = 0; i < commits; i++) epochs.push(await acceptAll(i));
      return drive(commits, concurrency, batchSize, async (i) => {
        const e = epochs[i]!;
        await store.commit({
          ...EMPTY,
          outputs: ids(i).map((traceId, k) => ({ tenant: 'bench', traceId, epoch: e[k]!, seq: 1, run: 1, kind: 'output' as const, value: { payload: { text: 'hello world', n: 42 } }, consumed: false })),
        });
      });
    }
    default:
      // One Call per row: the accept commit and the output + end commit.
      return drive(commits, concurrency, batchSize, async (i) => {
        const e = await acceptAll(i);
        const traceIds = ids(i);
        await store.commit({
          ...EMPTY,
          outputs: traceIds.map((traceId, k) => ({ tenant: 'bench', traceId, epoch: e[k]!, seq: 1, run: 1, kind: 'output' as const, value: { payload: { text: 'hello world', n: 42 } }, consumed: true })),
          ends: traceIds.map((traceId, k) => ({ tenant: 'bench', traceId, epoch: e[k]!, state: 'COMPLETED' as const, error: undefined })),
        });
      });
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'penguiflow-bench-trace-store-'));
  const result: Record<string, Record<string, Sample>> = {};
  try {
    for (const kind of STORES) {
      result[kind] = {};
      for (const name of ['accepts', 'outputs', 'cycle']) {
        for (const batchSize of BATCHES) {
          for (const concurrency of CONCURRENCY) {
            const samples: Sample[] = [];
            for (let r = 0; r < RUNS; r++) {
              // A fresh store per run: every run starts from an empty file.
              const store = await openStore(kind, dir);
              try {
                samples.push(await runCase(store, name, batchSize, concurrency));
              } finally {
                await store.close();
              }
            }
            const key = `${name}/batch${batchSize}/c${concurrency}`;
            result[kind][key] = {
              rows_per_s: median(samples.map((s) => s.rows_per_s)),
              commits_per_s: median(samples.map((s) => s.commits_per_s)),
              p50_us: median(samples.map((s) => s.p50_us)),
              p99_us: median(samples.map((s) => s.p99_us)),
              main_us_per_row: median(samples.map((s) => s.main_us_per_row)),
              cpu_us_per_row: median(samples.map((s) => s.cpu_us_per_row)),
            };
            process.stderr.write(`${kind} ${key}: ${JSON.stringify(result[kind][key])}\n`);
          }
        }
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

await main();
