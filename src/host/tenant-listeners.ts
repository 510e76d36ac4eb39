import type { FlowEvent } from '../runtime/index.js';
import type { EventListener, LoggedEvent } from './event-log.js';

/**
 * Live `SubscribeEvents` listeners grouped by tenant, shared by every
 * {@link EventLog} implementation. Delivery is synchronous and a throwing
 * listener never stops the flow that produced the event.
 */
export class TenantListeners {
  readonly #byTenant = new Map<string, Set<EventListener>>();

  /** Adds a listener for `tenant`'s events; returns its removal. */
  subscribe(tenant: string, listener: EventListener): () => void {
    let set = this.#byTenant.get(tenant);
    if (set === undefined) {
      set = new Set();
      this.#byTenant.set(tenant, set);
    }
    set.add(listener);
    return () => {
      const current = this.#byTenant.get(tenant);
      if (current === undefined) return;
      current.delete(listener);
      if (current.size === 0) this.#byTenant.delete(tenant);
    };
  }

  /** Listeners of `tenant` (diagnostics and tests). */
  count(tenant: string): number {
    return this.#byTenant.get(tenant)?.size ?? 0;
  }

  /** Delivers one event to `tenant`'s listeners; builds nothing when there are none. */
  publish(flow: string, tenant: string, traceId: string, seq: number, event: FlowEvent): void {
    const listeners = this.#byTenant.get(tenant);
    if (listeners === undefined) return;
    const logged: LoggedEvent = { flow, tenant, traceId, seq, event };
    for (const listener of listeners) {
      try {
        listener(logged);
      } catch {
        // A listener is a subscriber's queue; its failure must not stop the flow.
      }
    }
  }
}
