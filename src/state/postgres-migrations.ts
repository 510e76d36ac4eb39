/**
 * The PostgreSQL schema shared by the service's stores
 * (`PostgresStateStore` and the cluster backbone's
 * `PostgresTraceStore`), as one versioned list: every store applies every
 * pending version, so whichever starts first brings the database up to date.
 *
 * Versions run inside one transaction holding an advisory lock and are
 * recorded in `penguiflow_schema_migrations`, so replicas starting together
 * apply each version once.
 */
import type pg from 'pg';
import { TRACE_SCHEMA_SQL } from './cluster/postgres-trace-schema.js';

/** One schema version. */
export interface PostgresMigration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

/** Schema versions, applied in order; never edit one that shipped, add the next. */
export const POSTGRES_MIGRATIONS: readonly PostgresMigration[] = [
  {
    version: 1,
    name: 'events, traces, idempotency keys, runtime events, remote bindings',
    sql: `
      CREATE TABLE penguiflow_events (
        tenant text NOT NULL, trace_id text NOT NULL, seq bigint NOT NULL,
        flow text NOT NULL, ts bigint NOT NULL, kind text NOT NULL,
        node_name text, node_id text, payload jsonb NOT NULL,
        PRIMARY KEY (tenant, trace_id, seq)
      );
      CREATE TABLE penguiflow_traces (
        tenant text NOT NULL, trace_id text NOT NULL, flow text NOT NULL, status text NOT NULL,
        created_at bigint NOT NULL, updated_at bigint NOT NULL, ended_at bigint,
        PRIMARY KEY (tenant, trace_id)
      );
      CREATE INDEX penguiflow_traces_updated ON penguiflow_traces (updated_at);
      CREATE TABLE penguiflow_idempotency_keys (
        tenant text NOT NULL, flow text NOT NULL, key text NOT NULL, trace_id text NOT NULL,
        created_at bigint NOT NULL,
        PRIMARY KEY (tenant, flow, key)
      );
      CREATE INDEX penguiflow_idempotency_keys_created ON penguiflow_idempotency_keys (created_at);
      CREATE TABLE penguiflow_runtime_events (
        ord bigserial PRIMARY KEY, id text NOT NULL UNIQUE, trace_id text,
        ts bigint NOT NULL, kind text NOT NULL, node_name text, node_id text, payload jsonb NOT NULL
      );
      CREATE INDEX penguiflow_runtime_events_trace ON penguiflow_runtime_events (trace_id, ord);
      CREATE TABLE penguiflow_remote_bindings (
        ord bigserial PRIMARY KEY, trace_id text NOT NULL, context_id text,
        task_id text NOT NULL, agent_url text NOT NULL
      );
    `,
  },
  {
    version: 2,
    name: 'cluster backbone: trace runs, inputs, unread updates, events with tail positions, idempotency keys, replicas; commit/take/cancel/claim/release/prune functions',
    sql: TRACE_SCHEMA_SQL,
  },
];

/** Arbitrary constant for `pg_advisory_xact_lock` around migrations. */
const MIGRATION_LOCK = 0x70656e67;

/**
 * Applies the pending versions of {@link POSTGRES_MIGRATIONS} on one
 * connection of `pool`, atomically. Safe to call from many processes at once.
 */
export async function migratePostgres(pool: pg.Pool): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await client.query(
      'CREATE TABLE IF NOT EXISTS penguiflow_schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())',
    );
    const { rows } = await client.query<{ version: number }>('SELECT version FROM penguiflow_schema_migrations');
    const applied = new Set(rows.map((r) => r.version));
    for (const m of POSTGRES_MIGRATIONS) {
      if (applied.has(m.version)) continue;
      await client.query(m.sql);
      await client.query('INSERT INTO penguiflow_schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}
