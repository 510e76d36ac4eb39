/**
 * {@link TraceStore} on PostgreSQL (`pg`): the backbone of a cluster of
 * replicas sharing one database (DESIGN §5).
 *
 * Every operation is ONE statement, so one round trip and one transaction:
 * the multi-step ones are PL/pgSQL functions created by migration 2
 * (postgres-trace-schema.ts, which also documents the tables and the lock
 * order that keeps concurrent operations deadlock-free). `commit` sends the
 * whole batch as one jsonb argument; the function applies accepts in order
 * (idempotency keys, joins, new runs, quotas counted inside the batch),
 * then fenced outputs, put-backs, fenced events and fenced ends, set-based,
 * checking each write's epoch against the trace row it holds locked, so a
 * concurrent claim (an UPDATE of that row) is ordered before or after the
 * whole batch. Commits are durable (`synchronous_commit` as the server sets
 * it, `on` by default): a group commit of many callers pays one WAL flush.
 *
 * Leases use the database clock only: heartbeats store `clock_timestamp()`
 * and every lease comparison happens inside SQL, so replicas' clocks never
 * matter. The other timestamps of the rows are database time too; only
 * `prune`'s cutoffs come from the caller's clock, so a skew between the
 * two shifts retention by that much.
 *
 * The event tail (`tailStart`/`tailEvents`) is cluster-wide and gap-free
 * although transactions commit out of id order. Each event row carries its
 * writer's transaction id (`pg_current_xact_id()`, a never-wrapping xid8)
 * and a tail position `pos` = that xid, raised to the trace's previous
 * event position (so a trace's events keep seq order in the tail even when
 * a writer got its xid before the previous writer of that trace committed),
 * plus an identity `id` for the order within a position. A reader returns
 * only rows with `pos` below `pg_snapshot_xmin(pg_current_snapshot())`:
 * every transaction with an xid below that horizon has finished, and a row
 * is never positioned below its writer's xid, so no row can ever appear
 * below a position the reader has passed. The cursor is (`pos`, `id`) of the
 * last row returned, or the horizon once the reader has seen everything
 * below it. `tailStart` is exact: its cursor starts at the horizon and
 * carries the snapshot it was taken under, and rows whose writer is visible
 * in that snapshot (committed before the start) are skipped until the
 * reader passes the snapshot's `xmax` (no such row lies beyond it). The
 * price: the tail lags by the longest-running transaction holding an xid
 * in the database server (any database), so nothing may keep one open.
 *
 * Notices ride `pg_notify` on channel `penguiflow`, issued by the functions
 * inside the transaction (so delivered only if it commits), split into
 * payloads under NOTIFY's 8000-byte limit, and received on ONE dedicated
 * connection per store (postgres-notice-listener.ts). PostgreSQL commits
 * the transactions that notified one at a time (a server-wide lock held
 * through the commit's WAL flush), one more reason commits come in batches;
 * takes, heartbeats and claims never notify. Connections per
 * store: `maxConnections` (default 8) in the pool, plus 1 while anyone
 * listens.
 *
 * Every query runs under a server-side `statement_timeout` and a
 * client-side read timeout, so an outage fails a caller instead of hanging
 * it (a timed-out commit may still have committed: its outcome is unknown).
 * The connection string is never logged or put into an error.
 */
import pg from 'pg';
import { migratePostgres } from '../postgres-migrations.js';
import { PostgresNoticeListener } from './postgres-notice-listener.js';
import { NOTICE_CHANNEL } from './postgres-trace-schema.js';
import { parseTraceKey } from './trace-key.js';
import type {
  AcceptResult,
  CancelRequestResult,
  ClaimedTrace,
  CommitBatch,
  CommitResult,
  EventTail,
  OwnedTrace,
  ReplicaRow,
  StoredEventRow,
  StoreNotice,
  TakeResult,
  TraceRow,
  TraceState,
  TraceStore,
  TraceStoreTiming,
  TracePruneCutoffs,
  TracePruneResult,
  UpdateKind,
  ValueCodec,
} from './trace-store.js';

