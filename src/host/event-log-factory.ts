/**
 * The event log a configuration asks for: in memory, or backed by a durable store.
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

/** The log, and its durable side when a store backs it. */
export interface CreatedEventLog {
  eventLog: EventLog;
  durable: StoreEventLog | undefined;
}

/**
 * `memory`: the bounded {@link InMemoryEventLog} (history lost on restart).
 * Otherwise the store is opened and migrated, and a {@link StoreEventLog}
 * wraps it.
 *
 * @throws ConfigError naming `PENGUIFLOW_STORE` when the store cannot be opened.
 */
export async function createEventLog(config: EventLogSettings, logger: Logger): Promise<CreatedEventLog> {
  if (config.store.trim().toLowerCase() === 'memory') {
    return { eventLog: new InMemoryEventLog({ retentionMs: config.traceRetentionMs, maxReleasedTraces: config.maxRetainedTraces }), durable: undefined };
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
    logger: logger.child({ component: 'state-store' }),
    retentionMs: config.traceRetentionMs,
    maxReleasedTraces: config.maxRetainedTraces,
    historyRetentionMs: config.historyRetentionMs,
    idempotencyRetentionMs: config.traceRetentionMs,
  });
  logger.info({ store: store.kind, historyRetentionMs: config.historyRetentionMs }, 'state store opened');
  return { eventLog: durable, durable };
}
