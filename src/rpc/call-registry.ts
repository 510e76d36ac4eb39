/**
 * The calls in progress, so that shutdown can end them deliberately.
 */

/** A call in progress, as the registry sees it. */
export interface ActiveCall {
  /** Method name, e.g. `SubscribeEvents`. */
  readonly method: string;
  /** True for streams that never end on their own (SubscribeEvents): they are ended as soon as draining starts. */
  readonly endOnDrain: boolean;
  /** Ends the call's work; `reason` becomes its status. */
  abort(reason: Error): void;
}

/**
 * Tracks active calls and the server's draining state.
 *
 * Draining is a one-way switch: once set, new calls are refused with
 * UNAVAILABLE by the drain interceptor, open-ended streams are ended at
 * once, and the rest get until the drain timeout.
 */
export class CallRegistry {
  readonly #active = new Set<ActiveCall>();
  #draining = false;
  /** Resolvers of {@link whenIdle} promises, settled when the last call leaves. */
  #idleWaiters: (() => void)[] = [];

  /** True once shutdown began. */
  get draining(): boolean {
    return this.#draining;
  }

  /** Calls in progress. */
  get size(): number {
    return this.#active.size;
  }

  /** Registers a call until {@link delete}. */
  add(call: ActiveCall): void {
    this.#active.add(call);
  }

  /** Unregisters a call (no-op when it is not registered). */
  delete(call: ActiveCall): void {
    this.#active.delete(call);
    if (this.#idleWaiters.length > 0 && this.#active.size === 0) {
      const waiters = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const wake of waiters) wake();
    }
  }

  /** Resolves once no call is in progress: at once when none is, else when the last one is unregistered. */
  whenIdle(): Promise<void> {
    if (this.#active.size === 0) return Promise.resolve();
    return new Promise<void>((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Starts draining and aborts every `endOnDrain` call with `reason`. */
  startDraining(reason: () => Error): void {
    this.#draining = true;
    for (const call of [...this.#active]) if (call.endOnDrain) call.abort(reason());
  }

  /** Aborts every call still in progress with `reason`. */
  abortAll(reason: () => Error): void {
    for (const call of [...this.#active]) call.abort(reason());
  }
}
