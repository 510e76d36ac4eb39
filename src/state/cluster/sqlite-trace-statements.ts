/**
 * The SQL of the SQLite trace store's engine (sqlite-trace-engine.ts): the
 * connection settings, the trace row as the engine reads it, and every
 * statement it prepares. Each statement has an index to use (checked with
 * EXPLAIN QUERY PLAN; only the replicas table, a handful of rows, is
 * scanned).
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { TRACE_TUPLE_COLUMNS, type TraceTuple } from './sqlite-trace-protocol.js';
import type { TraceState } from './trace-store.js';

/**
 * Opens a connection to the data file with the settings every connection of
 * the store uses: WAL (readers never block the writer), `synchronous=NORMAL`
 * (a committed transaction survives a process crash; an OS crash may lose
 * the last ones but never corrupts), and a busy timeout for the write lock
 * another process may hold.
 */
export function openTraceDatabase(path: string, busyTimeoutMs: number): Database.Database {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  try {
    db.pragma(`busy_timeout = ${Math.max(0, Math.trunc(busyTimeoutMs))}`);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    // A WAL that grew under a burst is cut back to this size once checkpointed.
    db.pragma('journal_size_limit = 67108864');
  } catch (err) {
    db.close();
    throw err;
  }
  return db;
}

/** A `cluster_traces` row as the engine works on it (the first message stays in the table). */
export interface TraceRecord {
  /** rowid; 0 until a new row is inserted. */
  id: number;
  readonly tenant: string;
  readonly trace_id: string;
  flow: string;
  state: TraceState;
  run: number;
  attempt: number;
  epoch: number;
  owner: string | null;
  cancel_requested: number;
  deadline: number | null;
  traceparent: string | null;
  error: string | null;
  readonly created_at: number;
  updated_at: number;
  ended_at: number | null;
  input_count: number;
  stored_this_run: number;
  last_update_seq: number;
  last_event_seq: number;
  queue_ord: number | null;
}

/** The columns {@link recordOf} reads, in order. */
const RECORD_COLUMNS = `id, ${TRACE_TUPLE_COLUMNS}, input_count, stored_this_run, last_update_seq, last_event_seq, queue_ord`;

// Rows are read as arrays and made into records here: better-sqlite3 builds
// an object per row column by column, which costs more than the query.
export function recordOf(a: readonly unknown[]): TraceRecord {
  return {
    id: a[0] as number,
    tenant: a[1] as string,
    trace_id: a[2] as string,
    flow: a[3] as string,
    state: a[4] as TraceState,
    run: a[5] as number,
    attempt: a[6] as number,
    epoch: a[7] as number,
    owner: a[8] as string | null,
    cancel_requested: a[9] as number,
    deadline: a[10] as number | null,
    traceparent: a[11] as string | null,
    error: a[12] as string | null,
    created_at: a[13] as number,
    updated_at: a[14] as number,
    ended_at: a[15] as number | null,
    input_count: a[16] as number,
    stored_this_run: a[17] as number,
    last_update_seq: a[18] as number,
    last_event_seq: a[19] as number,
    queue_ord: a[20] as number | null,
  };
}

/** The row as the main thread gets it (a copy: the record may change later in the operation). */
export function snapshot(r: TraceRecord): TraceTuple {
  return [r.tenant, r.trace_id, r.flow, r.state, r.run, r.attempt, r.epoch, r.owner, r.cancel_requested, r.deadline, r.traceparent, r.error, r.created_at, r.updated_at, r.ended_at];
}

/** The engine's prepared statements, by name. */
export type EngineStatements = Record<
  | 'getTrace'
  | 'insertTrace'
  | 'updateFull'
  | 'updateCounters'
  | 'setMessage'
  | 'firstInput'
  | 'insertInput'
  | 'deleteInputs'
  | 'moreInputs'
  | 'insertUpdate'
  | 'takeUpdate'
  | 'dropUpdates'
  | 'insertEvent'
  | 'deleteEvents'
  | 'getKey'
  | 'putKey'
  | 'getInflight'
  | 'addInflight'
  | 'countQueued'
  | 'lastQueueOrd'
  | 'queuedHead'
  | 'firstOwner'
  | 'nextOwner'
  | 'orphans'
  | 'ownedBy'
  | 'ownedFlows'
  | 'getReplica'
  | 'replicaBeats'
  | 'upsertReplica'
  | 'deleteReplica'
  | 'pruneUpdates'
  | 'endedBefore'
  | 'deleteTrace'
  | 'pruneKeys'
  | 'pruneReplicas',
  Database.Statement
>;

