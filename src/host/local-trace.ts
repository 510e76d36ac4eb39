/**
 * A trace this replica runs now: its fencing epoch, its numbering of
 * updates and events, and the hand-off of its updates to readers on this
 * replica.
 *
 * Every update is stored (so any replica can read it), and each is taken
 * exactly once, with the store as the only arbiter. The fast path keeps
 * that cheap: an update produced while a reader here is attached
 * ({@link LocalTrace.attach}) and nothing older is unread is handed to that
 * reader and stored as already taken, in the same group commit; the reader
 * sends it once that commit succeeded. Otherwise the update is stored
 * unread and whoever reads next — here or on any replica — takes it from
 * the store. A reader that goes away with updates handed to it but not sent
 * puts them back, unread, for the next reader.
 */
import type { FlowEvent } from '../runtime/index.js';
import type { GroupCommitter } from '../state/cluster/group-commit.js';
import type { StoredUpdate } from '../state/cluster/trace-store.js';
import { WakeUp } from '../internal/wake-up.js';
import { storedValueOf, type TraceItem, type TraceOutcome } from './trace-delivery.js';

/** Where a trace's writes go, and how its events are stored. */
export interface LocalTraceContext {
  readonly committer: GroupCommitter;
  /** The hosted flow's name (events carry it). */
  readonly flow: string;
  /** Encodes an event's stored fields (everything but type, node, time). */
  eventPayloadJson(event: FlowEvent): string;
}

/** How a run starts on this replica. */
export interface LocalTraceInit {
  readonly tenant: string;
  readonly traceId: string;
  /** `traceKey(tenant, traceId)`: the runtime's trace id for it. */
  readonly key: string;
  readonly epoch: number;
  readonly run: number;
  /** 1 for the first execution of the run, more for a re-run after a takeover. */
  readonly attempt: number;
  readonly lastUpdateSeq: number;
  readonly lastEventSeq: number;
  /** Updates an earlier attempt of this run already stored: the re-run's first that many are dropped. */
  readonly suppress: number;
  /** True when the store may hold unread updates this replica did not produce (an earlier run or attempt). */
  readonly olderUnread: boolean;
  /** Messages of the run this replica has emitted into the runtime. */
  readonly inputsSeen: number;
  /** Updates a reader here may hold before the runner waits (the flow's queue size; <= 0: unbounded). */
  readonly capacity: number;
  readonly traceparent: string | undefined;
}

/** One update handed to a reader here, with the commit that made it its own. */
interface Handed {
  readonly item: TraceItem;
  readonly update: StoredUpdate;
  /** True once stored as taken; false when the store refused (this replica lost the trace). */
  readonly committed: Promise<boolean>;
}

/** What {@link Consumer.next} yields besides an update. */
export type ConsumerSignal =
  /** Read from the store: it may hold older unread updates (or the trace ended). */
  | { readonly kind: 'store' }
  /** This replica no longer runs the trace: read from the store from now on. */
  | { readonly kind: 'moved' };

/** A reader attached to a {@link LocalTrace}. */
export class Consumer {
  readonly #trace: LocalTrace;
  readonly #queue: Handed[] = [];
  readonly #wake = new WakeUp();
  #attached = true;

  constructor(trace: LocalTrace) {
    this.#trace = trace;
  }

  /** @internal Room for another hand-off. */
  get hasRoom(): boolean {
    const cap = this.#trace.capacity;
    return this.#attached && (cap <= 0 || this.#queue.length < cap);
  }

  /** @internal */
  hand(h: Handed): void {
    this.#queue.push(h);
    this.#wake.wake();
  }

  /** @internal Wakes a waiting {@link next}. */
  poke(): void {
    this.#wake.wake();
  }

