/**
 * The server's log of one trace's updates, read by Fetch, Call, CallStream
 * and StreamTrace.
 *
 * Why it exists: the runtime hands each output to exactly one `fetch`, and
 * a client may subscribe (StreamTrace) only after its Emit returned. So the
 * server starts consuming a trace's outputs the moment it is admitted and
 * parks them here until a reader takes them: nothing is lost between Emit
 * and a later read, and each update still goes to exactly one reader.
 */
import type { FlowError, StreamChunk } from '../runtime/index.js';
import { waitInQueue, type QueuedWaiter } from '../internal/abortable-wait.js';
import { Deque } from '../internal/deque.js';

/** How a trace ended, as the server reports it. `UNAVAILABLE`: the flow stopped (server shutdown) first. */
export type TraceEndStatus = 'COMPLETED' | 'FAILED' | 'CANCELLED' | 'DEADLINE_EXCEEDED' | 'UNAVAILABLE';

/** One update of a trace, in the order the trace produced it at the flow's egress. */
export type TraceItem =
  | { readonly kind: 'chunk'; readonly chunk: StreamChunk }
  /** An output: usually a runtime `Message`, but node code may return any value. */
  | { readonly kind: 'output'; readonly value: unknown }
  | { readonly kind: 'error'; readonly error: FlowError };

/** The end of a trace: sticky, returned to every read once the updates are drained. */
export interface TraceOutcome {
  readonly kind: 'end';
  readonly status: TraceEndStatus;
  /** The trace's last FlowError; set only when `status` is FAILED (and the runtime knew it). */
  readonly error: FlowError | undefined;
}

/** What a read returns: the next update, or the end once there are no more. */
export type TraceDelivery = TraceItem | TraceOutcome;

/** Whatever carries the signal that aborts a wait (an RPC call); read only when a wait begins. */
export interface SignalSource {
  readonly signal: AbortSignal;
}

type Waiter = QueuedWaiter<TraceDelivery>;

/**
 * One trace's update log.
 *
 * - Bounded: the producer (the server's pump over `flow.fetch`) waits for
 *   {@link hasRoom} before taking the next output from the runtime, so a
 *   trace nobody reads exerts the runtime's normal backpressure instead of
 *   growing memory. `capacity <= 0` means unbounded.
 * - Exactly once: every update goes to one {@link take}; concurrent readers
 *   are served in call order.
 * - Never hangs: once ended, reads drain the remaining updates and then get
 *   the {@link TraceOutcome}, again and again, without waiting. A
 *   cancelled trace drops its unread updates (as the runtime drops its
 *   queued outputs) and answers CANCELLED at once.
 */
export class TraceRecord {
  /** Runtime trace key (tenant + trace id). */
  readonly key: string;
  readonly tenant: string;
  /** The client's trace id. */
  readonly traceId: string;
  readonly capacity: number;

  /** Bumped right before every `flow.emit` of this trace; see the pump's stale-end check. */
  emitGen = 0;
  /** Emits of this trace still waiting for admission. */
  pendingEmits = 0;
  /** True once an emit of the current run was admitted. */
  admitted = false;
  /** True while a pump is consuming the runtime's outputs into this record. */
  pumping = false;
  /** When the trace ended (epoch ms); undefined while it runs. */
  endedAt: number | undefined;

  /** True while this record holds a reference on the trace's events in the event log. */
  retainsEvents = false;
  /** W3C traceparent of the current run (from its first message's meta), stamped on its events. */
  traceparent: string | undefined = undefined;

  /** @internal The owning table's links: ended records in end order, and whether it is registered. */
  endedPrev: TraceRecord | null = null;
  /** @internal */
  endedNext: TraceRecord | null = null;
  /** @internal */
  inEndedList = false;
  /** @internal */
  registered = false;

  readonly #items = new Deque<TraceItem>();
  readonly #waiters = new Deque<Waiter>();
  #outcome: TraceOutcome | undefined;
  #previous: TraceOutcome | undefined;
  #room: (() => void) | undefined;
  #endListeners: (() => void)[] = [];

  constructor(key: string, tenant: string, traceId: string, capacity: number) {
    this.key = key;
    this.tenant = tenant;
    this.traceId = traceId;
    this.capacity = capacity;
  }

  /** True once the trace has ended (its outcome is known). */
  get ended(): boolean {
    return this.#outcome !== undefined;
  }

  /** The end of the trace; undefined while it runs. */
  get outcome(): TraceOutcome | undefined {
    return this.#outcome;
  }

