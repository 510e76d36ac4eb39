/**
 * gRPC benchmark: our server against a bare grpc-js baseline, same load
 * generator, same run.
 *
 *   npm run bench:grpc                    # 3 runs × 5 s per measurement
 *   BENCH_RUNS=5 BENCH_SECONDS=10 npm run bench:grpc
 *
 * 1. Builds the load generator on first use: `bench/loadgen` (a closed-loop
 *    Go client on grpc-go that sends a pre-encoded request and does not
 *    decode responses) with `go build` into `.bench-bin/loadgen`; or, with
 *    BENCH_GENERATOR=ghz, installs ghz (github.com/bojand/ghz) into
 *    `.bench-bin/` from the Go module proxy
 *    (`go install github.com/bojand/ghz/cmd/ghz@<GHZ_VERSION>`). loadgen is
 *    the default because ghz spends more CPU per call (~95 µs) than the
 *    baseline server, so on a 2-core machine it caps the baseline.
 * 2. Builds the server (`npm run build`) when `dist/` is older than `src/`.
 * 3. Starts, as child processes, the baseline (bench/grpc-baseline-server.ts:
 *    grpc-js + the same protobuf-es service definition, Call echoes the
 *    message, CallStream sends the chunks itself) and our server
 *    (`node dist/server/main.js`, port 0, auth `none`, default log level and
 *    access log, event store BENCH_STORE, default `memory`: the in-memory
 *    event log of issue 3; e.g. `BENCH_STORE=sqlite:/tmp/pf.db` measures
 *    the durable store instead).
 * 4. For each workload, after a warm-up, alternates baseline and server run
 *    by run (so background load hits both alike) and takes medians:
 *    - `Call` at concurrency 1: p50 latency;
 *    - `Call` at concurrency 64: requests/s;
 *    - `CallStream` with `{chunks: 64}` at concurrency BENCH_STREAM_CONCURRENCY
 *      (default 16): chunks/s (completed streams/s × 64).
 *    `Call` goes to the `chain5` demo flow, `CallStream` to `stream`.
 *    CPU% (100 = one core) of the server process and of the generator is
 *    read from /proc/<pid>/stat (utime + stime) over the middle of each
 *    run, which leaves out the generator's start-up and the tail; CPU time
 *    per call follows.
 * 5. Prints one JSON object on stdout: `echo_baseline`, `call_chain5`,
 *    `ratio_c64`, `stream_baseline`, `callstream`, `ratio_stream`,
 *    `cpu_ratio_c64`, `generator`, `server_build`, `server_config`,
 *    `required`, `target`, `meets_required`. Progress goes to
 *    stderr.
 *
 * BENCH_SERVER_NODE_ARGS (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`) is
 * passed to the node process of our server, for profiling under load.
 */
import { fromJson, toBinary } from '@bufbuild/protobuf';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CallRequestSchema, CallStreamRequestSchema } from '../src/gen/penguiflow/v1/flow_service_pb.js';

const GHZ_VERSION = 'v0.121.0';
const REQUIRED = 0.5;
const TARGET = 0.7;
const STREAM_CHUNKS = 64;

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const binDir = path.join(root, '.bench-bin');
const ghzPath = path.join(binDir, 'ghz');
const loadgenDir = path.join(root, 'bench', 'loadgen');
const loadgenPath = path.join(binDir, 'loadgen');
const protoDir = path.join(root, 'proto');
const protoFile = path.join(protoDir, 'penguiflow', 'v1', 'flow_service.proto');

function envInt(name: string, fallback: number): number {
  const n = Number(process.env[name]);
  return Number.isInteger(n) && n > 0 ? n : fallback;
}