/** Options of {@link PostgresTraceStore}. */
export interface PostgresTraceStoreOptions extends TraceStoreTiming {
  /** `postgres://user:pass@host:port/db`; never logged. */
  readonly connectionString: string;
  /** Turns messages, outputs and errors into the text stored, and back. */
  readonly codec: ValueCodec;
  /** Pool size (the LISTEN connection comes on top); default 8. */
  readonly maxConnections?: number;
  /** Per-statement timeout in ms (server side; the client gives up 1 s later); default 10 000. */
  readonly queryTimeoutMs?: number;
  /** Connect timeout in ms; default 5 000. */
  readonly connectTimeoutMs?: number;
  /** Rows of each kind one prune transaction deletes at most (it repeats); default 5 000. */
  readonly pruneBatch?: number;
}

/** A trace row as `to_jsonb(penguiflow_trace_runs)`. */
interface RawRun {
  tenant: string;
  trace_id: string;
  flow: string;
  state: TraceState;
  run: number;
  attempt: number;
  epoch: number;
  owner: string | null;
  cancel_requested: boolean;
  deadline: number | null;
  traceparent: string | null;
  error: string | null;
  created_at: number;
  updated_at: number;
  ended_at: number | null;
  stored_updates: number;
  last_update_seq: number;
  last_event_seq: number;
}

type RawAccept =
  | { kind: 'accepted'; row: RawRun; input: number; joined: boolean }
  | { kind: 'duplicate'; traceId: string; row: RawRun | null }
  | { kind: 'over_quota' }
  | { kind: 'queue_full' }
  | { kind: 'cancelling'; row: RawRun }
  | { kind: 'other_flow'; row: RawRun };

type RawTake =
  | { kind: 'missing' }
  | { kind: 'empty' | 'end'; row: RawRun }
  | { kind: 'update'; row: RawRun; update: { seq: number; run: number; kind: UpdateKind; value: string | null } };

type RawCancel =
  | { kind: 'missing' }
  | { kind: 'ended' | 'requested'; row: RawRun }
  | { kind: 'cancelled'; row: RawRun; lastEventSeq: number };

interface RawClaim {
  row: RawRun;
  inputs: (string | null)[];
  previousOwner: string | null;
  previousHeartbeat?: number | null;
}

interface RawEvent {
  tenant: string;
  trace_id: string;
  seq: string;
  flow: string;
  ts: string;
  kind: string;
  node_name: string | null;
  node_id: string | null;
  payload: string;
}

/** A position in the event tail; see the module comment. */
interface TailCursor {
  readonly pos: bigint;
  readonly id: bigint;
  /** The snapshot of `tailStart` while the position is below its xmax. */
  readonly snapshot: string | undefined;
}

const SNAPSHOT = /^(\d+):(\d+):[\d,]*$/;

function parseCursor(cursor: string): TailCursor {
  const [pos, id, snapshot] = cursor.split('.');
  if (pos === undefined || id === undefined || !/^\d+$/.test(pos) || !/^\d+$/.test(id)) return { pos: 0n, id: 0n, snapshot: undefined };
  return { pos: BigInt(pos), id: BigInt(id), snapshot: snapshot !== undefined && SNAPSHOT.test(snapshot) ? snapshot : undefined };
}

function formatCursor(c: TailCursor): string {
  // The start snapshot only matters below its xmax: rows beyond it were all written after it.
  const xmax = c.snapshot === undefined ? undefined : BigInt(SNAPSHOT.exec(c.snapshot)?.[2] ?? '0');
  const keep = xmax !== undefined && c.pos < xmax;
  return `${c.pos}.${c.id}${keep ? `.${c.snapshot}` : ''}`;
}

/** The cluster backbone's store on PostgreSQL; see the module comment. */
export class PostgresTraceStore implements TraceStore {
  readonly kind = 'postgres' as const;
  readonly #pool: pg.Pool;
  readonly #listener: PostgresNoticeListener;
  readonly #codec: ValueCodec;
  readonly #leaseMs: number;
  readonly #retentionMs: number;
  readonly #pruneBatch: number;
  #initialized: Promise<void> | undefined;
  #closed: Promise<void> | undefined;

