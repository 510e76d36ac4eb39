/**
 * The write-behind buffer between the server's hot path and a store.
 *
 * `pushEvent`/`pushTrace` are synchronous and cheap (an array push); a
 * flush writes everything pending as one batch (one transaction) every
 * `flushIntervalMs`, or at once when `maxBatch` items are pending. One
 * flush runs at a time, so batches land in enqueue order.
 *
 * Failure handling: a failed batch is kept and retried with backoff
 * (`healthy` turns false and `onError` is told); pending items keep
 * accumulating up to `capacity`, beyond which {@link hasRoom} is false so
 * the server stops admitting new traces (backpressure, surfaced to callers
 * as RESOURCE_EXHAUSTED). Running traces may still append up to
 * `hardCapacity`; past that, events are refused and counted in
 * {@link dropped}, with an error reported: never a silent drop.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { EventRecord, ServiceStateStore, StoredTrace, WriteBatch } from './types.js';

/** Options of {@link WriteBehind}. */
export interface WriteBehindOptions {
  store: ServiceStateStore;
  /** Longest an item waits before its batch is written; default 10 ms. */
  flushIntervalMs?: number;
  /** Pending items that trigger an immediate flush, and the most events per batch; default 2 000. */
  maxBatch?: number;
  /** Pending items at which {@link hasRoom} turns false; default 100 000. */
  capacity?: number;
  /** Pending items at which events are refused; default 2 × capacity. */
  hardCapacity?: number;
  /** Longest retry backoff after failed writes; default 5 000 ms. */
  maxBackoffMs?: number;
  /** Told about every failed write (and about refused events). */
  onError?: (err: unknown, info: { pending: number; attempt: number; dropped: number }) => void;
  /** Told when writes succeed again after failures. */
  onRecover?: () => void;
}

interface PendingTrace {
  row: StoredTrace;
  /** Events pending when the row was pushed: the row is written only with (or after) them. */
  afterEvents: number;
}

const SEP = '\u001f';

/** Write-behind buffer; see the module comment. */
export class WriteBehind {
  readonly #store: ServiceStateStore;
  readonly #interval: number;
  readonly #maxBatch: number;
  readonly #capacity: number;
  readonly #hard: number;
  readonly #maxBackoff: number;
  readonly #onError: WriteBehindOptions['onError'];
  readonly #onRecover: WriteBehindOptions['onRecover'];

  #events: EventRecord[] = [];
  #traces: PendingTrace[] = [];
  #inflight: WriteBatch | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #immediate = false;
  #running: Promise<void> | undefined;
  #failures = 0;
  #dropped = 0;
  #closed = false;
  #roomWaiters: (() => void)[] = [];
  #drainWaiters: { resolve(): void; reject(err: unknown): void }[] = [];
  #lastError: unknown;

  constructor(opts: WriteBehindOptions) {
    this.#store = opts.store;
    this.#interval = Math.max(0, opts.flushIntervalMs ?? 10);
    this.#maxBatch = Math.max(1, opts.maxBatch ?? 2000);
    this.#capacity = Math.max(1, opts.capacity ?? 100_000);
    this.#hard = Math.max(this.#capacity, opts.hardCapacity ?? this.#capacity * 2);
    this.#maxBackoff = opts.maxBackoffMs ?? 5000;
    this.#onError = opts.onError;
    this.#onRecover = opts.onRecover;
  }

  /** Items waiting to be written (including the batch being written). */
  get pending(): number {
    return this.#events.length + this.#traces.length + (this.#inflight === undefined ? 0 : this.#inflight.events.length + this.#inflight.traces.length);
  }

  /** False after a failed write, until a write succeeds. */
  get healthy(): boolean {
    return this.#failures === 0;
  }

  /** The last write error, while unhealthy. */
  get lastError(): unknown {
    return this.#failures === 0 ? undefined : this.#lastError;
  }

  /** Events refused because the buffer was past its hard capacity. */
  get dropped(): number {
    return this.#dropped;
  }

  /** True while new work may be admitted (pending below capacity). */
  hasRoom(): boolean {
    return this.pending < this.#capacity;
  }