  /** Updates waiting for a reader. */
  get buffered(): number {
    return this.#items.length;
  }

  /** Readers waiting for an update. */
  get waiting(): number {
    return this.#waiters.length;
  }

  /** True when the producer may add another update. */
  hasRoom(): boolean {
    return this.capacity <= 0 || this.#items.length < this.capacity;
  }

  /** Resolves once there is room, or once the trace ended (the producer then stops). */
  waitForRoom(): Promise<void> {
    if (this.hasRoom() || this.ended) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const previous = this.#room;
      this.#room = () => {
        previous?.();
        resolve();
      };
    });
  }

  /**
   * Adds an update: straight to the oldest waiting reader, else to the log.
   * An update arriving after a cancellation is dropped, like the runtime
   * drops a cancelled trace's outputs.
   */
  push(item: TraceItem): void {
    if (this.#outcome?.status === 'CANCELLED') return;
    const waiter = this.#waiters.shift();
    if (waiter !== undefined) waiter.resolve(item);
    else this.#items.push(item);
  }

  /**
   * Returns an update a reader took but could not deliver (its call ended
   * first) to the head of the log, so the next reader gets it and nothing
   * is lost. Handed straight to a waiting reader if there is one.
   */
  putBack(item: TraceItem): void {
    if (this.#outcome?.status === 'CANCELLED') return;
    const waiter = this.#waiters.shift();
    if (waiter !== undefined) waiter.resolve(item);
    else this.#items.unshift(item);
  }

  /**
   * Rejects every waiting reader with `reason`: the record is being
   * forgotten before its trace ever started (its only emit failed), so
   * there is nothing to wait for.
   */
  abandon(reason: Error): void {
    for (let w = this.#waiters.shift(); w !== undefined; w = this.#waiters.shift()) w.reject(reason);
  }

  /**
   * Records how the trace ended and wakes every reader. The first outcome
   * wins until {@link reopen}; later calls are ignored.
   */
  finish(outcome: TraceOutcome, now = Date.now()): void {
    if (this.#outcome !== undefined) return;
    this.#outcome = outcome;
    this.endedAt = now;
    if (outcome.status === 'CANCELLED') this.#items.clear();
    const listeners = this.#endListeners;
    this.#endListeners = [];
    for (const listener of listeners) listener();
    // Readers wait only while the log is empty, so all of them get the end.
    for (let w = this.#waiters.shift(); w !== undefined; w = this.#waiters.shift()) w.resolve(outcome);
    this.#wakeProducer();
  }

  /** Calls `listener` once, when the current run ends (at once when it already ended). */
  onceEnded(listener: () => void): void {
    if (this.#outcome !== undefined) listener();
    else this.#endListeners.push(listener);
  }

  /**
   * Clears the end because the trace id is being emitted again (the runtime
   * starts a new run of the trace). Unread updates of the previous run stay.
   *
   * The previous outcome is kept so that {@link restore} can bring it back
   * when no emit of the new run gets admitted.
   */
  reopen(): void {
    if (this.#outcome !== undefined) this.#previous = this.#outcome;
    this.#outcome = undefined;
    this.endedAt = undefined;
    this.admitted = false;
  }

  /**
   * Ends the record again with the outcome it had before {@link reopen}.
   *
   * @returns false when the record was never ended before (it is new, and
   *   the caller should forget it instead).
   */
  restore(now = Date.now()): boolean {
    const previous = this.#previous;
    if (previous === undefined) return false;
    this.#previous = undefined;
    this.finish(previous, now);
    return true;
  }

  /**
   * The next update, or the end when the log is drained and the trace is
   * over; waits otherwise. Readers are served in call order.
   *
   * @throws the signal's reason when `signal` aborts while waiting (the
   *   reader is removed; no update is lost).
   */
  take(from?: SignalSource): Promise<TraceDelivery> {
    const item = this.#items.shift();
    if (item !== undefined) {
      this.#wakeProducer();
      return Promise.resolve(item);
    }
    if (this.#outcome !== undefined) return Promise.resolve(this.#outcome);
    // Read only now: a take that finds an update never needs the signal.
    const signal = from?.signal;
    return waitInQueue<TraceDelivery>(
      signal,
      (w) => this.#waiters.push(w),
      (w) => this.#waiters.remove(w),
    );
  }

  #wakeProducer(): void {
    if (this.#room !== undefined && (this.hasRoom() || this.ended)) {
      const room = this.#room;
      this.#room = undefined;
      room();
    }
  }
}
