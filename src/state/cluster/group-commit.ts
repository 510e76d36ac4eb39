/**
 * Group commit: many callers' writes to a {@link TraceStore} go out as one
 * batch, one transaction, one round trip.
 *
 * No timer decides when to write. While no commit is in flight, the next
 * write starts one on the following microtask (so a synchronous burst
 * shares it); while one is in flight, writes collect and go out together as
 * soon as it returns. Under load batches grow by themselves, and an idle
 * server writes at once: the classic group commit of databases.
 *
 * Accepts are answered from their commit and never retried (a caller gets
 * {@link StoreUnavailableError} and answers UNAVAILABLE). A runner's writes
 * (updates, put-backs, events, ends) are idempotent, so a failed batch keeps
 * them, in order, and retries with backoff: they are never dropped while
 * the process lives, except events past the hard capacity, which are
 * counted and reported.
 */
import type { AcceptRequest, AcceptResult, CommitBatch, CommitResult, EndWrite, EventWrite, OutputWrite, PutBack, TraceStore } from './trace-store.js';
import { traceKey } from './trace-key.js';

/** The store could not commit an accept: nothing (or, for an ambiguous failure, possibly everything) of it was stored. */
export class StoreUnavailableError extends Error {
  override readonly name = 'StoreUnavailableError';
}

/** Options of {@link GroupCommitter}. */
export interface GroupCommitterOptions {
  readonly store: TraceStore;
  /** Most writes per batch; default 2 000. */
  readonly maxBatch?: number;
  /** Pending writes at which {@link GroupCommitter.hasRoom} turns false (new traces wait); default 100 000. */
  readonly capacity?: number;
  /** Pending writes at which events are refused (counted in `droppedEvents`); default 2 × capacity. */
  readonly hardCapacity?: number;
  /** Longest retry backoff after failed commits; default 5 000 ms. */
  readonly maxBackoffMs?: number;
  /** Told about every failed commit. */
  readonly onError?: (err: unknown, info: { readonly pending: number; readonly attempt: number }) => void;
  /** Told when commits succeed again after failures. */
  readonly onRecover?: () => void;
  /** Told the traces (by key) whose writes the store refused: this replica no longer runs them. */
  readonly onFenced?: (keys: ReadonlySet<string>) => void;
  /** Told each committed batch's size and duration (metrics). */
  readonly onCommit?: (info: { readonly writes: number; readonly ms: number }) => void;
}

interface Pending<T> {
  readonly write: T;
  readonly resolve: (stored: boolean) => void;
}

interface PendingAccept {
  readonly request: AcceptRequest;
  readonly resolve: (result: AcceptResult) => void;
  readonly reject: (err: unknown) => void;
}

/** Batches writes to a trace store; see the module comment. */
export class GroupCommitter {
  readonly #store: TraceStore;
  readonly #maxBatch: number;
  readonly #capacity: number;
  readonly #hard: number;
  readonly #maxBackoff: number;
  readonly #opts: GroupCommitterOptions;

  #accepts: PendingAccept[] = [];
  #outputs: Pending<OutputWrite>[] = [];
  #putBacks: PutBack[] = [];
  #events: EventWrite[] = [];
  #ends: Pending<EndWrite>[] = [];
  #scheduled = false;
  #running: Promise<void> | undefined;
  #failures = 0;
  #droppedEvents = 0;
  #closed = false;
  #roomWaiters: (() => void)[] = [];
  #idleWaiters: (() => void)[] = [];
  #lastError: unknown;

  constructor(opts: GroupCommitterOptions) {
    this.#opts = opts;
    this.#store = opts.store;
    this.#maxBatch = Math.max(1, opts.maxBatch ?? 2000);
    this.#capacity = Math.max(1, opts.capacity ?? 100_000);
    this.#hard = Math.max(this.#capacity, opts.hardCapacity ?? this.#capacity * 2);
    this.#maxBackoff = opts.maxBackoffMs ?? 5000;
  }

  /** Writes waiting for a commit. */
  get pending(): number {
    return this.#accepts.length + this.#outputs.length + this.#putBacks.length + this.#events.length + this.#ends.length;
  }

  /** False while commits fail. */
  get healthy(): boolean {
    return this.#failures === 0;
  }

  /** The last commit failure, while unhealthy. */
  get lastError(): unknown {
    return this.#lastError;
  }

  /** Events refused because the buffer was past its hard capacity. */
  get droppedEvents(): number {
    return this.#droppedEvents;
  }

