/**
 * {@link ServiceStateStore} on SQLite (better-sqlite3): the embedded default.
 *
 * WAL mode, `synchronous=NORMAL` (a committed batch survives a process
 * crash; an OS crash may lose the last batches but never corrupts), prepared
 * statements, one transaction per batch, versioned migrations recorded in
 * `schema_migrations`.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { RemoteBinding, StoredEvent } from '../runtime/index.js';
import { migrateSqlite } from './sqlite-migrations.js';
import { SqliteWriter } from './sqlite-writer.js';
import type { EventRecord, IdempotencyRecord, PruneCutoffs, PruneResult, ServiceStateStore, StoredTrace, WriteBatch } from './types.js';

/** The schema versions, shared with the cluster backbone's store (moved to sqlite-migrations.ts). */
export { SQLITE_MIGRATIONS } from './sqlite-migrations.js';

interface EventRow {
  tenant: string;
  trace_id: string;
  seq: number;
  flow: string;
  ts: number;
  kind: string;
  node_name: string | null;
  node_id: string | null;
  payload: string;
}

interface TraceRow {
  tenant: string;
  trace_id: string;
  flow: string;
  status: string;
  created_at: number;
  updated_at: number;
  ended_at: number | null;
}

interface RuntimeRow {
  id: string;
  trace_id: string | null;
  ts: number;
  kind: string;
  node_name: string | null;
  node_id: string | null;
  payload: string;
}

function toEvent(r: EventRow): EventRecord {
  return {
    tenant: r.tenant,
    traceId: r.trace_id,
    seq: r.seq,
    flow: r.flow,
    ts: r.ts,
    kind: r.kind,
    nodeName: r.node_name ?? undefined,
    nodeId: r.node_id ?? undefined,
    payload: JSON.parse(r.payload) as Record<string, unknown>,
  };
}

function toTrace(r: TraceRow): StoredTrace {
  return {
    tenant: r.tenant,
    traceId: r.trace_id,
    flow: r.flow,
    status: r.status,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    endedAt: r.ended_at ?? undefined,
  };
}

/** Options of {@link SqliteStateStore}. */
export interface SqliteStoreOptions {
  /** File path, or `:memory:`. Parent directories are created. */
  path: string;
  /** Open read-only (inspection tools, tests reading a live server's file). */
  readonly?: boolean;
  /**
   * Write batches (and prune) on a worker thread, so commits and WAL
   * checkpoints never block the caller's event loop. Default true for a
   * file, false for `:memory:`.
   */
  writerThread?: boolean;
}

type Stmt = Database.Statement;

/** SQLite store. Calls are synchronous under the hood and resolve at once. */
export class SqliteStateStore implements ServiceStateStore {
  readonly kind = 'sqlite' as const;
  readonly path: string;
  readonly #readonly: boolean;
  readonly #useWriter: boolean;
  #writer: SqliteWriter | undefined;
  #db: Database.Database | undefined;
  #s: Record<string, Stmt> = {};
  #writeTx: ((batch: WriteBatch) => void) | undefined;

  constructor(opts: SqliteStoreOptions) {
    this.path = opts.path;
    this.#readonly = opts.readonly ?? false;
    this.#useWriter = !this.#readonly && this.path !== ':memory:' && (opts.writerThread ?? true);
  }

