/**
 * The SQLite schema, one versioned list for every store that opens the data
 * file (the service state store of src/state/sqlite-store.ts and the cluster
 * backbone's SqliteTraceStore), so both apply the same migrations in the same
 * order whichever opens the file first.
 */
import type Database from 'better-sqlite3';

/** Schema versions, applied in order; never edit one that shipped, add the next. */
export const SQLITE_MIGRATIONS: readonly { version: number; name: string; sql: string }[] = [
  {
    version: 1,
    name: 'events, traces, idempotency keys, runtime events, remote bindings',
    sql: `
      -- A rowid table (rows appended in write order) with a small unique index,
      -- rather than WITHOUT ROWID: random trace ids would scatter whole rows.
      CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        tenant TEXT NOT NULL, trace_id TEXT NOT NULL, seq INTEGER NOT NULL,
        flow TEXT NOT NULL, ts INTEGER NOT NULL, kind TEXT NOT NULL,
        node_name TEXT, node_id TEXT, payload TEXT NOT NULL,
        UNIQUE (tenant, trace_id, seq)
      );
      CREATE TABLE traces (
        tenant TEXT NOT NULL, trace_id TEXT NOT NULL, flow TEXT NOT NULL, status TEXT NOT NULL,
        created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, ended_at INTEGER,
        PRIMARY KEY (tenant, trace_id)
      ) WITHOUT ROWID;
      CREATE INDEX traces_updated ON traces (updated_at);
      CREATE TABLE idempotency_keys (
        tenant TEXT NOT NULL, flow TEXT NOT NULL, key TEXT NOT NULL, trace_id TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (tenant, flow, key)
      ) WITHOUT ROWID;
      CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
      CREATE TABLE runtime_events (
        ord INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, trace_id TEXT,
        ts INTEGER NOT NULL, kind TEXT NOT NULL, node_name TEXT, node_id TEXT, payload TEXT NOT NULL
      );
      CREATE INDEX runtime_events_trace ON runtime_events (trace_id, ord);
      CREATE TABLE remote_bindings (
        ord INTEGER PRIMARY KEY AUTOINCREMENT, trace_id TEXT NOT NULL, context_id TEXT,
        task_id TEXT NOT NULL, agent_url TEXT NOT NULL
      );
    `,
  },
  {
    version: 2,
    name: 'cluster backbone: traces, inputs, updates, events, idempotency keys, replicas, tenant in-flight counts',
    sql: `
      -- One row per (tenant, trace id): the current run's status, lease owner,
      -- fencing epoch and first message, plus the counters a claim and a fenced
      -- write need. A rowid table appended in acceptance order, with a unique
      -- index on the key: an accept dirties the table's last page and one index
      -- page, and an end rewrites a recent page (measured: half the CPU and a
      -- third of the time of a WITHOUT ROWID table keyed by random trace ids,
      -- which dirties a random page per row).
      -- queue_ord orders a flow's QUEUED traces (set when queued, NULL otherwise).
      CREATE TABLE cluster_traces (
        id INTEGER PRIMARY KEY,
        tenant TEXT NOT NULL, trace_id TEXT NOT NULL, flow TEXT NOT NULL, state TEXT NOT NULL,
        run INTEGER NOT NULL, attempt INTEGER NOT NULL, epoch INTEGER NOT NULL, owner TEXT,
        cancel_requested INTEGER NOT NULL, deadline INTEGER, traceparent TEXT, error TEXT,
        created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, ended_at INTEGER,
        input_count INTEGER NOT NULL, stored_this_run INTEGER NOT NULL,
        last_update_seq INTEGER NOT NULL, last_event_seq INTEGER NOT NULL, queue_ord INTEGER,
        message TEXT NOT NULL,
        UNIQUE (tenant, trace_id)
      );
      -- Partial indexes: a trace is in at most one of them, so an accept that
      -- runs at once never touches the queue index, and an end moves one entry.
      CREATE INDEX cluster_traces_queued ON cluster_traces (flow, queue_ord) WHERE state = 'QUEUED';
      CREATE INDEX cluster_traces_running ON cluster_traces (owner, flow, created_at) WHERE state = 'RUNNING';
      CREATE INDEX cluster_traces_ended ON cluster_traces (ended_at) WHERE ended_at IS NOT NULL;
      -- The current run's further messages (n >= 2; the first is the trace row's).
      CREATE TABLE cluster_inputs (
        tenant TEXT NOT NULL, trace_id TEXT NOT NULL, run INTEGER NOT NULL, n INTEGER NOT NULL,
        message TEXT NOT NULL,
        PRIMARY KEY (tenant, trace_id, run, n)
      ) WITHOUT ROWID;
      -- Unread updates only: a take deletes the row it hands out.
      CREATE TABLE cluster_updates (
        tenant TEXT NOT NULL, trace_id TEXT NOT NULL, seq INTEGER NOT NULL,
        run INTEGER NOT NULL, kind TEXT NOT NULL, value TEXT NOT NULL,
        PRIMARY KEY (tenant, trace_id, seq)
      ) WITHOUT ROWID;
      -- id is the event tail's cursor. SQLite has one writer at a time, so ids
      -- grow in commit order and a reader never sees a later id before an
      -- earlier one; AUTOINCREMENT keeps ids of pruned events from being
      -- reused below a cursor someone holds.
      CREATE TABLE cluster_events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        tenant TEXT NOT NULL, trace_id TEXT NOT NULL, seq INTEGER NOT NULL,
        flow TEXT NOT NULL, ts INTEGER NOT NULL, kind TEXT NOT NULL,
        node_name TEXT, node_id TEXT, payload TEXT NOT NULL,
        UNIQUE (tenant, trace_id, seq)
      );
      CREATE TABLE cluster_idempotency_keys (
        tenant TEXT NOT NULL, flow TEXT NOT NULL, key TEXT NOT NULL, trace_id TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (tenant, flow, key)
      ) WITHOUT ROWID;
      CREATE INDEX cluster_idempotency_keys_created ON cluster_idempotency_keys (created_at);
      CREATE TABLE cluster_replicas (
        id TEXT PRIMARY KEY, hostname TEXT NOT NULL, pid INTEGER NOT NULL,
        started_at INTEGER NOT NULL, heartbeat_at INTEGER NOT NULL, draining INTEGER NOT NULL
      ) WITHOUT ROWID;
      -- Live (QUEUED or RUNNING) traces per tenant, kept by the transactions
      -- that start and end runs: the quota check is one row read.
      CREATE TABLE cluster_tenant_inflight (
        tenant TEXT PRIMARY KEY, n INTEGER NOT NULL
      ) WITHOUT ROWID;
    `,
  },
];


/**
 * Applies the pending {@link SQLITE_MIGRATIONS} to `db`, each in its own
 * immediate transaction recorded in `schema_migrations`. Safe when several
 * processes open one file at once: a migration another process applied
 * meanwhile is seen inside the transaction and skipped.
 */
export function migrateSqlite(db: Database.Database): void {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)');
  const applied = new Set((db.prepare('SELECT version FROM schema_migrations').all() as { version: number }[]).map((r) => r.version));
  for (const m of SQLITE_MIGRATIONS) {
    if (applied.has(m.version)) continue;
    db.transaction(() => {
      // Re-check inside the (immediate) transaction: another process may have applied it.
      if (db.prepare('SELECT 1 FROM schema_migrations WHERE version = ?').get(m.version) !== undefined) return;
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, Date.now());
    }).immediate();
  }
}
