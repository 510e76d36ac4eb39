/**
 * Reading one trace's updates and end on behalf of a caller (Fetch, Call,
 * CallStream, StreamTrace), on whichever replica the caller reached.
 *
 * While this replica runs the trace, the reader is attached to the run and
 * receives updates as they are produced (see `LocalTrace`); otherwise — or
 * when the store may hold older unread updates — it takes them from the
 * store, and waits for the store's notices (with a poll backstop) when
 * there is nothing yet. Either way each update reaches exactly one reader.
 */
import type { GroupCommitter } from '../state/cluster/group-commit.js';
import type { StoredUpdate, TraceStore } from '../state/cluster/trace-store.js';
import { HostError } from './host-error.js';
import type { Consumer, LocalTrace } from './local-trace.js';
import type { NoticeHub } from './notice-hub.js';
import { itemOf, outcome, outcomeOfRow, type SignalSource, type TraceDelivery } from './trace-delivery.js';

/** What a reader needs from the host. */
export interface ReaderContext {
  readonly store: TraceStore;
  readonly committer: GroupCommitter;
  readonly hub: NoticeHub;
  /** The run of `key` this replica holds for `flow`, if any. */
  local(flow: string, key: string): LocalTrace | undefined;
  /** Longest wait for a notice before looking at the store again. */
  readonly pollMs: number;
  /** True once this replica stopped serving (readers then end UNAVAILABLE). */
  readonly stopped: boolean;
}

/** A delivered update, with the way to hand it back when it could not be sent. */
export interface Delivered {
  readonly delivery: TraceDelivery;
  /** Hands the update back, unread, for the next reader (no-op for an end). */
  giveBack(): void;
}

const NOTHING = (): void => undefined;

/** One caller's reader of one trace; see the module comment. Call {@link close} when done. */
export class TraceReader {
  readonly tenant: string;
  readonly traceId: string;
  readonly flow: string;
  readonly key: string;
  readonly #ctx: ReaderContext;
  #consumer: Consumer | undefined;
  #consumerOf: LocalTrace | undefined;

  constructor(ctx: ReaderContext, tenant: string, flow: string, traceId: string, key: string) {
    this.#ctx = ctx;
    this.tenant = tenant;
    this.traceId = traceId;
    this.flow = flow;
    this.key = key;
  }

  /**
   * Attaches to the run now when this replica holds it, so the reader is
   * handed the run's first update (a Call attaches right after its emit).
   */
  attach(): void {
    const local = this.#ctx.local(this.flow, this.key);
    if (local !== undefined && !local.moved) this.#attachTo(local);
  }

  /**
   * The next update, or the end once everything was taken (again and again).
   *
   * @throws HostError TRACE_NOT_FOUND when the trace is unknown to the tenant (or vanished);
   *   the signal's reason when the caller goes away while waiting.
   */
  async next(from: SignalSource): Promise<Delivered> {
    for (;;) {
      if (this.#ctx.stopped) return { delivery: outcome('UNAVAILABLE'), giveBack: NOTHING };
      const local = this.#ctx.local(this.flow, this.key);
      if (local !== undefined && !local.moved) {
        if (this.#consumerOf !== local) this.#attachTo(local);
        const consumer = this.#consumer!;
        const r = await consumer.next(from.signal);
        if (r.kind === 'item') {
          const update = r.update;
          return { delivery: r.item, giveBack: () => consumer.giveBack(update) };
        }
        if (r.kind === 'end') return { delivery: r, giveBack: NOTHING };
        if (r.kind === 'moved') {
          this.#detach();
          continue;
        }
        // 'store': older unread updates may wait there.
        const generation = local.unreadGeneration;
        const taken = await this.#takeFromStore();
        if (taken === undefined) {
          local.storeDrained(generation);
          continue;
        }
        if (taken.delivery.kind !== 'end') local.tookFromStore();
        return taken;
      }
      this.#detach();
      const taken = await this.#takeFromStore();
      if (taken !== undefined) return taken;
      await this.#ctx.hub.trace(this.key, from.signal, this.#ctx.pollMs);
    }
  }

  /** Detaches from the run (updates handed here but not taken go back, unread). */
  close(): void {
    this.#detach();
  }

  /** One take from the store: the update or end, or undefined when nothing is unread yet. */
  async #takeFromStore(): Promise<Delivered | undefined> {
    let r;
    try {
      r = await this.#ctx.store.take(this.tenant, this.traceId);
    } catch (err) {
      throw new HostError('STORE_UNAVAILABLE', 'the state store is unavailable; retry later', { cause: err });
    }
    switch (r.kind) {
      case 'missing':
        throw HostError.traceNotFound(this.traceId);
      case 'update': {
        if (r.row.flow !== this.flow) {
          this.#giveBackToStore(r.update);
          throw HostError.traceNotFound(this.traceId);
        }
        const update = r.update;
        return { delivery: itemOf(update), giveBack: () => this.#giveBackToStore(update) };
      }
      case 'end':
        if (r.row.flow !== this.flow) throw HostError.traceNotFound(this.traceId);
        return { delivery: outcomeOfRow(r.row), giveBack: NOTHING };
      case 'empty':
        if (r.row.flow !== this.flow) throw HostError.traceNotFound(this.traceId);
        return undefined;
    }
  }

  #giveBackToStore(update: StoredUpdate): void {
    this.#ctx.committer.putBack({ tenant: this.tenant, traceId: this.traceId, update });
    this.#ctx.local(this.flow, this.key)?.markUnread();
  }

  #attachTo(local: LocalTrace): void {
    this.#detach();
    this.#consumer = local.attach();
    this.#consumerOf = local;
  }

  #detach(): void {
    this.#consumer?.detach();
    this.#consumer = undefined;
    this.#consumerOf = undefined;
  }
}
