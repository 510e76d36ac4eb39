/**
 * {@link ServiceStateStore} on PostgreSQL (`pg`, pooled): for clusters.
 *
 * Versioned migrations (postgres-migrations.ts, shared with the cluster
 * backbone's store) run at start. A batch is one statement
 * (`INSERT … SELECT FROM unnest(…) ON CONFLICT DO NOTHING` for the events,
 * chained with the upsert of the trace rows), so atomic in one round trip.
 */
import pg from 'pg';
import type { RemoteBinding, StoredEvent } from '../runtime/index.js';
import { migratePostgres } from './postgres-migrations.js';
import type { EventRecord, IdempotencyRecord, PruneCutoffs, PruneResult, ServiceStateStore, TraceRecordRow, WriteBatch } from './types.js';

/** Options of {@link PostgresStateStore}. */
export interface PostgresStoreOptions {
  /** `postgres://user:pass@host:port/db` */
  connectionString: string;
  /** Pool size; default 8. */
  maxConnections?: number;
  /** Per-query timeout in ms (a store outage must never hang a caller); default 10 000. */
  queryTimeoutMs?: number;
  /** Connect timeout in ms; default 5 000. */
  connectTimeoutMs?: number;
}

interface EventRow {
  tenant: string;
  trace_id: string;
  seq: string;
  flow: string;
  ts: string;
  kind: string;
  node_name: string | null;
  node_id: string | null;
  payload: Record<string, unknown>;
}

interface TraceRow {
  tenant: string;
  trace_id: string;
  flow: string;
  status: string;
  created_at: string;
  updated_at: string;
  ended_at: string | null;
}

/** PostgreSQL store. */
export class PostgresStateStore implements ServiceStateStore {
  readonly kind = 'postgres' as const;
  readonly #pool: pg.Pool;
  /**
   * Batches of the write-behind buffer go through their own small pool with
   * `synchronous_commit=off`: they are acknowledged before they are written
   * anyway, so waiting for the WAL flush would only add latency (a database
   * crash can lose the last fraction of a second of history; it is never
   * corrupted). Idempotency keys use the main pool: durable on commit.
   */
  readonly #writePool: pg.Pool;
  #initialized: Promise<void> | undefined;

