/**
 * The host's API for the edge: accept messages into traces, read their
 * updates, cancel them, read their history — on any replica, for any trace
 * of the caller's tenant (DESIGN §5).
 *
 * Accepting is durable: a message is accepted once the store committed it
 * (group commit), and only then does it run — here when this replica has
 * room, else queued for any replica to claim. Everything else reads and
 * writes the store, with this replica's runs as the fast path.
 */
import type { Logger } from 'pino';
import { TraceCancelled, type Message } from '../runtime/index.js';
import { StoreUnavailableError, type GroupCommitter } from '../state/cluster/group-commit.js';
import type { AcceptResult, TraceRow, TraceStore } from '../state/cluster/trace-store.js';
import { isTerminal } from '../state/cluster/trace-store.js';
import { traceKey } from '../state/cluster/trace-key.js';
import { loggedEventOf, type LoggedEvent } from './event-records.js';
import type { EventFeed, EventListener, EventSubscription } from './event-feed.js';
import type { FlowExecutor } from './flow-executor.js';
import { HostError } from './host-error.js';
import type { LocalTrace } from './local-trace.js';
import type { NoticeHub } from './notice-hub.js';
import { TraceReader, type ReaderContext } from './trace-reader.js';

/** Where an accept is waiting, for the caller's error when the wait ends (RESOURCE_EXHAUSTED). */
export type AdmissionStage = 'quota' | 'queue';

/** Options of {@link TraceService.accept}. */
export interface AcceptOptions {
  /** Deduplicates per (tenant, flow, key) within the idempotency retention. */
  readonly idempotencyKey?: string | undefined;
  /** W3C traceparent of the caller, stored with the run. */
  readonly traceparent?: string | undefined;
  /** Aborts the wait for the tenant's quota or the flow's queue; rejects with its reason. Read lazily. */
  readonly abortable?: { readonly signal: AbortSignal } | undefined;
  /** Told where the accept waits, each time that changes. */
  readonly onStage?: ((stage: AdmissionStage) => void) | undefined;
  /** Attach a reader before the run starts, so it is handed the first update (Call, CallStream). */
  readonly attach?: boolean;
}

/** An accepted (or deduplicated) message. */
export interface Accepted {
  /** The trace id: the message's, or the first request's for a duplicate key. */
  readonly traceId: string;
  readonly deduplicated: boolean;
  /** A reader of the trace (attached when asked); the caller closes it. */
  readonly reader: TraceReader;
}

/** What the service needs: the flows, the store and this replica. */
export interface TraceServiceOptions {
  readonly store: TraceStore;
  readonly committer: GroupCommitter;
  readonly hub: NoticeHub;
  readonly feed: EventFeed;
  readonly logger: Logger;
  /** This replica's id (runs it accepts are owned by it). */
  readonly replicaId: string;
  /** The executor of a hosted flow; throws HostError FLOW_NOT_FOUND. */
  executor(flow: string): FlowExecutor;
  /** Most non-terminal traces per tenant across the cluster; 0 = unlimited. */
  readonly tenantMaxInflight: number;
  /** Most queued (not yet running) traces per flow across the cluster; 0 = unlimited. */
  readonly maxQueued: number;
  /** Longest wait for a notice before looking at the store again. */
  readonly pollMs: number;
  /** Told when a run here saw a message out of order (the replica loads the missing ones). */
  readonly onMissedJoin?: (local: LocalTrace) => void;
}

/** The service; see the module comment. */
export class TraceService {
  readonly #opts: TraceServiceOptions;
  readonly #readerCtx: ReaderContext;
  #stopped = false;
  #accepting = true;