  /**
   * The next update handed to this reader; or a signal to read from the
   * store instead; or the trace's end, once known here and nothing is left.
   *
   * @throws the signal's reason when it aborts while waiting.
   */
  async next(signal: AbortSignal | undefined): Promise<{ readonly kind: 'item'; readonly item: TraceItem; readonly update: StoredUpdate } | ConsumerSignal | TraceOutcome> {
    for (;;) {
      const head = this.#queue.shift();
      if (head !== undefined) {
        this.#trace.onConsumerRoom();
        if (await head.committed) return { kind: 'item', item: head.item, update: head.update };
        return { kind: 'moved' };
      }
      if (this.#trace.moved) return { kind: 'moved' };
      if (this.#trace.olderUnread) return { kind: 'store' };
      const end = this.#trace.outcome;
      if (end !== undefined) return end;
      await this.#wake.wait(signal);
    }
  }

  /** Gives back an update {@link next} returned but that could not be delivered. */
  giveBack(update: StoredUpdate): void {
    this.#trace.putBack(update);
  }

  /**
   * Detaches: updates handed here but not taken by {@link next} go back to
   * the store, unread, for the next reader.
   */
  detach(): void {
    if (!this.#attached) return;
    this.#attached = false;
    this.#trace.detach(this);
    for (const h of this.#queue.splice(0)) {
      // Put back only what the store recorded as taken; a refused hand-off was never stored.
      void h.committed.then((ok) => {
        if (ok) this.#trace.putBack(h.update);
      });
    }
  }
}

/** A run of a trace on this replica; see the module comment. */
export class LocalTrace {
  readonly tenant: string;
  readonly traceId: string;
  readonly key: string;
  readonly run: number;
  readonly attempt: number;
  readonly capacity: number;
  readonly traceparent: string | undefined;
  /** Messages of the run emitted into the runtime so far. */
  inputsSeen: number;
  /** True once a cancellation of this run began here. */
  cancelling = false;

  readonly #ctx: LocalTraceContext;
  #epoch: number;
  #updateSeq: number;
  #eventSeq: number;
  #suppress: number;
  #olderUnread: boolean;
  /** Bumped whenever the store may have gained an unread update of this trace. */
  #unreadGen = 0;
  /** Updates this runner stored unread (an upper bound of what is unread in the store). */
  #storedUnread = 0;
  #consumers: Consumer[] = [];
  #outcome: TraceOutcome | undefined;
  #moved = false;
  readonly #room = new WakeUp();

  constructor(init: LocalTraceInit, ctx: LocalTraceContext) {
    this.tenant = init.tenant;
    this.traceId = init.traceId;
    this.key = init.key;
    this.run = init.run;
    this.attempt = init.attempt;
    this.capacity = init.capacity;
    this.traceparent = init.traceparent;
    this.inputsSeen = init.inputsSeen;
    this.#ctx = ctx;
    this.#epoch = init.epoch;
    this.#updateSeq = init.lastUpdateSeq;
    this.#eventSeq = init.lastEventSeq;
    this.#suppress = init.suppress;
    this.#olderUnread = init.olderUnread;
  }

  /** The fencing epoch this replica runs the trace under. */
  get epoch(): number {
    return this.#epoch;
  }

  /** True when the store may hold unread updates that no reader here was handed. */
  get olderUnread(): boolean {
    return this.#olderUnread;
  }

  /** A token for {@link storeDrained}: read it before a store read. */
  get unreadGeneration(): number {
    return this.#unreadGen;
  }

  /** The run's end, once stored. */
  get outcome(): TraceOutcome | undefined {
    return this.#outcome;
  }

  /** True once this replica stopped running the trace (fenced, released, stopping). */
  get moved(): boolean {
    return this.#moved;
  }

  /** Attaches a reader that is handed this run's updates as they are produced. */
  attach(): Consumer {
    const c = new Consumer(this);
    this.#consumers.push(c);
    return c;
  }

  /**
   * Notes that a store read started at `generation` found nothing unread:
   * unless the store may have gained one since, readers here can rely on
   * hand-offs again.
   */
  storeDrained(generation: number): void {
    if (generation === this.#unreadGen) {
      this.#olderUnread = false;
      this.#storedUnread = 0;
      this.#room.wake();
    }
  }

  /** Notes that the store may hold unread updates of this trace (another replica put one back, or it was stored unread). */
  markUnread(): void {
    this.#unreadGen++;
    this.#olderUnread = true;
    for (const c of this.#consumers) c.poke();
  }

  /** Notes that a reader here took one of the trace's updates from the store. */
  tookFromStore(): void {
    if (this.#storedUnread > 0) this.#storedUnread--;
    this.#room.wake();
  }

  /**
   * True while this runner must not produce more updates: readers hold (or
   * the store keeps unread) as many as the capacity allows. The runner then
   * waits with {@link waitForRoom}.
   */
  get full(): boolean {
    if (this.capacity <= 0 || this.#moved) return false;
    if (this.#consumers.some((c) => c.hasRoom) && !this.#olderUnread) return false;
    return this.#storedUnread >= this.capacity;
  }

  /**
   * Resolves when a reader makes room (or after `pollMs`, for the runner to
   * ask the store how much is still unread: readers elsewhere take without
   * telling this replica).
   */
  waitForRoom(pollMs: number): Promise<void> {
    return this.#room.wait(undefined, pollMs);
  }

  /** Tells the runner the store holds `unread` updates now (readers elsewhere took some). */
  setStoredUnread(unread: number): void {
    this.#storedUnread = Math.min(this.#storedUnread, unread);
    if (unread === 0) this.#olderUnread = false;
    this.#room.wake();
  }

  /** @internal A consumer took a hand-off: the runner may produce again. */
  onConsumerRoom(): void {
    this.#room.wake();
  }

  /**
   * Stores an update of the run, handing it to a reader here when one is
   * attached with room and nothing older is unread. Returns false (and
   * stores nothing) for an update the re-run suppresses because an earlier
   * attempt stored it already.
   */
  offer(item: TraceItem): boolean {
    if (this.#suppress > 0) {
      this.#suppress--;
      return false;
    }
    const seq = ++this.#updateSeq;
    const { kind, value } = storedValueOf(item);
    const update: StoredUpdate = { seq, run: this.run, kind, value };
    const consumer = this.#olderUnread ? undefined : this.#consumers.find((c) => c.hasRoom);
    const write = { tenant: this.tenant, traceId: this.traceId, epoch: this.#epoch, seq, run: this.run, kind, value, consumed: consumer !== undefined };
    const committed = this.#ctx.committer.output(write);
    if (consumer !== undefined) {
      // Round robin between attached readers, as they were served in call order.
      this.#consumers = this.#consumers.filter((c) => c !== consumer);
      this.#consumers.push(consumer);
      consumer.hand({ item, update, committed });
    } else {
      this.#storedUnread++;
      this.#unreadGen++;
      this.#olderUnread = true;
      // Readers here read it from the store once it is there.
      void committed.then(() => {
        for (const c of this.#consumers) c.poke();
      });
    }
    return true;
  }

  /** Stores a runtime event of this run with the next seq. */
  event(event: FlowEvent): void {
    if (this.#moved) return;
    const seq = ++this.#eventSeq;
    this.#ctx.committer.event({
      tenant: this.tenant,
      traceId: this.traceId,
      epoch: this.#epoch,
      seq,
      flow: this.#ctx.flow,
      ts: event.ts,
      kind: event.eventType,
      nodeName: event.nodeName,
      nodeId: event.nodeId,
      payloadJson: this.#ctx.eventPayloadJson(event),
    });
  }

  /** The seq the next event will get (for events built outside the runtime). */
  nextEventSeq(): number {
    return this.#eventSeq + 1;
  }

  /** Hands a taken update back to the store, unread. */
  putBack(update: StoredUpdate): void {
    this.#ctx.committer.putBack({ tenant: this.tenant, traceId: this.traceId, update });
    this.markUnread();
  }

  /** @internal */
  detach(consumer: Consumer): void {
    this.#consumers = this.#consumers.filter((c) => c !== consumer);
  }

  /**
   * Stores the run's end (after every update already offered) and, once
   * stored, tells the readers here. @returns false when the store refused it.
   */
  async end(end: TraceOutcome, error: unknown): Promise<boolean> {
    if (this.#moved || this.#outcome !== undefined) return false;
    const state = end.status === 'UNAVAILABLE' ? undefined : end.status;
    if (state === undefined) return false;
    const ok = await this.#ctx.committer.end({ tenant: this.tenant, traceId: this.traceId, epoch: this.#epoch, state, error });
    if (!ok) {
      this.relinquish();
      return false;
    }
    this.#outcome = end;
    for (const c of this.#consumers) c.poke();
    this.#room.wake();
    return true;
  }

  /**
   * Stops serving this trace from here: readers switch to the store; the
   * runner's further writes are refused by the store anyway (the epoch moved on).
   */
  relinquish(): void {
    if (this.#moved) return;
    this.#moved = true;
    for (const c of this.#consumers) c.poke();
    this.#room.wake();
  }
}
