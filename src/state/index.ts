/**
 * Durable state: the server-facing store interface, its three
 * implementations (memory, SQLite, PostgreSQL), the write-behind buffer and
 * the `PENGUIFLOW_STORE` / retention parsing.
 */
export { MemoryStateStore } from './memory-store.js';
export { PostgresStateStore, type PostgresStoreOptions } from './postgres-store.js';
export { POSTGRES_MIGRATIONS, migratePostgres, type PostgresMigration } from './postgres-migrations.js';
export { SqliteStateStore, SQLITE_MIGRATIONS, type SqliteStoreOptions } from './sqlite-store.js';
export { openStore } from './open-store.js';
export { DEFAULT_STORE, parseDuration, parseStoreSpec, type StoreSpec } from './store-spec.js';
export type { EventRecord, IdempotencyRecord, PruneCutoffs, PruneResult, ServiceStateStore, StoreKind, TraceRecordRow, WriteBatch } from './types.js';
export { WriteBehind, type WriteBehindOptions } from './write-behind.js';
