/**
 * The event log of `PENGUIFLOW_STORE=memory`, by name: the same
 * {@link StoreEventLog} as SQLite and PostgreSQL, over a
 * {@link MemoryStateStore}. There is no separate in-memory log; this class
 * only picks the store and its bounds.
 */
import { pino, type Logger } from 'pino';
import { MemoryStateStore } from '../state/index.js';
import { StoreEventLog } from './store-event-log.js';

/** Default of {@link InMemoryEventLogOptions.historyRetentionMs}: 7 days, as `PENGUIFLOW_HISTORY_RETENTION`. */
export const DEFAULT_HISTORY_RETENTION_MS = 7 * 24 * 3_600_000;

/** Options of {@link InMemoryEventLog}. */
export interface InMemoryEventLogOptions {
  /** How long a released trace's numbering (and an idempotency key) is remembered (`PENGUIFLOW_TRACE_RETENTION_MS`). */
  retentionMs: number;
  /**
   * Most released traces remembered: their numbering, and their events in
   * the store (the trace released longest ago is forgotten first;
   * `PENGUIFLOW_MAX_RETAINED_TRACES`). Running traces are always kept.
   */
  maxReleasedTraces: number;
  /** Most events kept per trace; older ones are dropped first. Default 10 000. */
  maxEventsPerTrace?: number;
  /** Events and traces last updated longer ago are pruned; 0 keeps them (within the count bounds). Default 7 days. */
  historyRetentionMs?: number;
  /** Where store errors are logged (a memory store only fails once closed); default silent. */
  logger?: Logger;
}

/**
 * {@link StoreEventLog} over a fresh {@link MemoryStateStore}: history is
 * kept in process memory, bounded by count and retention, and lost with
 * the process. Call `start()` to run the retention job and `close()` to
 * stop it, as for any store-backed log.
 */
export class InMemoryEventLog extends StoreEventLog {
  constructor(opts: InMemoryEventLogOptions) {
    super({
      store: new MemoryStateStore({ maxIdleTraces: opts.maxReleasedTraces, maxEventsPerTrace: opts.maxEventsPerTrace }),
      logger: opts.logger ?? pino({ level: 'silent' }),
      retentionMs: opts.retentionMs,
      maxReleasedTraces: opts.maxReleasedTraces,
      historyRetentionMs: opts.historyRetentionMs ?? DEFAULT_HISTORY_RETENTION_MS,
      idempotencyRetentionMs: opts.retentionMs,
    });
  }
}
