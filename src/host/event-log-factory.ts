/**
 * The event log a configuration asks for: always a {@link StoreEventLog},
 * over the store `PENGUIFLOW_STORE` names (memory, SQLite or PostgreSQL).
 */
import type { Logger } from 'pino';
import { openStore } from '../state/index.js';
import { ConfigError } from './config-error.js';
import type { EventLog } from './event-log.js';
import { InMemoryEventLog } from './in-memory-event-log.js';
import { StoreEventLog } from './store-event-log.js';

/** The settings {@link createEventLog} reads (a subset of the server's configuration). */
export interface EventLogSettings {
  /** `memory`, `sqlite:<path>` or a `postgres://` URL (`PENGUIFLOW_STORE`). */
  readonly store: string;
  readonly traceRetentionMs: number;
  readonly maxRetainedTraces: number;
  readonly historyRetentionMs: number;
}

/** The log, and its durable side (the same object: every log is store-backed). */
export interface CreatedEventLog {
  eventLog: EventLog;
  durable: StoreEventLog;
}

/**
 * A {@link StoreEventLog} over the configured store. `memory`: an
 * {@link InMemoryEventLog} (a `MemoryStateStore` bounded by
 * `maxRetainedTraces` idle traces; history lost on restart). Otherwise the
 * store is opened and migrated first.
 *
 * @throws ConfigError naming `PENGUIFLOW_STORE` when the store cannot be opened.
 */
export async function createEventLog(config: EventLogSettings, logger: Logger): Promise<CreatedEventLog> {
  const storeLogger = logger.child({ component: 'state-store' });
  if (config.store.trim().toLowerCase() === 'memory') {
    const memory = new InMemoryEventLog({
      retentionMs: config.traceRetentionMs,
      maxReleasedTraces: config.maxRetainedTraces,
      historyRetentionMs: config.historyRetentionMs,
      logger: storeLogger,
    });
    return { eventLog: memory, durable: memory };
  }
  const store = openStore(config.store);
  try {
    await store.init();
  } catch (err) {
    await store.close().catch(() => undefined);
    const why = err instanceof Error ? err.message.split('\n')[0] : String(err);
    // Never echo a postgres URL: it may hold a password.
    const shown = store.kind === 'postgres' ? 'postgres://…' : config.store;
    throw new ConfigError('PENGUIFLOW_STORE', `invalid configuration: PENGUIFLOW_STORE=${JSON.stringify(shown)}: cannot open the ${store.kind} store (${why})`);
  }
  const durable = new StoreEventLog({
    store,
    logger: storeLogger,
    retentionMs: config.traceRetentionMs,
    maxReleasedTraces: config.maxRetainedTraces,
    historyRetentionMs: config.historyRetentionMs,
    idempotencyRetentionMs: config.traceRetentionMs,
  });
  logger.info({ store: store.kind, historyRetentionMs: config.historyRetentionMs }, 'state store opened');
  return { eventLog: durable, durable };
}
