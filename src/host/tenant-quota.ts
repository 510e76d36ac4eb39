/**
 * Per-tenant cap on in-flight traces, with fair admission.
 *
 * Fairness design: every trace a tenant starts holds one of its
 * `maxInflight` slots from before it enters the flow's ingress queue until
 * the trace ends. A tenant's calls beyond its cap wait in that tenant's own
 * FIFO (not in the shared ingress queue), so a flooding tenant can occupy
 * at most `maxInflight` of the shared slots and ingress waiters; its surplus
 * never stands in front of another tenant's calls. Waiting is bounded by
 * the admission wait (see `admit`), after which the call gets
 * RESOURCE_EXHAUSTED with RetryInfo and QuotaFailure `tenant:<name>`.
 */
import { waitInQueue, type QueuedWaiter } from '../internal/abortable-wait.js';
import { Deque } from '../internal/deque.js';

/** One held slot; {@link release} is idempotent. */
export interface QuotaLease {
  release(): void;
}

type Waiter = QueuedWaiter<QuotaLease>;

interface TenantState {
  inflight: number;
  readonly waiters: Deque<Waiter>;
}

const FREE: QuotaLease = { release: () => undefined };

/** In-flight trace slots per tenant. */
export class TenantQuota {
  /** Slots per tenant; 0 = unlimited. */
  readonly maxInflight: number;
  readonly #tenants = new Map<string, TenantState>();

  constructor(maxInflight: number) {
    this.maxInflight = maxInflight;
  }

  /** Slots `tenant` holds now. */
  inflight(tenant: string): number {
    return this.#tenants.get(tenant)?.inflight ?? 0;
  }

  /** Tenants with a held slot or a waiter (for leak checks). */
  get size(): number {
    return this.#tenants.size;
  }

  /**
   * A slot for `tenant`: at once when it has one free, else after the
   * tenant's earlier waiters, in order.
   *
   * @throws the signal's reason when it aborts first (no slot is held).
   */
  acquire(tenant: string, from: { readonly signal: AbortSignal }): Promise<QuotaLease> {
    if (this.maxInflight <= 0) return Promise.resolve(FREE);
    let state = this.#tenants.get(tenant);
    if (state === undefined) {
      state = { inflight: 0, waiters: new Deque<Waiter>() };
      this.#tenants.set(tenant, state);
    }
    if (state.inflight < this.maxInflight && state.waiters.length === 0) {
      state.inflight++;
      return Promise.resolve(this.#lease(tenant, state));
    }
    const st = state;
    // Read only when waiting: a lazily created signal stays uncreated for
    // the (usual) acquisitions that find a free slot.
    return waitInQueue<QuotaLease>(
      from.signal,
      (w) => st.waiters.push(w),
      (w) => st.waiters.remove(w),
      () => this.#forgetIfIdle(tenant, st),
    );
  }

  #lease(tenant: string, state: TenantState): QuotaLease {
    let held = true;
    return {
      release: () => {
        if (!held) return;
        held = false;
        const next = state.waiters.shift();
        if (next !== undefined) {
          // The slot passes straight to the tenant's next waiter.
          next.resolve(this.#lease(tenant, state));
          return;
        }
        state.inflight--;
        this.#forgetIfIdle(tenant, state);
      },
    };
  }

  #forgetIfIdle(tenant: string, state: TenantState): void {
    if (state.inflight === 0 && state.waiters.length === 0 && this.#tenants.get(tenant) === state) this.#tenants.delete(tenant);
  }
}