  /** False while the buffer is over capacity: admit nothing new. */
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
        reject(signal?.reason as Error);
      };
      const wake = (): void => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#roomWaiters.push(wake);
    });
  }

  /**
   * Accepts a message; resolves with the store's decision once committed.
   *
   * @throws StoreUnavailableError when the commit failed (or the committer is closed).
   */
  accept(request: AcceptRequest): Promise<AcceptResult> {
    if (this.#closed) return Promise.reject(new StoreUnavailableError('the state store is closed'));
    return new Promise<AcceptResult>((resolve, reject) => {
      this.#accepts.push({ request, resolve, reject });
      this.#schedule();
    });
  }

  /** Stores an update; resolves true once committed, false when the store refused it (fenced). */
  output(write: OutputWrite): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      this.#outputs.push({ write, resolve });
      this.#schedule();
    });
  }

  /** Stores the end of a run; resolves true once committed, false when fenced. */
  end(write: EndWrite): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      this.#ends.push({ write, resolve });
      this.#schedule();
    });
  }

  /** Hands a taken update back (committed with the next batch). */
  putBack(write: PutBack): void {
    this.#putBacks.push(write);
    this.#schedule();
  }

  /** Stores an event with the next batch (nobody waits for it). */
  event(write: EventWrite): void {
    if (this.pending >= this.#hard) {
      this.#droppedEvents++;
      return;
    }
    this.#events.push(write);
    this.#schedule();
  }

  /** Resolves once everything written so far is committed (or, when `timeoutMs` passes first, at that time). */
  flush(timeoutMs = Number.POSITIVE_INFINITY): Promise<void> {
    if (this.pending === 0 && this.#running === undefined) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = Number.isFinite(timeoutMs) ? setTimeout(resolve, timeoutMs) : undefined;
      timer?.unref();
      this.#idleWaiters.push(() => {
        if (timer !== undefined) clearTimeout(timer);
        resolve();
      });
    });
  }

  /**
   * Writes what is pending (for at most `timeoutMs`), then refuses new
   * accepts. Runner writes still pending at the timeout are abandoned (their
   * traces are re-run from their accepted messages by whoever claims them).
   */
  async close(timeoutMs = 5000): Promise<void> {
    await this.flush(timeoutMs);
    this.#closed = true;
    for (const a of this.#accepts.splice(0)) a.reject(new StoreUnavailableError('the state store is closed'));
    for (const o of this.#outputs.splice(0)) o.resolve(false);
    for (const e of this.#ends.splice(0)) e.resolve(false);
    this.#putBacks = [];
    this.#events = [];
  }

  #schedule(): void {
    if (this.#scheduled || this.#running !== undefined || this.#closed) return;
    this.#scheduled = true;
    queueMicrotask(() => {
      this.#scheduled = false;
      if (this.#running === undefined) this.#running = this.#loop();
    });
  }

  async #loop(): Promise<void> {
    try {
      while (this.pending > 0 && !this.#closed) {
        const ok = await this.#commitOnce();
        if (!ok) await this.#backoff();
      }
    } finally {
      this.#running = undefined;
      this.#wakeRoom();
      if (this.pending === 0) {
        const idle = this.#idleWaiters;
        this.#idleWaiters = [];
        for (const w of idle) w();
      } else if (!this.#closed) {
        this.#schedule();
      }
    }
  }

  /** Commits one batch; false when it failed (runner writes were put back in front). */
  async #commitOnce(): Promise<boolean> {
    let budget = this.#maxBatch;
    const take = <T>(list: T[]): T[] => {
      const n = Math.min(budget, list.length);
      budget -= n;
      return list.splice(0, n);
    };
    // Ends after the outputs and events they follow: a trace's end is never
    // committed before updates written earlier (the store applies ends last).
    const accepts = take(this.#accepts);
    const outputs = take(this.#outputs);
    const putBacks = take(this.#putBacks);
    const events = take(this.#events);
    const ends = this.#outputs.length > 0 || this.#events.length > 0 ? [] : take(this.#ends);
    const batch: CommitBatch = {
      accepts: accepts.map((a) => a.request),
      outputs: outputs.map((o) => o.write),
      putBacks,
      events,
      ends: ends.map((e) => e.write),
    };
    const started = performance.now();
    let result: CommitResult;
    try {
      result = await this.#store.commit(batch);
    } catch (err) {
      this.#failures++;
      this.#lastError = err;
      for (const a of accepts) a.reject(new StoreUnavailableError('the state store is unavailable; retry later', { cause: err }));
      // Runner writes go back in front, in their order.
      this.#outputs = outputs.concat(this.#outputs);
      this.#putBacks = putBacks.concat(this.#putBacks);
      this.#events = events.concat(this.#events);
      this.#ends = ends.concat(this.#ends);
      this.#opts.onError?.(err, { pending: this.pending, attempt: this.#failures });
      return false;
    }
    if (this.#failures > 0) {
      this.#failures = 0;
      this.#lastError = undefined;
      this.#opts.onRecover?.();
    }
    this.#opts.onCommit?.({ writes: accepts.length + outputs.length + putBacks.length + events.length + ends.length, ms: performance.now() - started });
    accepts.forEach((a, i) => a.resolve(result.accepts[i] ?? { kind: 'over_quota' }));
    const fenced = result.fenced;
    for (const o of outputs) o.resolve(!fenced.has(traceKey(o.write.tenant, o.write.traceId)));
    for (const e of ends) e.resolve(!fenced.has(traceKey(e.write.tenant, e.write.traceId)));
    if (fenced.size > 0) this.#opts.onFenced?.(fenced);
    this.#wakeRoom();
    return true;
  }

  #backoff(): Promise<void> {
    const ms = Math.min(this.#maxBackoff, 50 * 2 ** Math.min(this.#failures - 1, 10));
    return new Promise((resolve) => setTimeout(resolve, ms).unref());
  }

  #wakeRoom(): void {
    if (!this.hasRoom() || this.#roomWaiters.length === 0) return;
    const waiters = this.#roomWaiters;
    this.#roomWaiters = [];
    for (const w of waiters) w();
  }
}