  constructor(opts: PostgresTraceStoreOptions) {
    const timeout = opts.queryTimeoutMs ?? 10_000;
    const connectTimeout = opts.connectTimeoutMs ?? 5000;
    this.#pool = new pg.Pool({
      connectionString: opts.connectionString,
      max: opts.maxConnections ?? 8,
      connectionTimeoutMillis: connectTimeout,
      statement_timeout: timeout,
      query_timeout: timeout + 1000,
      idleTimeoutMillis: 30_000,
      application_name: 'penguiflow-trace-store',
    });
    // An idle client losing its connection must not crash the process; the next query reports it.
    this.#pool.on('error', () => undefined);
    this.#listener = new PostgresNoticeListener({
      connectionString: opts.connectionString,
      channel: NOTICE_CHANNEL,
      connectTimeoutMs: connectTimeout,
      applicationName: 'penguiflow-trace-listen',
    });
    this.#codec = opts.codec;
    this.#leaseMs = opts.leaseMs;
    this.#retentionMs = opts.idempotencyRetentionMs;
    this.#pruneBatch = Math.max(1, opts.pruneBatch ?? 5000);
  }

  /** True while the LISTEN connection is up (diagnostics, tests). */
  get listening(): boolean {
    return this.#listener.connected;
  }

  init(): Promise<void> {
    this.#initialized ??= migratePostgres(this.#pool).catch((err: unknown) => {
      this.#initialized = undefined;
      throw err;
    });
    return this.#initialized;
  }

  async ping(): Promise<void> {
    await this.#pool.query('SELECT 1');
  }

  close(): Promise<void> {
    this.#closed ??= Promise.all([this.#listener.close(), this.#pool.end()]).then(() => undefined);
    return this.#closed;
  }

  async prune(cutoffs: TracePruneCutoffs): Promise<TracePruneResult> {
    const total = { traces: 0, updates: 0, keys: 0, replicas: 0 };
    for (;;) {
      const r = await this.#call<TracePruneResult>('pf_prune', 'SELECT penguiflow_trace_prune($1, $2, $3, $4, $5) AS r', [
        ms(cutoffs.tracesEndedBefore),
        ms(cutoffs.updatesEndedBefore),
        ms(cutoffs.keysCreatedBefore),
        ms(cutoffs.replicasSeenBefore),
        this.#pruneBatch,
      ]);
      total.traces += r.traces;
      total.updates += r.updates;
      total.keys += r.keys;
      total.replicas += r.replicas;
      if (r.traces < this.#pruneBatch && r.updates < this.#pruneBatch && r.keys < this.#pruneBatch) return total;
    }
  }

  async commit(batch: CommitBatch): Promise<CommitResult> {
    const { accepts, outputs, putBacks, events, ends } = batch;
    if (accepts.length + outputs.length + putBacks.length + events.length + ends.length === 0) return { accepts: [], fenced: new Set() };
    const payload = {
      a: accepts.map((r) => ({
        tn: r.tenant,
        id: r.traceId,
        fl: r.flow,
        m: this.#encode(r.message),
        dl: r.deadline === undefined ? null : Math.trunc(r.deadline),
        tp: r.traceparent ?? null,
        k: r.idempotencyKey ?? null,
        r: r.runner ?? null,
        mi: r.maxInflight,
        mq: r.maxQueued,
      })),
      o: outputs.map((w) => ({ tn: w.tenant, id: w.traceId, ep: w.epoch, sq: w.seq, rn: w.run, kd: w.kind, v: this.#encode(w.value), c: w.consumed })),
      p: putBacks.map((p) => ({ tn: p.tenant, id: p.traceId, sq: p.update.seq, rn: p.update.run, kd: p.update.kind, v: this.#encode(p.update.value) })),
      e: events.map((e) => ({
        tn: e.tenant,
        id: e.traceId,
        ep: e.epoch,
        sq: e.seq,
        fl: e.flow,
        ts: Math.trunc(e.ts),
        kd: e.kind,
        nn: e.nodeName ?? null,
        ni: e.nodeId ?? null,
        pj: e.payloadJson,
      })),
      d: ends.map((w) => ({ tn: w.tenant, id: w.traceId, ep: w.epoch, st: w.state, er: this.#encode(w.error) })),
    };
    const r = await this.#call<{ a: RawAccept[]; f: string[] }>('pf_commit', 'SELECT penguiflow_trace_commit($1::jsonb, $2) AS r', [JSON.stringify(payload), ms(this.#retentionMs)]);
    return { accepts: r.a.map((x) => this.#accept(x)), fenced: new Set(r.f) };
  }

  async getTrace(tenant: string, traceId: string): Promise<TraceRow | undefined> {
    const rows = await this.#query<{ r: RawRun }>('pf_get', 'SELECT to_jsonb(t) AS r FROM penguiflow_trace_runs t WHERE tenant = $1 AND trace_id = $2', [tenant, traceId]);
    return rows[0] === undefined ? undefined : this.#row(rows[0].r);
  }

  async take(tenant: string, traceId: string): Promise<TakeResult> {
    const r = await this.#call<RawTake>('pf_take', 'SELECT penguiflow_trace_take($1, $2) AS r', [tenant, traceId]);
    switch (r.kind) {
      case 'missing':
        return r;
      case 'update':
        return {
          kind: 'update',
          row: this.#row(r.row),
          update: { seq: Number(r.update.seq), run: r.update.run, kind: r.update.kind, value: this.#decode(r.update.value) },
        };
      default:
        return { kind: r.kind, row: this.#row(r.row) };
    }
  }

  async requestCancel(tenant: string, traceId: string, _by: string): Promise<CancelRequestResult> {
    const r = await this.#call<RawCancel>('pf_cancel', 'SELECT penguiflow_trace_cancel($1, $2, $3) AS r', [tenant, traceId, ms(this.#leaseMs)]);
    switch (r.kind) {
      case 'missing':
        return r;
      case 'cancelled':
        return { kind: 'cancelled', row: this.#row(r.row), lastEventSeq: Number(r.lastEventSeq) };
      default:
        return { kind: r.kind, row: this.#row(r.row) };
    }
  }

  async claim(replica: string, flow: string, limit: number): Promise<ClaimedTrace[]> {
    if (limit <= 0) return [];
    const r = await this.#call<RawClaim[]>('pf_claim', 'SELECT penguiflow_trace_claim($1, $2, $3, $4) AS r', [replica, flow, Math.trunc(limit), ms(this.#leaseMs)]);
    return r.map((c) => ({
      row: this.#row(c.row),
      inputs: c.inputs.map((v) => this.#decode(v)),
      storedUpdates: c.row.stored_updates,
      lastUpdateSeq: Number(c.row.last_update_seq),
      lastEventSeq: Number(c.row.last_event_seq),
      previousOwner: c.previousOwner ?? undefined,
      previousHeartbeat: c.previousHeartbeat ?? undefined,
    }));
  }

  async inputs(tenant: string, traceId: string, run: number, afterInput: number): Promise<unknown[]> {
    const rows = await this.#query<{ value: string | null }>(
      'pf_inputs',
      'SELECT value FROM penguiflow_trace_inputs WHERE tenant = $1 AND trace_id = $2 AND run = $3 AND n > $4 ORDER BY n',
      [tenant, traceId, run, Math.trunc(afterInput)],
    );
    return rows.map((r) => this.#decode(r.value));
  }

  async heartbeat(replica: Omit<ReplicaRow, 'heartbeatAt'>): Promise<{ readonly lapsed: boolean }> {
    const rows = await this.#query<{ prev: string | null; now: string }>(
      'pf_heartbeat',
      `WITH prev AS (SELECT heartbeat_at FROM penguiflow_replicas WHERE id = $1),
            clock AS MATERIALIZED (SELECT penguiflow_now_ms() AS ms),
            up AS (
              INSERT INTO penguiflow_replicas (id, hostname, pid, started_at, heartbeat_at, draining)
                SELECT $1, $2, $3, $4, ms, $5 FROM clock
                ON CONFLICT (id) DO UPDATE SET hostname = excluded.hostname, pid = excluded.pid, started_at = excluded.started_at,
                  heartbeat_at = excluded.heartbeat_at, draining = excluded.draining
            )
       SELECT (SELECT heartbeat_at FROM prev) AS prev, (SELECT ms FROM clock) AS now`,
      [replica.id, replica.hostname, Math.trunc(replica.pid), ms(replica.startedAt), replica.draining],
    );
    const r = rows[0];
    const lapsed = r?.prev === null || r === undefined || Number(r.now) - Number(r.prev) > this.#leaseMs;
    return { lapsed };
  }

  async owned(replica: string): Promise<OwnedTrace[]> {
    const rows = await this.#query<{ tenant: string; trace_id: string; epoch: string; run: number; cancel_requested: boolean; inputs: number }>(
      'pf_owned',
      "SELECT tenant, trace_id, epoch, run, cancel_requested, inputs FROM penguiflow_trace_runs WHERE owner = $1 AND state = 'RUNNING'",
      [replica],
    );
    return rows.map((r) => ({
      tenant: r.tenant,
      traceId: r.trace_id,
      epoch: Number(r.epoch),
      run: r.run,
      cancelRequested: r.cancel_requested,
      inputCount: r.inputs,
    }));
  }

  async release(replica: string, keys?: readonly string[]): Promise<number> {
    let tenants: string[] | null = null;
    let traces: string[] | null = null;
    if (keys !== undefined) {
      tenants = [];
      traces = [];
      for (const key of keys) {
        const k = parseTraceKey(key);
        if (k === undefined) continue;
        tenants.push(k.tenant);
        traces.push(k.traceId);
      }
    }
    return Number(await this.#call<number>('pf_release', 'SELECT penguiflow_trace_release($1, $2::text[], $3::text[]) AS r', [replica, tenants, traces]));
  }

  async replicas(): Promise<ReplicaRow[]> {
    const { rows } = await this.#pool.query<{ id: string; hostname: string; pid: number; started_at: string; heartbeat_at: string; draining: boolean }>(
      'SELECT id, hostname, pid, started_at, heartbeat_at, draining FROM penguiflow_replicas ORDER BY id',
    );
    return rows.map((r) => ({ id: r.id, hostname: r.hostname, pid: r.pid, startedAt: Number(r.started_at), heartbeatAt: Number(r.heartbeat_at), draining: r.draining }));
  }

  async forgetReplica(replica: string): Promise<void> {
    await this.#query('pf_forget', 'SELECT penguiflow_trace_forget($1)', [replica]);
  }

  async eventsAfter(tenant: string, traceId: string, afterSeq: number, limit?: number): Promise<StoredEventRow[]> {
    const rows = await this.#query<RawEvent>(
      'pf_events_after',
      `SELECT tenant, trace_id, seq, flow, ts, kind, node_name, node_id, payload FROM penguiflow_trace_events
       WHERE tenant = $1 AND trace_id = $2 AND seq > $3 ORDER BY seq LIMIT $4`,
      [tenant, traceId, Math.trunc(afterSeq), limit === undefined || !Number.isFinite(limit) ? null : Math.max(0, Math.trunc(limit))],
    );
    return rows.map(eventRow);
  }

  async tailStart(): Promise<string> {
    const { rows } = await this.#pool.query<{ h: string; s: string }>('SELECT pg_snapshot_xmin(s)::text AS h, s::text AS s FROM pg_current_snapshot() s');
    const r = rows[0];
    if (r === undefined) throw new Error('tailStart: no snapshot');
    return formatCursor({ pos: BigInt(r.h), id: 0n, snapshot: r.s });
  }

  async tailEvents(cursor: string, limit: number): Promise<EventTail> {
    const from = parseCursor(cursor);
    if (limit <= 0) return { events: [], cursor: formatCursor(from) };
    const rows = await this.#query<{ horizon: string; pos: string | null; id: string | null } & Partial<RawEvent>>(
      'pf_tail',
      `WITH h AS (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS h)
       SELECT h.h::text AS horizon, e.pos::text AS pos, e.id::text AS id, e.tenant, e.trace_id, e.seq, e.flow, e.ts, e.kind, e.node_name, e.node_id, e.payload
       FROM h LEFT JOIN LATERAL (
         SELECT * FROM penguiflow_trace_events x
         WHERE (x.pos, x.id) > ($1::xid8, $2::bigint) AND x.pos < h.h
           AND ($3::pg_snapshot IS NULL OR NOT pg_visible_in_snapshot(x.writer, $3::pg_snapshot))
         ORDER BY x.pos, x.id LIMIT $4
       ) e ON true`,
      [from.pos.toString(), from.id.toString(), from.snapshot ?? null, Math.trunc(limit)],
    );
    const events: StoredEventRow[] = [];
    let pos = from.pos;
    let id = from.id;
    let horizon = 0n;
    for (const r of rows) {
      horizon = BigInt(r.horizon);
      if (r.pos === null || r.id === null) continue;
      pos = BigInt(r.pos);
      id = BigInt(r.id);
      events.push(eventRow(r as RawEvent));
    }
    // Fewer than asked: everything below the horizon has been read, so the cursor may jump to it.
    if (events.length < limit && horizon > pos) {
      pos = horizon;
      id = 0n;
    }
    return { events, cursor: formatCursor({ pos, id, snapshot: from.snapshot }) };
  }

  listen(listener: (notice: StoreNotice) => void): () => void {
    if (this.#closed !== undefined) return () => undefined;
    return this.#listener.subscribe(listener);
  }

  // --- internals -------------------------------------------------------------

  /**
   * Runs a named statement: each pooled connection parses and plans it once
   * (a plain query is parsed and planned on every call, a measurable share of
   * a short statement's cost).
   */
  async #query<R extends pg.QueryResultRow>(name: string, text: string, values: unknown[]): Promise<R[]> {
    const { rows } = await this.#pool.query<R>({ name, text, values });
    return rows;
  }

  /** Runs a named statement returning one jsonb column `r`. */
  async #call<T>(name: string, sql: string, params: unknown[]): Promise<T> {
    const rows = await this.#query<{ r: T }>(name, sql, params);
    const row = rows[0];
    if (row === undefined) throw new Error('PostgresTraceStore: the statement returned no row');
    return row.r;
  }

  #encode(value: unknown): string | null {
    return value === undefined ? null : this.#codec.encode(value);
  }

  #decode(text: string | null | undefined): unknown {
    return text === null || text === undefined ? undefined : this.#codec.decode(text);
  }

  #row(r: RawRun): TraceRow {
    return {
      tenant: r.tenant,
      traceId: r.trace_id,
      flow: r.flow,
      state: r.state,
      run: r.run,
      attempt: r.attempt,
      epoch: Number(r.epoch),
      owner: r.owner ?? undefined,
      cancelRequested: r.cancel_requested,
      deadline: r.deadline === null ? undefined : Number(r.deadline),
      traceparent: r.traceparent ?? undefined,
      error: this.#decode(r.error),
      createdAt: Number(r.created_at),
      updatedAt: Number(r.updated_at),
      endedAt: r.ended_at === null ? undefined : Number(r.ended_at),
    };
  }

  #accept(a: RawAccept): AcceptResult {
    switch (a.kind) {
      case 'accepted':
        // An accept moves neither seq: the row's are the trace's last before it.
        return {
          kind: 'accepted',
          row: this.#row(a.row),
          input: a.input,
          joined: a.joined,
          lastUpdateSeq: Number(a.row.last_update_seq),
          lastEventSeq: Number(a.row.last_event_seq),
        };
      case 'duplicate':
        return { kind: 'duplicate', traceId: a.traceId, row: a.row === null ? undefined : this.#row(a.row) };
      case 'over_quota':
      case 'queue_full':
        return { kind: a.kind };
      default:
        return { kind: a.kind, row: this.#row(a.row) };
    }
  }
}

/** An epoch-ms value as the bigint columns take it. */
function ms(v: number): number {
  if (v === Number.POSITIVE_INFINITY) return Number.MAX_SAFE_INTEGER;
  if (v === Number.NEGATIVE_INFINITY) return Number.MIN_SAFE_INTEGER;
  return Math.trunc(v);
}

function eventRow(r: RawEvent): StoredEventRow {
  return {
    tenant: r.tenant,
    traceId: r.trace_id,
    seq: Number(r.seq),
    flow: r.flow,
    ts: Number(r.ts),
    kind: r.kind,
    nodeName: r.node_name ?? undefined,
    nodeId: r.node_id ?? undefined,
    payloadJson: r.payload,
  };
}