  /** Resolves once {@link hasRoom}; rejects with the signal's reason if it aborts first. */
  waitForRoom(signal?: AbortSignal): Promise<void> {
    if (this.hasRoom()) return Promise.resolve();
    if (signal?.aborted) return Promise.reject(signal.reason as Error);
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        this.#roomWaiters = this.#roomWaiters.filter((w) => w !== wake);
        reject(signal!.reason as Error);
      };
      const wake = (): void => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      this.#roomWaiters.push(wake);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /**
   * Enqueues an event.
   *
   * @returns false when refused (past the hard capacity, or closed); the
   *   refusal is counted and reported through `onError`.
   */
  pushEvent(event: EventRecord): boolean {
    if (this.#closed || this.pending >= this.#hard) {
      this.#dropped++;
      this.#onError?.(new Error(this.#closed ? 'store writer closed; event not stored' : 'store write buffer full; event not stored'), {
        pending: this.pending,
        attempt: this.#failures,
        dropped: this.#dropped,
      });
      return false;
    }
    this.#events.push(event);
    this.#schedule();
    return true;
  }

  /** Enqueues a trace row; written with or after every event enqueued before it. */
  pushTrace(row: StoredTrace): void {
    if (this.#closed) return;
    this.#traces.push({ row, afterEvents: this.#events.length });
    this.#schedule();
  }

  /** Pending (unwritten) events of one trace, in seq order. */
  pendingEventsOf(tenant: string, traceId: string): EventRecord[] {
    const out: EventRecord[] = [];
    for (const e of this.#inflight?.events ?? []) if (e.traceId === traceId && e.tenant === tenant) out.push(e);
    for (const e of this.#events) if (e.traceId === traceId && e.tenant === tenant) out.push(e);
    return out.sort((a, b) => a.seq - b.seq);
  }

  /** Pending trace row of (tenant, trace id), latest first. */
  pendingTraceOf(tenant: string, traceId: string): StoredTrace | undefined {
    for (let i = this.#traces.length - 1; i >= 0; i--) {
      const r = this.#traces[i]!.row;
      if (r.traceId === traceId && r.tenant === tenant) return r;
    }
    const inflight = this.#inflight?.traces ?? [];
    for (let i = inflight.length - 1; i >= 0; i--) if (inflight[i]!.traceId === traceId && inflight[i]!.tenant === tenant) return inflight[i];
    return undefined;
  }

  /** Writes everything pending now; rejects if a write fails (the items stay pending and are retried). */
  flush(): Promise<void> {
    if (this.pending === 0) return Promise.resolve();
    const done = new Promise<void>((resolve, reject) => this.#drainWaiters.push({ resolve, reject }));
    this.#kick(true);
    return done;
  }

  /**
   * Stops accepting items and writes what is pending, giving up after
   * `timeoutMs` (what could not be written is reported through `onError`).
   */
  async close(timeoutMs = 5000): Promise<void> {
    this.#closed = true;
    const until = Date.now() + timeoutMs;
    while (this.pending > 0 && Date.now() < until) {
      try {
        await Promise.race([this.flush(), sleep(Math.max(1, until - Date.now()), undefined, { ref: false })]);
      } catch {
        await sleep(50, undefined, { ref: false });
      }
    }
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.pending > 0) {
      this.#onError?.(new Error(`store writer closed with ${this.pending} items unwritten`), { pending: this.pending, attempt: this.#failures, dropped: this.#dropped });
    }
  }

  #schedule(): void {
    if (this.#running !== undefined || this.#failures > 0) return;
    if (this.#events.length + this.#traces.length >= this.#maxBatch) {
      this.#kick(true);
      return;
    }
    if (this.#timer === undefined && !this.#immediate) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.#kick(false);
      }, this.#interval);
    }
  }

  #kick(now: boolean): void {
    if (this.#running !== undefined) return;
    if (now) {
      if (this.#timer !== undefined) clearTimeout(this.#timer);
      this.#timer = undefined;
      if (this.#immediate) return;
      this.#immediate = true;
      setImmediate(() => {
        this.#immediate = false;
        this.#kick(false);
      });
      return;
    }
    this.#running = this.#loop().finally(() => {
      this.#running = undefined;
      if (this.#events.length + this.#traces.length > 0) this.#schedule();
    });
  }

  #cut(): WriteBatch {
    const n = Math.min(this.#events.length, this.#maxBatch);
    const events = n === this.#events.length ? this.#events : this.#events.slice(0, n);
    this.#events = n === this.#events.length ? [] : this.#events.slice(n);
    const byKey = new Map<string, StoredTrace>();
    const rest: PendingTrace[] = [];
    for (const t of this.#traces) {
      if (t.afterEvents <= n) {
        const key = t.row.tenant + SEP + t.row.traceId;
        const prev = byKey.get(key);
        byKey.delete(key); // keep insertion order = last write
        byKey.set(key, prev === undefined ? t.row : { ...t.row, createdAt: Math.min(prev.createdAt, t.row.createdAt) });
      } else {
        rest.push({ row: t.row, afterEvents: t.afterEvents - n });
      }
    }
    this.#traces = rest;
    return { events, traces: [...byKey.values()] };
  }

  async #loop(): Promise<void> {
    for (;;) {
      if (this.#inflight === undefined) {
        if (this.#events.length === 0 && this.#traces.length === 0) break;
        this.#inflight = this.#cut();
      }
      try {
        await this.#store.write(this.#inflight);
        this.#inflight = undefined;
        if (this.#failures > 0) {
          this.#failures = 0;
          this.#onRecover?.();
        }
        this.#wakeRoom();
      } catch (err) {
        this.#failures++;
        this.#lastError = err;
        this.#onError?.(err, { pending: this.pending, attempt: this.#failures, dropped: this.#dropped });
        const waiters = this.#drainWaiters;
        this.#drainWaiters = [];
        for (const w of waiters) w.reject(err);
        const backoff = Math.min(this.#maxBackoff, 50 * 2 ** Math.min(this.#failures - 1, 16));
        await sleep(backoff, undefined, { ref: false });
        continue;
      }
      // Keep writing while a full batch is waiting; otherwise let the timer gather the next one.
      if (this.#events.length + this.#traces.length < this.#maxBatch && this.#drainWaiters.length === 0) break;
    }
    if (this.pending === 0) {
      const waiters = this.#drainWaiters;
      this.#drainWaiters = [];
      for (const w of waiters) w.resolve();
    }
  }

  #wakeRoom(): void {
    if (!this.hasRoom() || this.#roomWaiters.length === 0) return;
    const waiters = this.#roomWaiters;
    this.#roomWaiters = [];
    for (const w of waiters) w();
  }
}