  init(): Promise<void> {
    if (this.#db !== undefined) return Promise.resolve();
    try {
      if (this.path !== ':memory:' && !this.#readonly) mkdirSync(dirname(this.path), { recursive: true });
      const db = new Database(this.path, { readonly: this.#readonly, fileMustExist: this.#readonly });
      db.pragma('busy_timeout = 5000');
      if (!this.#readonly) {
        db.pragma('journal_mode = WAL');
        db.pragma('synchronous = NORMAL');
        migrateSqlite(db);
        // With a writer thread, checkpoints (an fsync) happen there, never on this thread.
        if (this.#useWriter) db.pragma('wal_autocheckpoint = 0');
      }
      this.#db = db;
      this.#prepare(db);
      if (this.#useWriter) this.#writer = new SqliteWriter(this.path);
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(err);
    }
  }

  #prepare(db: Database.Database): void {
    const p = (sql: string): Stmt => db.prepare(sql);
    this.#s = {
      eventsAfter: p('SELECT * FROM events WHERE tenant = ? AND trace_id = ? AND seq > ? ORDER BY seq LIMIT ?'),
      lastSeq: p('SELECT MAX(seq) AS seq FROM events WHERE tenant = ? AND trace_id = ?'),
      getTrace: p('SELECT * FROM traces WHERE tenant = ? AND trace_id = ?'),
      getKey: p('SELECT trace_id, created_at FROM idempotency_keys WHERE tenant = ? AND flow = ? AND key = ?'),
      loadHistory: p('SELECT id, trace_id, ts, kind, node_name, node_id, payload FROM runtime_events WHERE trace_id IS ? ORDER BY ord'),
      ping: p('SELECT 1'),
    };
    if (this.#readonly) return;
    Object.assign(this.#s, {
      insertEvent: p(
        'INSERT INTO events (tenant, trace_id, seq, flow, ts, kind, node_name, node_id, payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING',
      ),
      upsertTrace: p(
        `INSERT INTO traces (tenant, trace_id, flow, status, created_at, updated_at, ended_at) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (tenant, trace_id) DO UPDATE SET flow = excluded.flow, status = excluded.status, updated_at = excluded.updated_at, ended_at = excluded.ended_at`,
      ),
      putKey: p(
        `INSERT INTO idempotency_keys (tenant, flow, key, trace_id, created_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (tenant, flow, key) DO UPDATE SET trace_id = excluded.trace_id, created_at = excluded.created_at`,
      ),
      releaseKey: p('DELETE FROM idempotency_keys WHERE tenant = ? AND flow = ? AND key = ? AND trace_id = ?'),
      pruneEvents: p('DELETE FROM events WHERE (tenant, trace_id) IN (SELECT tenant, trace_id FROM traces WHERE updated_at < ?)'),
      pruneTraces: p('DELETE FROM traces WHERE updated_at < ?'),
      pruneKeys: p('DELETE FROM idempotency_keys WHERE created_at < ?'),
      pruneRuntime: p('DELETE FROM runtime_events WHERE ts < ?'),
      saveEvent: p(
        'INSERT INTO runtime_events (id, trace_id, ts, kind, node_name, node_id, payload) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING',
      ),
      saveBinding: p('INSERT INTO remote_bindings (trace_id, context_id, task_id, agent_url) VALUES (?, ?, ?, ?)'),
    });
    const s = this.#s;
    this.#writeTx = db.transaction((batch: WriteBatch) => {
      for (const e of batch.events) {
        s.insertEvent!.run(e.tenant, e.traceId, e.seq, e.flow, e.ts, e.kind, e.nodeName ?? null, e.nodeId ?? null, e.payloadJson ?? JSON.stringify(e.payload));
      }
      for (const t of batch.traces) s.upsertTrace!.run(t.tenant, t.traceId, t.flow, t.status, t.createdAt, t.updatedAt, t.endedAt ?? null);
    });
  }

  #stmt(name: string): Stmt {
    const s = this.#s[name];
    if (this.#db === undefined || s === undefined) throw new Error(this.#db === undefined ? 'sqlite store is not open' : `sqlite store is read-only (${name})`);
    return s;
  }

  #run<T>(fn: () => T): Promise<T> {
    try {
      return Promise.resolve(fn());
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Synchronous {@link write}: the caller is already off the request path. */
  writeSync(batch: WriteBatch): void {
    if (this.#writeTx === undefined) this.#stmt('insertEvent');
    this.#writeTx!(batch);
  }

  write(batch: WriteBatch): Promise<void> {
    if (this.#db === undefined) return Promise.reject(new Error('sqlite store is not open'));
    if (this.#writer !== undefined) return this.#writer.write(batch);
    return this.#run(() => this.writeSync(batch));
  }

  eventsAfter(tenant: string, traceId: string, afterSeq: number, limit = -1): Promise<EventRecord[]> {
    return this.#run(() => (this.#stmt('eventsAfter').all(tenant, traceId, afterSeq, limit) as EventRow[]).map(toEvent));
  }

  lastSeq(tenant: string, traceId: string): Promise<number> {
    return this.#run(() => (this.#stmt('lastSeq').get(tenant, traceId) as { seq: number | null }).seq ?? 0);
  }

  getTrace(tenant: string, traceId: string): Promise<StoredTrace | undefined> {
    return this.#run(() => {
      const row = this.#stmt('getTrace').get(tenant, traceId) as TraceRow | undefined;
      return row === undefined ? undefined : toTrace(row);
    });
  }

  claimKey(record: IdempotencyRecord, notBefore: number): Promise<string> {
    return this.#run(() => {
      const tx = this.#db!.transaction(() => {
        const found = this.#stmt('getKey').get(record.tenant, record.flow, record.key) as { trace_id: string; created_at: number } | undefined;
        if (found !== undefined && found.created_at >= notBefore) return found.trace_id;
        this.#stmt('putKey').run(record.tenant, record.flow, record.key, record.traceId, record.createdAt);
        return record.traceId;
      });
      return tx.immediate();
    });
  }

