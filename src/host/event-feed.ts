/**
 * Live events for subscribers on this replica, from every replica: one
 * reader of the store's cluster-wide event tail, fanned out by tenant.
 *
 * The tail runs only while someone subscribes. It reads after each
 * "events committed" notice and at least every poll interval, so events
 * reach subscribers in commit order (per trace: seq order) wherever they
 * were produced, and only once they are stored (a subscriber never sees an
 * event that a crash then loses, nor a gap when it resumes elsewhere).
 */
import type { Logger } from 'pino';
import type { TraceStore } from '../state/cluster/trace-store.js';
import { loggedEventOf, type LoggedEvent } from './event-records.js';
import type { NoticeHub } from './notice-hub.js';

/** Receives each event as it is committed. Must not throw (a throw is caught and ignored). */
export type EventListener = (event: LoggedEvent) => void;

/** A registered subscription. */
export interface EventSubscription {
  /** Resolves once the subscription receives every event committed from now on. */
  readonly ready: Promise<void>;
  /** Stops delivery. */
  unsubscribe(): void;
}

/** Options of {@link EventFeed}. */
export interface EventFeedOptions {
  readonly store: TraceStore;
  readonly hub: NoticeHub;
  readonly logger: Logger;
  /** Longest wait between two reads of the tail when no notice arrives. */
  readonly pollMs: number;
  /** Events read per page. */
  readonly pageSize?: number;
}

/** The live event feed; see the module comment. */
export class EventFeed {
  readonly #opts: EventFeedOptions;
  readonly #byTenant = new Map<string, Set<EventListener>>();
  #count = 0;
  #cursor: string | undefined;
  #running: Promise<void> | undefined;
  #started: Promise<void> | undefined;
  #stop: AbortController | undefined;

  constructor(opts: EventFeedOptions) {
    this.#opts = opts;
  }

  /** Subscriptions open now. */
  get subscribers(): number {
    return this.#count;
  }

  /** Delivers every event of `tenant` committed from now on to `listener`, in commit order. */
  subscribe(tenant: string, listener: EventListener): EventSubscription {
    let set = this.#byTenant.get(tenant);
    if (set === undefined) {
      set = new Set();
      this.#byTenant.set(tenant, set);
    }
    set.add(listener);
    this.#count++;
    const ready = this.#ensureRunning();
    let active = true;
    return {
      ready,
      unsubscribe: () => {
        if (!active) return;
        active = false;
        this.#count--;
        const s = this.#byTenant.get(tenant);
        s?.delete(listener);
        if (s?.size === 0) this.#byTenant.delete(tenant);
        if (this.#count === 0) this.#halt();
      },
    };
  }

  /** Stops the tail (subscriptions stay registered but receive nothing more). */
  close(): void {
    this.#halt();
  }

  #ensureRunning(): Promise<void> {
    if (this.#running !== undefined && this.#started !== undefined) return this.#started;
    const stop = new AbortController();
    this.#stop = stop;
    this.#started = this.#opts.store.tailStart().then(
      (cursor) => {
        this.#cursor = cursor;
      },
      (err: unknown) => {
        this.#opts.logger.error({ err: describe(err) }, 'reading the event tail failed');
        throw err;
      },
    );
    this.#running = this.#loop(stop.signal);
    return this.#started;
  }

  #halt(): void {
    this.#stop?.abort();
    this.#stop = undefined;
    this.#running = undefined;
    this.#started = undefined;
  }

  async #loop(signal: AbortSignal): Promise<void> {
    const pageSize = this.#opts.pageSize ?? 1000;
    try {
      await this.#started;
    } catch {
      this.#halt();
      return;
    }
    let failures = 0;
    while (!signal.aborted) {
      let full = false;
      try {
        const page = await this.#opts.store.tailEvents(this.#cursor ?? '', pageSize);
        if (signal.aborted) return;
        this.#cursor = page.cursor;
        full = page.events.length >= pageSize;
        failures = 0;
        for (const row of page.events) {
          const listeners = this.#byTenant.get(row.tenant);
          if (listeners === undefined || listeners.size === 0) continue;
          const event = loggedEventOf(row);
          for (const l of listeners) {
            try {
              l(event);
            } catch {
              // A subscriber's failure must not stop the feed.
            }
          }
        }
      } catch (err) {
        failures++;
        if (failures === 1 || failures % 100 === 0) this.#opts.logger.error({ err: describe(err), failures }, 'reading the event tail failed; retrying');
      }
      if (full) continue;
      try {
        await this.#opts.hub.events(signal, failures > 0 ? Math.min(this.#opts.pollMs, 100 * failures) : this.#opts.pollMs);
      } catch {
        return;
      }
    }
  }
}

function describe(err: unknown): { type: string; message: string } {
  return err instanceof Error ? { type: err.name, message: err.message } : { type: typeof err, message: String(err) };
}