  constructor(opts: PostgresStoreOptions) {
    this.#pool = new pg.Pool({
      connectionString: opts.connectionString,
      max: opts.maxConnections ?? 8,
      connectionTimeoutMillis: opts.connectTimeoutMs ?? 5000,
      query_timeout: opts.queryTimeoutMs ?? 10_000,
      idleTimeoutMillis: 30_000,
    });
    this.#writePool = new pg.Pool({
      connectionString: opts.connectionString,
      max: 2,
      connectionTimeoutMillis: opts.connectTimeoutMs ?? 5000,
      query_timeout: opts.queryTimeoutMs ?? 10_000,
      idleTimeoutMillis: 30_000,
      options: '-c synchronous_commit=off',
    });
    // An idle client losing its connection must not crash the process; the next query reports it.
    this.#pool.on('error', () => undefined);
    this.#writePool.on('error', () => undefined);
  }

  init(): Promise<void> {
    this.#initialized ??= this.#migrate().catch((err: unknown) => {
      this.#initialized = undefined;
      throw err;
    });
    return this.#initialized;
  }

  async #migrate(): Promise<void> {
    await migratePostgres(this.#pool);
  }

  async write(batch: WriteBatch): Promise<void> {
    if (batch.events.length === 0 && batch.traces.length === 0) return;
    const n = batch.events.length;
    const cols = {
      tenant: new Array<string>(n),
      trace: new Array<string>(n),
      seq: new Array<number>(n),
      flow: new Array<string>(n),
      ts: new Array<number>(n),
      kind: new Array<string>(n),
      node: new Array<string | null>(n),
      nodeId: new Array<string | null>(n),
      payload: new Array<string>(n),
    };
    batch.events.forEach((e, i) => {
      cols.tenant[i] = e.tenant;
      cols.trace[i] = e.traceId;
      cols.seq[i] = e.seq;
      cols.flow[i] = e.flow;
      cols.ts[i] = Math.trunc(e.ts);
      cols.kind[i] = e.kind;
      cols.node[i] = e.nodeName ?? null;
      cols.nodeId[i] = e.nodeId ?? null;
      cols.payload[i] = e.payloadJson ?? JSON.stringify(e.payload);
    });
    const t = batch.traces;
    // One statement (so one round trip, atomic): events, then trace rows.
    await this.#writePool.query(
      `WITH ev AS (
         INSERT INTO penguiflow_events (tenant, trace_id, seq, flow, ts, kind, node_name, node_id, payload)
         SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::bigint[], $6::text[], $7::text[], $8::text[], $9::jsonb[])
         ON CONFLICT DO NOTHING
       )
       INSERT INTO penguiflow_traces (tenant, trace_id, flow, status, created_at, updated_at, ended_at)
       SELECT * FROM unnest($10::text[], $11::text[], $12::text[], $13::text[], $14::bigint[], $15::bigint[], $16::bigint[])
       ON CONFLICT (tenant, trace_id) DO UPDATE SET flow = excluded.flow, status = excluded.status, updated_at = excluded.updated_at, ended_at = excluded.ended_at`,
      [
        cols.tenant,
        cols.trace,
        cols.seq,
        cols.flow,
        cols.ts,
        cols.kind,
        cols.node,
        cols.nodeId,
        cols.payload,
        t.map((r) => r.tenant),
        t.map((r) => r.traceId),
        t.map((r) => r.flow),
        t.map((r) => r.status),
        t.map((r) => Math.trunc(r.createdAt)),
        t.map((r) => Math.trunc(r.updatedAt)),
        t.map((r) => (r.endedAt === undefined ? null : Math.trunc(r.endedAt))),
      ],
    );
  }

  async eventsAfter(tenant: string, traceId: string, afterSeq: number, limit?: number): Promise<EventRecord[]> {
    const { rows } = await this.#pool.query<EventRow>(
      'SELECT * FROM penguiflow_events WHERE tenant = $1 AND trace_id = $2 AND seq > $3 ORDER BY seq LIMIT $4',
      [tenant, traceId, afterSeq, limit ?? null],
    );
    return rows.map((r) => ({
      tenant: r.tenant,
      traceId: r.trace_id,
      seq: Number(r.seq),
      flow: r.flow,
      ts: Number(r.ts),
      kind: r.kind,
      nodeName: r.node_name ?? undefined,
      nodeId: r.node_id ?? undefined,
      payload: r.payload,
    }));
  }

  async lastSeq(tenant: string, traceId: string): Promise<number> {
    const { rows } = await this.#pool.query<{ seq: string | null }>('SELECT MAX(seq) AS seq FROM penguiflow_events WHERE tenant = $1 AND trace_id = $2', [tenant, traceId]);
    return Number(rows[0]?.seq ?? 0);
  }

  async getTrace(tenant: string, traceId: string): Promise<TraceRecordRow | undefined> {
    const { rows } = await this.#pool.query<TraceRow>('SELECT * FROM penguiflow_traces WHERE tenant = $1 AND trace_id = $2', [tenant, traceId]);
    const r = rows[0];
    if (r === undefined) return undefined;
    return {
      tenant: r.tenant,
      traceId: r.trace_id,
      flow: r.flow,
      status: r.status,
      createdAt: Number(r.created_at),
      updatedAt: Number(r.updated_at),
      endedAt: r.ended_at === null ? undefined : Number(r.ended_at),
    };
  }

  async claimKey(record: IdempotencyRecord, notBefore: number): Promise<string> {
    // One statement: insert, or take over an expired key; otherwise keep the live one.
    const { rows } = await this.#pool.query<{ trace_id: string }>(
      `INSERT INTO penguiflow_idempotency_keys AS k (tenant, flow, key, trace_id, created_at) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (tenant, flow, key) DO UPDATE SET trace_id = excluded.trace_id, created_at = excluded.created_at
       WHERE k.created_at < $6
       RETURNING trace_id`,
      [record.tenant, record.flow, record.key, record.traceId, Math.trunc(record.createdAt), Math.trunc(notBefore)],
    );
    if (rows[0] !== undefined) return rows[0].trace_id;
    const existing = await this.getKey(record.tenant, record.flow, record.key, Number.NEGATIVE_INFINITY);
    return existing ?? record.traceId;
  }

  async getKey(tenant: string, flow: string, key: string, notBefore: number): Promise<string | undefined> {
    const { rows } = await this.#pool.query<{ trace_id: string; created_at: string }>(
      'SELECT trace_id, created_at FROM penguiflow_idempotency_keys WHERE tenant = $1 AND flow = $2 AND key = $3',
      [tenant, flow, key],
    );
    const r = rows[0];
    return r !== undefined && Number(r.created_at) >= notBefore ? r.trace_id : undefined;
  }

  async releaseKey(tenant: string, flow: string, key: string, traceId: string): Promise<void> {
    await this.#pool.query('DELETE FROM penguiflow_idempotency_keys WHERE tenant = $1 AND flow = $2 AND key = $3 AND trace_id = $4', [tenant, flow, key, traceId]);
  }

  async prune(cutoffs: PruneCutoffs): Promise<PruneResult> {
    const events = await this.#pool.query(
      'DELETE FROM penguiflow_events e USING penguiflow_traces t WHERE e.tenant = t.tenant AND e.trace_id = t.trace_id AND t.updated_at < $1',
      [Math.trunc(cutoffs.tracesBefore)],
    );
    await this.#pool.query('DELETE FROM penguiflow_runtime_events WHERE ts < $1', [Math.trunc(cutoffs.eventsBefore)]);
    const traces = await this.#pool.query('DELETE FROM penguiflow_traces WHERE updated_at < $1', [Math.trunc(cutoffs.tracesBefore)]);
    const keys = await this.#pool.query('DELETE FROM penguiflow_idempotency_keys WHERE created_at < $1', [Math.trunc(cutoffs.keysBefore)]);
    return { events: events.rowCount ?? 0, traces: traces.rowCount ?? 0, keys: keys.rowCount ?? 0 };
  }

  async saveEvent(event: StoredEvent): Promise<void> {
    await this.#pool.query(
      `INSERT INTO penguiflow_runtime_events (id, trace_id, ts, kind, node_name, node_id, payload) VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (id) DO NOTHING`,
      [event.id, event.traceId ?? null, Math.trunc(event.ts), event.kind, event.nodeName ?? null, event.nodeId ?? null, JSON.stringify(event.payload)],
    );
  }

  async loadHistory(traceId: string): Promise<StoredEvent[]> {
    const { rows } = await this.#pool.query<{ id: string; trace_id: string | null; ts: string; kind: string; node_name: string | null; node_id: string | null; payload: Record<string, unknown> }>(
      'SELECT id, trace_id, ts, kind, node_name, node_id, payload FROM penguiflow_runtime_events WHERE trace_id = $1 ORDER BY ord',
      [traceId],
    );
    return rows.map((r) => ({
      id: r.id,
      traceId: r.trace_id ?? undefined,
      ts: Number(r.ts),
      kind: r.kind,
      nodeName: r.node_name ?? undefined,
      nodeId: r.node_id ?? undefined,
      payload: r.payload,
    }));
  }

  async saveRemoteBinding(binding: RemoteBinding): Promise<void> {
    await this.#pool.query('INSERT INTO penguiflow_remote_bindings (trace_id, context_id, task_id, agent_url) VALUES ($1, $2, $3, $4)', [
      binding.traceId,
      binding.contextId ?? null,
      binding.taskId,
      binding.agentUrl,
    ]);
  }

  async ping(): Promise<void> {
    await this.#pool.query('SELECT 1');
  }

  async close(): Promise<void> {
    await Promise.all([this.#pool.end(), this.#writePool.end()]);
  }
}
