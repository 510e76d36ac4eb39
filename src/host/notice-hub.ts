/**
 * Wake-ups from the store's notices, by trace, flow and tenant.
 *
 * A notice is only a hint (it can be lost: a dropped LISTEN connection, a
 * second process on one SQLite file), so every wait here also ends after a
 * poll interval, and the waiter looks at the store again: a lost notice
 * costs latency, never progress.
 */
import type { StoreNotice, TraceStore } from '../state/cluster/trace-store.js';
import { WakeUp } from '../internal/wake-up.js';

/** Per-key wake-ups fed by store notices. */
export class NoticeHub {
  readonly #traces = new Map<string, WakeUp>();
  readonly #flows = new Map<string, WakeUp>();
  readonly #tenants = new Map<string, WakeUp>();
  readonly #events = new WakeUp();
  readonly #listeners = new Set<(notice: StoreNotice) => void>();
  #unlisten: (() => void) | undefined;

  /** Starts listening to `store`'s notices. */
  listen(store: TraceStore): void {
    this.#unlisten ??= store.listen((notice) => this.#dispatch(notice));
  }

  /** Stops listening. */
  close(): void {
    this.#unlisten?.();
    this.#unlisten = undefined;
  }

  /** Registers a listener for every notice (after the waiters are woken); returns its unsubscribe function. */
  onNotice(listener: (notice: StoreNotice) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Resolves at the next notice about trace `key`, or after `pollMs`; rejects when `signal` aborts. */
  trace(key: string, signal: AbortSignal | undefined, pollMs: number): Promise<void> {
    return this.#wait(this.#traces, key, signal, pollMs);
  }

  /** Resolves at the next notice about flow `flow` (queued work), or after `pollMs`. */
  flow(flow: string, signal: AbortSignal | undefined, pollMs: number): Promise<void> {
    return this.#wait(this.#flows, flow, signal, pollMs);
  }

  /** Resolves at the next notice that `tenant` freed a slot, or after `pollMs`. */
  tenant(tenant: string, signal: AbortSignal | undefined, pollMs: number): Promise<void> {
    return this.#wait(this.#tenants, tenant, signal, pollMs);
  }

  /** Resolves at the next notice that events were committed, or after `pollMs`. */
  events(signal: AbortSignal | undefined, pollMs: number): Promise<void> {
    return this.#events.wait(signal, pollMs);
  }

  /** Wakes the waiters of flow `flow` now (room freed on this replica). */
  wakeFlow(flow: string): void {
    this.#flows.get(flow)?.wake();
  }

  /** Wakes the waiters of trace `key` now (a change made on this replica). */
  wakeTrace(key: string): void {
    this.#traces.get(key)?.wake();
  }

  async #wait(map: Map<string, WakeUp>, key: string, signal: AbortSignal | undefined, pollMs: number): Promise<void> {
    let w = map.get(key);
    if (w === undefined) {
      w = new WakeUp();
      map.set(key, w);
    }
    try {
      await w.wait(signal, pollMs);
    } finally {
      if (w.waiting === 0 && map.get(key) === w) map.delete(key);
    }
  }

  #dispatch(notice: StoreNotice): void {
    for (const key of notice.traces) this.#traces.get(key)?.wake();
    for (const key of notice.runners) this.#traces.get(key)?.wake();
    for (const flow of notice.flows) this.#flows.get(flow)?.wake();
    for (const tenant of notice.tenants) this.#tenants.get(tenant)?.wake();
    if (notice.events) this.#events.wake();
    for (const listener of this.#listeners) {
      try {
        listener(notice);
      } catch {
        // One listener's failure must not stop the others.
      }
    }
  }
}