const RUNS = envInt('BENCH_RUNS', 3);
const SECONDS = envInt('BENCH_SECONDS', 5);
const WARMUP_SECONDS = envInt('BENCH_WARMUP_SECONDS', 2);
const STREAM_CONCURRENCY = envInt('BENCH_STREAM_CONCURRENCY', 16);
const STORE = process.env.BENCH_STORE ?? 'memory';
const CLK_TCK = 100;
/** `loadgen` (bench/loadgen, default) or `ghz`. */
const GENERATOR = process.env.BENCH_GENERATOR === 'ghz' ? 'ghz' : 'loadgen';

function log(line: string): void {
  process.stderr.write(`[bench:grpc] ${line}\n`);
}

/** Median of the finite values (a CPU sample can miss a process that already exited); NaN when none. */
function median(values: readonly number[]): number {
  const s = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

const round = (n: number, digits = 1): number => Math.round(n * 10 ** digits) / 10 ** digits;

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): void {
  const r = spawnSync(cmd, args, { cwd: root, env, stdio: ['ignore', 2, 2] });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited with ${r.status}`);
}

function ensureGhz(): void {
  if (existsSync(ghzPath)) return;
  log(`installing ghz ${GHZ_VERSION} into .bench-bin/ (go install, first run only)`);
  run('go', ['install', `github.com/bojand/ghz/cmd/ghz@${GHZ_VERSION}`], { ...process.env, GOBIN: binDir });
}

function ensureLoadgen(): void {
  const sources = ['main.go', 'go.mod', 'go.sum'].map((f) => statSync(path.join(loadgenDir, f)).mtimeMs);
  if (existsSync(loadgenPath) && statSync(loadgenPath).mtimeMs >= Math.max(...sources)) return;
  log('building bench/loadgen into .bench-bin/ (go build)');
  const r = spawnSync('go', ['build', '-o', loadgenPath, '.'], { cwd: loadgenDir, stdio: ['ignore', 2, 2] });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`go build of bench/loadgen exited with ${r.status}`);
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

/** Builds when dist/ is older than src/; returns how fresh the benchmarked build is. */
function ensureBuilt(): 'fresh' | 'rebuilt' | 'stale' {
  const main = path.join(root, 'dist', 'server', 'main.js');
  if (existsSync(main) && statSync(main).mtimeMs >= newestMtime(path.join(root, 'src'))) return 'fresh';
  log('dist/ is older than src/: npm run build');
  try {
    run('npm', ['run', '--silent', 'build']);
    return 'rebuilt';
  } catch (err) {
    // Several people edit src/ at once: a half-finished edit elsewhere must
    // not stop the benchmark when a previous build is there (the JSON says so).
    if (!existsSync(main)) throw err;
    log(`build failed (${err instanceof Error ? err.message : String(err)}); benchmarking the existing dist/`);
    return 'stale';
  }
}

/** utime + stime of a process in clock ticks; undefined once it is gone. */
function cpuTicks(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[0] is field 3 (state): utime is field 14, stime field 15.
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return undefined;
  }
}

interface Target {
  readonly name: string;
  readonly port: number;
  readonly child: ChildProcess;
}

/** Spawns a server and resolves once it reported its port (a line of JSON with `port` on stdout). */
function startTarget(name: string, args: string[], env: NodeJS.ProcessEnv): Promise<Target> {
  const child = spawn(process.execPath, args, { cwd: root, env, stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let buffered = '';
    let found = false;
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (data: string) => {
      if (found) return;
      buffered += data;
      for (const line of buffered.split('\n')) {
        const m = /"port":(\d+)/.exec(line);
        if (m !== null && Number(m[1]) > 0) {
          found = true;
          resolve({ name, port: Number(m[1]), child });
          return;
        }
      }
    });
    child.once('exit', (code) => {
      if (!found) reject(new Error(`${name} exited with ${code} before reporting its port`));
    });
    child.once('error', reject);
  });
}

async function stopTarget(t: Target): Promise<void> {
  if (t.child.exitCode !== null) return;
  const exited = new Promise<void>((resolve) => t.child.once('exit', () => resolve()));
  t.child.kill('SIGTERM');
  const timer = setTimeout(() => t.child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

interface GhzReport {
  count: number;
  rps: number;
  latencyDistribution: { percentage: number; latency: number }[] | null;
  statusCodeDistribution?: Record<string, number>;
  errorDistribution?: Record<string, number> | null;
}

interface Measurement {
  rps: number;
  p50_us: number;
  p99_us: number;
  ok: number;
  errors: number;
  server_cpu_pct: number;
  generator_cpu_pct: number;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A workload: the method, its request (JSON for ghz, encoded for loadgen) and the concurrency. */
interface Workload {
  readonly method: 'Call' | 'CallStream';
  readonly json: unknown;
  readonly encoded: Uint8Array;
  readonly concurrency: number;
}

interface GeneratorReport {
  rps: number;
  p50_us: number;
  p99_us: number;
  ok: number;
  errors: number;
  firstError: string | undefined;
}

function generatorArgs(w: Workload, port: number, seconds: number): [string, string[]] {
  if (GENERATOR === 'ghz') {
    return [ghzPath, [
      '--insecure',
      '--proto', protoFile,
      '--import-paths', protoDir,
      '--call', `penguiflow.v1.FlowService.${w.method}`,
      '-d', JSON.stringify(w.json),
      '-c', String(w.concurrency),
      '-z', `${seconds}s`,
      '--duration-stop', 'ignore',
      '-t', '10s',
      '-O', 'json',
      `127.0.0.1:${port}`,
    ]];
  }
  return [loadgenPath, [
    '-addr', `127.0.0.1:${port}`,
    '-method', `/penguiflow.v1.FlowService/${w.method}`,
    '-data', Buffer.from(w.encoded).toString('base64'),
    '-c', String(w.concurrency),
    '-d', `${seconds}s`,
    ...(w.method === 'CallStream' ? ['-stream'] : []),
  ]];
}

function parseReport(out: string): GeneratorReport {
  if (GENERATOR === 'ghz') {
    const report = JSON.parse(out) as GhzReport;
    const latency = (p: number): number => (report.latencyDistribution?.find((d) => d.percentage === p)?.latency ?? NaN) / 1000;
    const errors = Object.entries(report.statusCodeDistribution ?? {}).reduce((n, [k, v]) => (k === 'OK' ? n : n + v), 0);
    return {
      rps: report.rps,
      p50_us: latency(50),
      p99_us: latency(99),
      ok: report.statusCodeDistribution?.OK ?? 0,
      errors,
      firstError: errors > 0 ? JSON.stringify(report.errorDistribution ?? report.statusCodeDistribution) : undefined,
    };
  }
  const r = JSON.parse(out) as { count: number; errors: number; first_error?: string; rps: number; p50_us: number; p99_us: number };
  return { rps: r.rps, p50_us: r.p50_us, p99_us: r.p99_us, ok: r.count, errors: r.errors, firstError: r.first_error };
}

/** One generator run against `target`; CPU sampled from 1 s in to 1 s before the end. */
async function load(target: Target, w: Workload, seconds: number): Promise<Measurement> {
  const [cmd, args] = generatorArgs(w, target.port, seconds);
  const child = spawn(cmd, args, { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (d: string) => (out += d));
  const exited = new Promise<number | null>((resolve, reject) => {
    child.once('exit', resolve);
    child.once('error', reject);
  });
  const serverPid = target.child.pid!;
  const genPid = child.pid!;
  // Ends 1 s before the generator stops, so that a late timer on a busy machine still finds it running.
  const windowMs = Math.max(500, seconds * 1000 - 2000);
  await sleep(1000);
  const s0 = cpuTicks(serverPid);
  const g0 = cpuTicks(genPid);
  const t0 = performance.now();
  await sleep(windowMs);
  const s1 = cpuTicks(serverPid);
  const g1 = cpuTicks(genPid);
  const elapsed = (performance.now() - t0) / 1000;
  const code = await exited;
  if (code !== 0) throw new Error(`${GENERATOR} exited with ${code} against ${target.name}`);
  const report = parseReport(out);
  const pct = (a: number | undefined, b: number | undefined): number => (a === undefined || b === undefined ? NaN : round(((b - a) / CLK_TCK / elapsed) * 100));
  if (report.errors > 0) log(`  ${target.name} ${w.method}: ${report.errors} failed calls, e.g. ${report.firstError ?? '?'}`);
  return {
    rps: round(report.rps),
    p50_us: round(report.p50_us),
    p99_us: round(report.p99_us),
    ok: report.ok,
    errors: report.errors,
    server_cpu_pct: pct(s0, s1),
    generator_cpu_pct: pct(g0, g1),
  };
}

interface Summary {
  rps: number;
  p50_us: number;
  p99_us: number;
  server_cpu_pct: number;
  generator_cpu_pct: number;
  /** Server CPU time per completed call (µs): the load-independent cost. */
  server_cpu_us_per_call: number;
  generator_cpu_us_per_call: number;
  errors: number;
  rps_runs: number[];
}

function summarize(ms: readonly Measurement[]): Summary {
  return {
    rps: round(median(ms.map((m) => m.rps))),
    p50_us: round(median(ms.map((m) => m.p50_us))),
    p99_us: round(median(ms.map((m) => m.p99_us))),
    server_cpu_pct: round(median(ms.map((m) => m.server_cpu_pct))),
    generator_cpu_pct: round(median(ms.map((m) => m.generator_cpu_pct))),
    server_cpu_us_per_call: round(median(ms.map((m) => (m.server_cpu_pct * 1e4) / m.rps))),
    generator_cpu_us_per_call: round(median(ms.map((m) => (m.generator_cpu_pct * 1e4) / m.rps))),
    errors: ms.reduce((n, m) => n + m.errors, 0),
    rps_runs: ms.map((m) => m.rps),
  };
}

/** Warm-up, then RUNS runs alternating between the targets; per-target summaries. */
async function measure(label: string, targets: readonly [Target, Target], w: Workload): Promise<[Summary, Summary]> {
  for (let t = 0; t < 2; t++) {
    log(`${label}: warm-up ${targets[t]!.name} (${WARMUP_SECONDS} s)`);
    await load(targets[t]!, w, WARMUP_SECONDS);
  }
  const results: [Measurement[], Measurement[]] = [[], []];
  for (let r = 0; r < RUNS; r++) {
    for (let t = 0; t < 2; t++) {
      const m = await load(targets[t]!, w, SECONDS);
      log(`${label}: run ${r + 1}/${RUNS} ${targets[t]!.name}: ${m.rps} rps, p50 ${m.p50_us} µs, server ${m.server_cpu_pct}% cpu, ${GENERATOR} ${m.generator_cpu_pct}% cpu`);
      results[t]!.push(m);
    }
  }
  return [summarize(results[0]), summarize(results[1])];
}

async function main(): Promise<void> {
  if (GENERATOR === 'ghz') ensureGhz();
  else ensureLoadgen();
  const build = ensureBuilt();
  const baseline = await startTarget('baseline', ['--import', 'tsx', path.join(root, 'bench', 'grpc-baseline-server.ts')], process.env);
  const serverArgs = [...(process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter((a) => a !== ''), path.join(root, 'dist', 'server', 'main.js')];
  const server = await startTarget('penguiflow', serverArgs, {
    ...process.env,
    PENGUIFLOW_PORT: '0',
    PENGUIFLOW_HOST: '127.0.0.1',
    PENGUIFLOW_OPS_PORT: '0',
    PENGUIFLOW_AUTH: 'none',
    PENGUIFLOW_STORE: STORE,
    NODE_ENV: 'development',
  });
  try {
    log(`baseline on port ${baseline.port}, server on port ${server.port}; ${RUNS} runs × ${SECONDS} s per measurement`);
    const targets = [baseline, server] as const;
    const callJson = { flow: 'chain5', message: { payload: { n: 1, text: 'hello' } } };
    const streamJson = { flow: 'stream', message: { payload: { chunks: STREAM_CHUNKS } } };
    const callEncoded = toBinary(CallRequestSchema, fromJson(CallRequestSchema, callJson));
    const streamEncoded = toBinary(CallStreamRequestSchema, fromJson(CallStreamRequestSchema, streamJson));
    const call = (concurrency: number): Workload => ({ method: 'Call', json: callJson, encoded: callEncoded, concurrency });
    const [b1, s1] = await measure('Call c1', targets, call(1));
    const [b64, s64] = await measure('Call c64', targets, call(64));
    const [bs, ss] = await measure(`CallStream c${STREAM_CONCURRENCY}`, targets, { method: 'CallStream', json: streamJson, encoded: streamEncoded, concurrency: STREAM_CONCURRENCY });

    const callSide = (c1: Summary, c64: Summary): Record<string, unknown> => ({
      p50_us_c1: c1.p50_us,
      p99_us_c1: c1.p99_us,
      rps_c1: c1.rps,
      server_cpu_pct_c1: c1.server_cpu_pct,
      generator_cpu_pct_c1: c1.generator_cpu_pct,
      rps_c64: c64.rps,
      p50_us_c64: c64.p50_us,
      p99_us_c64: c64.p99_us,
      server_cpu_pct_c64: c64.server_cpu_pct,
      generator_cpu_pct_c64: c64.generator_cpu_pct,
      server_cpu_us_per_call_c64: c64.server_cpu_us_per_call,
      generator_cpu_us_per_call_c64: c64.generator_cpu_us_per_call,
      rps_c64_runs: c64.rps_runs,
      errors: c1.errors + c64.errors,
    });
    const streamSide = (s: Summary): Record<string, unknown> => ({
      chunks_per_s: round(s.rps * STREAM_CHUNKS, 0),
      streams_per_s: s.rps,
      chunks_per_stream: STREAM_CHUNKS,
      concurrency: STREAM_CONCURRENCY,
      p50_us: s.p50_us,
      server_cpu_pct: s.server_cpu_pct,
      generator_cpu_pct: s.generator_cpu_pct,
      server_cpu_us_per_chunk: round(s.server_cpu_us_per_call / STREAM_CHUNKS, 2),
      streams_per_s_runs: s.rps_runs,
      errors: s.errors,
    });
    const ratio = round(s64.rps / b64.rps, 3);
    const result = {
      echo_baseline: callSide(b1, b64),
      call_chain5: callSide(s1, s64),
      ratio_c64: ratio,
      stream_baseline: streamSide(bs),
      callstream: streamSide(ss),
      ratio_stream: round(ss.rps / bs.rps, 3),
      // Baseline server CPU per call ÷ ours: what ratio_c64 would be if the server had the machine to itself.
      cpu_ratio_c64: round(b64.server_cpu_us_per_call / s64.server_cpu_us_per_call, 3),
      generator: {
        name: GENERATOR === 'ghz' ? 'ghz' : 'bench/loadgen (Go, google.golang.org/grpc, pre-encoded requests, responses not decoded)',
        version: GENERATOR === 'ghz' ? GHZ_VERSION : 'grpc-go v1.85.0',
        connections: 1,
        runs: RUNS,
        seconds_per_run: SECONDS,
        warmup_seconds: WARMUP_SECONDS,
        node: process.version,
      },
      server_build: build,
      server_config: { auth: 'none', store: STORE, log_level: 'default (info)', access_log: 'default (on)' },
      required: REQUIRED,
      target: TARGET,
      meets_required: ratio >= REQUIRED,
    };
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    await Promise.all([stopTarget(baseline), stopTarget(server)]);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`[bench:grpc] failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
