/**
 * A condition to wait on: `wait()` resolves at the next `wake()`, or when a
 * timeout passes or a signal aborts (then it rejects with the signal's
 * reason). Used where a waiter must re-check some state after any change.
 */
export class WakeUp {
  #waiters: (() => void)[] = [];

  /** Waiters currently parked. */
  get waiting(): number {
    return this.#waiters.length;
  }

  /**
   * Resolves at the next {@link wake} (or after `timeoutMs`); rejects with
   * `signal.reason` when the signal aborts first (at once when already
   * aborted).
   */
  wait(signal?: AbortSignal, timeoutMs?: number): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason as Error);
    return new Promise<void>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const done = (): void => {
        if (timer !== undefined) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = (): void => {
        if (timer !== undefined) clearTimeout(timer);
        this.#waiters = this.#waiters.filter((w) => w !== done);
        reject(signal?.reason as Error);
      };
      if (timeoutMs !== undefined && Number.isFinite(timeoutMs)) {
        timer = setTimeout(() => {
          this.#waiters = this.#waiters.filter((w) => w !== done);
          done();
        }, Math.max(0, timeoutMs));
        timer.unref();
      }
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiters.push(done);
    });
  }

  /** Resolves every parked waiter. */
  wake(): void {
    if (this.#waiters.length === 0) return;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }
}