  getKey(tenant: string, flow: string, key: string, notBefore: number): Promise<string | undefined> {
    return this.#run(() => {
      const found = this.#stmt('getKey').get(tenant, flow, key) as { trace_id: string; created_at: number } | undefined;
      return found !== undefined && found.created_at >= notBefore ? found.trace_id : undefined;
    });
  }

  releaseKey(tenant: string, flow: string, key: string, traceId: string): Promise<void> {
    return this.#run(() => void this.#stmt('releaseKey').run(tenant, flow, key, traceId));
  }

  prune(cutoffs: PruneCutoffs): Promise<PruneResult> {
    if (this.#db === undefined) return Promise.reject(new Error('sqlite store is not open'));
    if (this.#writer !== undefined) return this.#writer.prune(cutoffs);
    return this.#run(() =>
      this.#db!.transaction(() => {
        const events = this.#stmt('pruneEvents').run(cutoffs.tracesBefore).changes;
        this.#stmt('pruneRuntime').run(cutoffs.eventsBefore);
        const traces = this.#stmt('pruneTraces').run(cutoffs.tracesBefore).changes;
        const keys = this.#stmt('pruneKeys').run(cutoffs.keysBefore).changes;
        return { events, traces, keys };
      })(),
    );
  }

  saveEvent(event: StoredEvent): Promise<void> {
    return this.#run(
      () =>
        void this.#stmt('saveEvent').run(event.id, event.traceId ?? null, event.ts, event.kind, event.nodeName ?? null, event.nodeId ?? null, JSON.stringify(event.payload)),
    );
  }

  loadHistory(traceId: string): Promise<StoredEvent[]> {
    return this.#run(() =>
      (this.#stmt('loadHistory').all(traceId) as RuntimeRow[]).map((r) => ({
        id: r.id,
        traceId: r.trace_id ?? undefined,
        ts: r.ts,
        kind: r.kind,
        nodeName: r.node_name ?? undefined,
        nodeId: r.node_id ?? undefined,
        payload: JSON.parse(r.payload) as Record<string, unknown>,
      })),
    );
  }

  saveRemoteBinding(binding: RemoteBinding): Promise<void> {
    return this.#run(() => void this.#stmt('saveBinding').run(binding.traceId, binding.contextId ?? null, binding.taskId, binding.agentUrl));
  }

  ping(): Promise<void> {
    return this.#run(() => void this.#stmt('ping').get());
  }

  async close(): Promise<void> {
    const db = this.#db;
    const writer = this.#writer;
    this.#db = undefined;
    this.#writer = undefined;
    this.#writeTx = undefined;
    await writer?.close();
    try {
      db?.close();
    } catch {
      // closing twice or a busy handle: nothing left to do
    }
  }
}