  constructor(opts: TraceServiceOptions) {
    this.#opts = opts;
    const isStopped = (): boolean => this.#stopped;
    this.#readerCtx = {
      store: opts.store,
      committer: opts.committer,
      hub: opts.hub,
      pollMs: opts.pollMs,
      local: (flow, key) => this.#local(flow, key),
      get stopped() {
        return isStopped();
      },
    };
  }

  /** True until {@link stopAccepting}. */
  get accepting(): boolean {
    return this.#accepting;
  }

  /** New messages are refused from now on (HostError DRAINING). */
  stopAccepting(): void {
    this.#accepting = false;
  }

  /** Readers still waiting end UNAVAILABLE; nothing new is served. */
  stop(): void {
    this.#stopped = true;
    this.#accepting = false;
  }

  /**
   * Accepts `message` (whose `traceId` is the client's) into trace
   * (tenant, message.traceId) of `flow`, durably, and starts running it —
   * here when there is room, else queued for any replica.
   *
   * A message for a live trace joins its run; for an ended one, starts its
   * next run. A repeated idempotency key answers the first trace id,
   * deduplicated, and stores nothing. While the tenant is at its quota, or
   * the flow's queue is full, the accept waits (until `abortable` aborts).
   *
   * @throws HostError FLOW_NOT_FOUND, TRACE_ID_IN_USE (a live trace of another flow),
   *   STORE_UNAVAILABLE, DRAINING; TraceCancelled while the trace's cancellation is
   *   pending; the abort reason.
   */
  async accept(tenant: string, flow: string, message: Message, opts: AcceptOptions = {}): Promise<Accepted> {
    const executor = this.#opts.executor(flow);
    const key = traceKey(tenant, message.traceId);
    let stage: AdmissionStage | undefined;
    for (;;) {
      if (!this.#accepting) throw new HostError('DRAINING', 'the server is shutting down; retry on another replica');
      const committer = this.#opts.committer;
      if (!committer.hasRoom()) await committer.waitForRoom(opts.abortable?.signal);
      const release = executor.reserve();
      let result: AcceptResult;
      try {
        result = await committer.accept({
          tenant,
          traceId: message.traceId,
          flow,
          message,
          deadline: message.deadline,
          traceparent: opts.traceparent,
          idempotencyKey: opts.idempotencyKey,
          runner: release === undefined ? undefined : this.#opts.replicaId,
          maxInflight: this.#opts.tenantMaxInflight,
          maxQueued: this.#opts.maxQueued,
        });
      } catch (err) {
        release?.();
        if (err instanceof StoreUnavailableError) throw new HostError('STORE_UNAVAILABLE', err.message, { cause: err });
        throw err;
      }
      switch (result.kind) {
        case 'accepted': {
          const reader = new TraceReader(this.#readerCtx, tenant, flow, message.traceId, key);
          const row = result.row;
          if (!result.joined && row.state === 'RUNNING' && row.owner === this.#opts.replicaId) {
            // Attach before the first message enters the runtime: the reader is handed the first update.
            const run = executor.run(
              {
                tenant,
                traceId: message.traceId,
                key,
                epoch: row.epoch,
                run: row.run,
                attempt: row.attempt,
                lastUpdateSeq: result.lastUpdateSeq,
                lastEventSeq: result.lastEventSeq,
                suppress: 0,
                olderUnread: row.run > 1,
                inputsSeen: 0,
                capacity: executor.flow.queueMaxsize,
                traceparent: row.traceparent,
              },
              [],
            );
            if (opts.attach === true) reader.attach();
            release?.();
            executor.join(run, message, 0);
          } else {
            release?.();
            if (result.joined) this.#joinHere(executor, key, row, result.input, message);
            if (opts.attach === true) reader.attach();
          }
          return { traceId: message.traceId, deduplicated: false, reader };
        }
        case 'duplicate': {
          release?.();
          const reader = new TraceReader(this.#readerCtx, tenant, flow, result.traceId, traceKey(tenant, result.traceId));
          if (opts.attach === true) reader.attach();
          return { traceId: result.traceId, deduplicated: true, reader };
        }
        case 'over_quota':
          release?.();
          if (stage !== 'quota') opts.onStage?.((stage = 'quota'));
          await this.#opts.hub.tenant(tenant, opts.abortable?.signal, Math.min(this.#opts.pollMs, 100));
          continue;
        case 'queue_full':
          release?.();
          if (stage !== 'queue') opts.onStage?.((stage = 'queue'));
          await this.#opts.hub.flow(flow, opts.abortable?.signal, Math.min(this.#opts.pollMs, 50));
          continue;
        case 'cancelling':
          release?.();
          throw new TraceCancelled(message.traceId);
        case 'other_flow':
          release?.();
          throw new HostError('TRACE_ID_IN_USE', `trace ${message.traceId} is running in another flow`);
      }
    }
  }

  /**
   * A reader of the caller's trace `traceId` in `flow`.
   *
   * @throws HostError FLOW_NOT_FOUND, TRACE_NOT_FOUND (unknown, forgotten, another
   *   tenant's or another flow's trace: one answer), STORE_UNAVAILABLE.
   */
  async open(tenant: string, flow: string, traceId: string): Promise<TraceReader> {
    this.#opts.executor(flow);
    const key = traceKey(tenant, traceId);
    if (this.#local(flow, key) === undefined) {
      const row = await this.#row(tenant, traceId);
      if (row === undefined || row.flow !== flow) throw HostError.traceNotFound(traceId);
    }
    return new TraceReader(this.#readerCtx, tenant, flow, traceId, key);
  }

  /**
   * Cancels the caller's trace, wherever it runs: at once when it runs
   * here or waits in the queue; through its runner otherwise (the call
   * waits until the runner ended it, or — if the runner died — until the
   * lease let another replica end it).
   *
   * @returns false when the trace already ended (or ended otherwise meanwhile).
   * @throws HostError FLOW_NOT_FOUND, TRACE_NOT_FOUND; the signal's reason.
   */
  async cancel(tenant: string, flow: string, traceId: string, signal?: AbortSignal): Promise<boolean> {
    const executor = this.#opts.executor(flow);
    const key = traceKey(tenant, traceId);
    const local = this.#local(flow, key);
    if (local !== undefined) return this.#cancelHere(executor, local, signal);
    let r;
    try {
      r = await this.#opts.store.requestCancel(tenant, traceId, this.#opts.replicaId);
    } catch (err) {
      throw new HostError('STORE_UNAVAILABLE', 'the state store is unavailable; retry later', { cause: err });
    }
    switch (r.kind) {
      case 'missing':
        throw HostError.traceNotFound(traceId);
      case 'ended':
        if (r.row.flow !== flow) throw HostError.traceNotFound(traceId);
        return false;
      case 'cancelled':
        if (r.row.flow !== flow) throw HostError.traceNotFound(traceId);
        this.#cancellationEvents(r.row, r.lastEventSeq);
        return true;
      case 'requested': {
        if (r.row.flow !== flow) throw HostError.traceNotFound(traceId);
        // It may have started here meanwhile.
        const now = this.#local(flow, key);
        if (now !== undefined) return this.#cancelHere(executor, now, signal);
        for (;;) {
          const row = await this.#row(tenant, traceId);
          if (row === undefined) return false;
          if (isTerminal(row.state)) return row.state === 'CANCELLED';
          await this.#opts.hub.trace(key, signal, this.#opts.pollMs);
        }
      }
    }
  }

  /**
   * The stored events of the caller's trace in `flow` with `seq > afterSeq`.
   *
   * @throws HostError FLOW_NOT_FOUND, TRACE_NOT_FOUND (no such trace of the
   *   tenant and no events of it in this flow), STORE_UNAVAILABLE.
   */
  async history(tenant: string, flow: string, traceId: string, afterSeq = 0): Promise<LoggedEvent[]> {
    this.#opts.executor(flow);
    let rows;
    try {
      rows = await this.#opts.store.eventsAfter(tenant, traceId, afterSeq);
    } catch (err) {
      throw new HostError('STORE_UNAVAILABLE', 'the state store is unavailable; retry later', { cause: err });
    }
    const events = rows.filter((e) => e.flow === flow).map(loggedEventOf);
    if (events.length === 0) {
      const row = await this.#row(tenant, traceId);
      if (row === undefined || row.flow !== flow) throw HostError.traceNotFound(traceId);
    }
    return events;
  }

  /** Stored events of the caller's trace with `seq > afterSeq` (any flow), for a subscription's replay. */
  async replay(tenant: string, traceId: string, afterSeq: number): Promise<LoggedEvent[]> {
    try {
      return (await this.#opts.store.eventsAfter(tenant, traceId, afterSeq)).map(loggedEventOf);
    } catch (err) {
      throw new HostError('STORE_UNAVAILABLE', 'the state store is unavailable; retry later', { cause: err });
    }
  }

  /** Live events of `tenant` from every replica, committed from now on. */
  subscribe(tenant: string, listener: EventListener): EventSubscription {
    return this.#opts.feed.subscribe(tenant, listener);
  }

  /** The caller's trace as stored, if any (diagnostics, ListTraces). */
  async status(tenant: string, traceId: string): Promise<TraceRow | undefined> {
    return this.#row(tenant, traceId);
  }

  async #cancelHere(executor: FlowExecutor, local: LocalTrace, signal: AbortSignal | undefined): Promise<boolean> {
    const cancelled = await executor.cancel(local);
    if (!cancelled) return false;
    // The run's end (CANCELLED) is stored by its pump; answer once it is.
    for (;;) {
      if (local.outcome !== undefined) return local.outcome.status === 'CANCELLED';
      if (local.moved) {
        const row = await this.#row(local.tenant, local.traceId);
        return row?.state === 'CANCELLED';
      }
      await this.#opts.hub.trace(local.key, signal, 20);
    }
  }

  /** The cancellation events of a trace cancelled before (or without) a runner: start and finish. */
  #cancellationEvents(row: TraceRow, lastEventSeq: number): void {
    const ts = Date.now();
    for (const [i, kind] of (['trace_cancel_start', 'trace_cancel_finish'] as const).entries()) {
      this.#opts.committer.event({
        tenant: row.tenant,
        traceId: row.traceId,
        epoch: row.epoch,
        seq: lastEventSeq + i + 1,
        flow: row.flow,
        ts,
        kind,
        nodeName: undefined,
        nodeId: undefined,
        payloadJson: '{"queueDepthIn":0,"queueDepthOut":0,"outgoingEdges":0,"queueMaxsize":0,"traceCancelled":true}',
      });
    }
  }

  #joinHere(executor: FlowExecutor, key: string, row: TraceRow, input: number, message: Message): void {
    if (row.owner !== this.#opts.replicaId) return;
    const local = executor.local(key);
    if (local === undefined || local.run !== row.run) return;
    // Out of order (an earlier join not seen yet): the replica's reconciliation loads the missing ones.
    if (!executor.join(local, message, input - 1)) this.#opts.onMissedJoin?.(local);
  }

  #local(flow: string, key: string): LocalTrace | undefined {
    let executor: FlowExecutor;
    try {
      executor = this.#opts.executor(flow);
    } catch {
      return undefined;
    }
    return executor.local(key);
  }

  async #row(tenant: string, traceId: string): Promise<TraceRow | undefined> {
    try {
      return await this.#opts.store.getTrace(tenant, traceId);
    } catch (err) {
      throw new HostError('STORE_UNAVAILABLE', 'the state store is unavailable; retry later', { cause: err });
    }
  }
}
