/**
 * The one LISTEN connection of a {@link PostgresTraceStore}: a dedicated
 * `pg.Client` (never a pooled one: a pooled connection would be handed to
 * queries and lose its LISTEN on release), opened when the first listener
 * subscribes and closed with the store or when the last one leaves.
 *
 * A dropped connection (server restart, network cut, idle kill) reconnects
 * with exponential backoff and jitter, for as long as anyone listens.
 * Notices are only hints (every waiter also polls), so those sent while the
 * connection is down are simply lost; a reconnect is not reported.
 */
import pg from 'pg';
import type { StoreNotice } from './trace-store.js';

/** Options of {@link PostgresNoticeListener}. */
export interface NoticeListenerOptions {
  readonly connectionString: string;
  readonly channel: string;
  readonly connectTimeoutMs: number;
  /** First reconnect delay; doubles per failure up to `maxBackoffMs`. */
  readonly minBackoffMs?: number;
  readonly maxBackoffMs?: number;
  /** Shown in `pg_stat_activity`. */
  readonly applicationName?: string;
}

function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

/**
 * A notification payload as {@link StoreNotice} (see `penguiflow_trace_notify`),
 * or undefined when it is not one of ours.
 */
export function parseNoticePayload(payload: string | undefined): StoreNotice | undefined {
  if (payload === undefined) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(payload);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  const o = v as Record<string, unknown>;
  return {
    traces: strings(o['t']),
    runners: strings(o['r']),
    flows: strings(o['f']),
    tenants: strings(o['n']),
    events: o['e'] === true,
    sentAt: typeof o['s'] === 'number' ? o['s'] : Date.now(),
  };
}

/** LISTENs on one channel and hands each notice to the subscribers. */
export class PostgresNoticeListener {
  readonly #opts: NoticeListenerOptions;
  readonly #subscribers = new Set<(notice: StoreNotice) => void>();
  #client: pg.Client | undefined;
  #timer: NodeJS.Timeout | undefined;
  #failures = 0;
  #closed = false;
  /** Bumped on every (re)connection and stop, so a stale attempt knows it lost. */
  #generation = 0;

  constructor(opts: NoticeListenerOptions) {
    this.#opts = opts;
  }

  /** True while the LISTEN connection is up (tests, diagnostics). */
  get connected(): boolean {
    return this.#client !== undefined;
  }

  /** Adds a subscriber (connecting on the first); returns its unsubscribe function. */
  subscribe(fn: (notice: StoreNotice) => void): () => void {
    this.#subscribers.add(fn);
    if (this.#subscribers.size === 1 && !this.#closed) this.#connect();
    return () => {
      if (this.#subscribers.delete(fn) && this.#subscribers.size === 0) void this.#disconnect();
    };
  }

  /** Stops listening for good. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#subscribers.clear();
    await this.#disconnect();
  }

  #connect(): void {
    const generation = ++this.#generation;
    const client = new pg.Client({
      connectionString: this.#opts.connectionString,
      connectionTimeoutMillis: this.#opts.connectTimeoutMs,
      keepAlive: true,
      application_name: this.#opts.applicationName ?? 'penguiflow-listen',
    });
    const lost = (): void => {
      client.end().catch(() => undefined);
      if (generation !== this.#generation) return;
      this.#client = undefined;
      this.#scheduleReconnect();
    };
    // Errors (including the connection dying) never escape: they only trigger a reconnect.
    client.on('error', lost);
    client.on('end', lost);
    client.on('notification', (msg) => {
      if (msg.channel !== this.#opts.channel) return;
      const notice = parseNoticePayload(msg.payload);
      if (notice === undefined) return;
      for (const fn of this.#subscribers) {
        try {
          fn(notice);
        } catch {
          // A subscriber's failure must not affect the others or the connection.
        }
      }
    });
    client
      .connect()
      .then(() => client.query(`LISTEN ${pg.escapeIdentifier(this.#opts.channel)}`))
      .then(() => {
        if (generation !== this.#generation) {
          client.end().catch(() => undefined);
          return;
        }
        this.#client = client;
        this.#failures = 0;
      })
      .catch(lost);
  }

  #scheduleReconnect(): void {
    if (this.#closed || this.#subscribers.size === 0 || this.#timer !== undefined) return;
    const min = this.#opts.minBackoffMs ?? 100;
    const max = this.#opts.maxBackoffMs ?? 5000;
    const delay = Math.min(max, min * 2 ** this.#failures) * (0.5 + Math.random() / 2);
    this.#failures = Math.min(this.#failures + 1, 20);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (!this.#closed && this.#subscribers.size > 0) this.#connect();
    }, delay);
    this.#timer.unref();
  }

  async #disconnect(): Promise<void> {
    this.#generation++;
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    const client = this.#client;
    this.#client = undefined;
    this.#failures = 0;
    if (client !== undefined) await client.end().catch(() => undefined);
  }
}