/** Prepares the engine's statements on `db`, whose schema must be migrated. */
export function prepareEngineStatements(db: Database.Database): EngineStatements {
  const p = (sql: string): Database.Statement => db.prepare(sql);
  return {
    getTrace: p(`SELECT ${RECORD_COLUMNS} FROM cluster_traces WHERE tenant = ? AND trace_id = ?`).raw(),
    insertTrace: p(
      `INSERT INTO cluster_traces (tenant, trace_id, flow, state, run, attempt, epoch, owner, cancel_requested, deadline, traceparent, error,
         created_at, updated_at, ended_at, input_count, stored_this_run, last_update_seq, last_event_seq, queue_ord, message)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    updateFull: p(
      `UPDATE cluster_traces SET flow = ?, state = ?, run = ?, attempt = ?, epoch = ?, owner = ?, cancel_requested = ?, deadline = ?,
         traceparent = ?, error = ?, updated_at = ?, ended_at = ?, input_count = ?, stored_this_run = ?, last_update_seq = ?,
         last_event_seq = ?, queue_ord = ?
       WHERE id = ?`,
    ),
    // Only columns outside every index: SQLite then leaves the indexes alone.
    updateCounters: p(
      `UPDATE cluster_traces SET cancel_requested = ?, updated_at = ?, input_count = ?, stored_this_run = ?, last_update_seq = ?, last_event_seq = ?
       WHERE id = ?`,
    ),
    setMessage: p('UPDATE cluster_traces SET message = ? WHERE id = ?'),
    firstInput: p('SELECT message FROM cluster_traces WHERE id = ?').pluck(),
    insertInput: p('INSERT INTO cluster_inputs (tenant, trace_id, run, n, message) VALUES (?, ?, ?, ?, ?)'),
    deleteInputs: p('DELETE FROM cluster_inputs WHERE tenant = ? AND trace_id = ?'),
    moreInputs: p('SELECT message FROM cluster_inputs WHERE tenant = ? AND trace_id = ? AND run = ? ORDER BY n').pluck(),
    insertUpdate: p('INSERT INTO cluster_updates (tenant, trace_id, seq, run, kind, value) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING'),
    takeUpdate: p(
      `DELETE FROM cluster_updates WHERE tenant = @tenant AND trace_id = @traceId
         AND seq = (SELECT MIN(seq) FROM cluster_updates WHERE tenant = @tenant AND trace_id = @traceId)
       RETURNING seq, run, kind, value`,
    ),
    dropUpdates: p('DELETE FROM cluster_updates WHERE tenant = ? AND trace_id = ?'),
    insertEvent: p(
      'INSERT INTO cluster_events (tenant, trace_id, seq, flow, ts, kind, node_name, node_id, payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING',
    ),
    deleteEvents: p('DELETE FROM cluster_events WHERE tenant = ? AND trace_id = ?'),
    getKey: p('SELECT trace_id, created_at FROM cluster_idempotency_keys WHERE tenant = ? AND flow = ? AND key = ?'),
    putKey: p(
      `INSERT INTO cluster_idempotency_keys (tenant, flow, key, trace_id, created_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (tenant, flow, key) DO UPDATE SET trace_id = excluded.trace_id, created_at = excluded.created_at`,
    ),
    getInflight: p('SELECT n FROM cluster_tenant_inflight WHERE tenant = ?').pluck(),
    addInflight: p('INSERT INTO cluster_tenant_inflight (tenant, n) VALUES (?, ?) ON CONFLICT (tenant) DO UPDATE SET n = n + excluded.n'),
    countQueued: p("SELECT COUNT(*) FROM cluster_traces WHERE flow = ? AND state = 'QUEUED'").pluck(),
    lastQueueOrd: p("SELECT queue_ord FROM cluster_traces WHERE flow = ? AND state = 'QUEUED' ORDER BY queue_ord DESC LIMIT 1").pluck(),
    queuedHead: p(`SELECT ${RECORD_COLUMNS} FROM cluster_traces WHERE flow = ? AND state = 'QUEUED' ORDER BY queue_ord LIMIT ?`).raw(),
    // Distinct owners by skipping through the running index: one seek per owner, however many traces each runs.
    firstOwner: p("SELECT owner FROM cluster_traces WHERE state = 'RUNNING' ORDER BY owner LIMIT 1").pluck(),
    nextOwner: p("SELECT owner FROM cluster_traces WHERE state = 'RUNNING' AND owner > ? ORDER BY owner LIMIT 1").pluck(),
    orphans: p(`SELECT ${RECORD_COLUMNS} FROM cluster_traces WHERE state = 'RUNNING' AND owner = ? AND flow = ? ORDER BY created_at LIMIT ?`).raw(),
    ownedBy: p(`SELECT ${RECORD_COLUMNS} FROM cluster_traces WHERE state = 'RUNNING' AND owner = ?`).raw(),
    ownedFlows: p("SELECT DISTINCT flow FROM cluster_traces WHERE state = 'RUNNING' AND owner = ?").pluck(),
    getReplica: p('SELECT heartbeat_at FROM cluster_replicas WHERE id = ?').pluck(),
    replicaBeats: p('SELECT id, heartbeat_at FROM cluster_replicas').raw(),
    upsertReplica: p(
      `INSERT INTO cluster_replicas (id, hostname, pid, started_at, heartbeat_at, draining) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET hostname = excluded.hostname, pid = excluded.pid, started_at = excluded.started_at,
         heartbeat_at = excluded.heartbeat_at, draining = excluded.draining`,
    ),
    deleteReplica: p('DELETE FROM cluster_replicas WHERE id = ?'),
    // CROSS JOIN keeps the (small: unread only) updates table outside, rather than every ended trace.
    pruneUpdates: p(
      `DELETE FROM cluster_updates WHERE (tenant, trace_id, seq) IN (
         SELECT u.tenant, u.trace_id, u.seq FROM cluster_updates u
         CROSS JOIN cluster_traces t ON t.tenant = u.tenant AND t.trace_id = u.trace_id
         WHERE t.ended_at < ? LIMIT ?)`,
    ),
    endedBefore: p('SELECT id, tenant, trace_id FROM cluster_traces WHERE ended_at < ? ORDER BY ended_at LIMIT ?').raw(),
    deleteTrace: p('DELETE FROM cluster_traces WHERE id = ?'),
    pruneKeys: p(
      `DELETE FROM cluster_idempotency_keys WHERE (tenant, flow, key) IN (
         SELECT tenant, flow, key FROM cluster_idempotency_keys WHERE created_at < ? LIMIT ?)`,
    ),
    pruneReplicas: p(
      `DELETE FROM cluster_replicas WHERE heartbeat_at < ?
         AND NOT EXISTS (SELECT 1 FROM cluster_traces WHERE state = 'RUNNING' AND owner = cluster_replicas.id)`,
    ),
  };
}
