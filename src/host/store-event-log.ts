/**
 * {@link EventLog} backed by a durable {@link ServiceStateStore}, plus the
 * trace ownership and idempotency-key persistence the hosted flows use
 * ({@link DurableTraces}).
 *
 * Hot path: `append` numbers the event from an in-memory per-trace counter,
 * fans it out to live listeners synchronously (exactly as the in-memory
 * log) and enqueues it on a {@link WriteBehind} buffer; nothing awaits the
 * store. Reads (`history`) merge the store with the events still in the
 * buffer, so a reader never sees a gap between "written" and "live".
 */
import type { Logger } from 'pino';
import { FlowEvent, type FlowEventType } from '../runtime/index.js';
import { FlowEventRecord, WriteBehind, type EventRecord, type ServiceStateStore, type WriteBehindOptions } from '../state/index.js';
import type { EventListener, EventLog, LoggedEvent } from './event-log.js';
import { HostError } from './host-error.js';
import { SeqCounters } from './seq-counters.js';
import { TenantListeners } from './tenant-listeners.js';
import { traceKey } from './trace-key.js';

/**
 * What a hosted flow persists besides events: trace ownership, idempotency
 * keys, and the store's backpressure.
 */
export interface DurableTraces {
  /**
   * Makes sure the next events of (tenant, trace id) are numbered after the
   * stored ones (a trace id re-emitted after a restart continues its seq).
   * Returns undefined when nothing needs to be awaited (the common case).
   */
  prepareTrace(tenant: string, traceId: string): Promise<void> | undefined;
  /** Records that the tenant's trace runs in `flow` (ownership, status RUNNING). */
  traceStarted(tenant: string, flow: string, traceId: string): void;
  /** Records the trace's end status. */
  traceEnded(tenant: string, flow: string, traceId: string, status: string): void;
  /** The trace id of an unexpired idempotency key, if stored. */
  findKey(tenant: string, flow: string, key: string): Promise<string | undefined>;
  /** Stores an idempotency key (durably, before the Emit answers). @returns the trace id holding it. */
  saveKey(tenant: string, flow: string, key: string, traceId: string): Promise<string>;
  /** False while the write buffer is over capacity: admit nothing new. */
  hasRoom(): boolean;
  /** Resolves once there is room. */
  waitForRoom(signal?: AbortSignal): Promise<void>;
}

/** Options of {@link StoreEventLog}. */
export interface StoreEventLogOptions {
  /** An opened store (`init()` done). */
  store: ServiceStateStore;
  logger: Logger;
  /** How long a released trace's seq counter stays in memory (the trace retention). */
  retentionMs: number;
  /** Most released traces whose counters stay in memory. */
  maxReleasedTraces: number;
  /** Events and trace rows older than this are pruned; 0 keeps them forever. */
  historyRetentionMs: number;
  /** Idempotency keys older than this no longer deduplicate (and are pruned). */
  idempotencyRetentionMs: number;
  /** Pruning period; default min(1 h, retention / 10), at least 1 s. */
  pruneEveryMs?: number;
  /** Write-behind tuning. */
  writer?: Omit<WriteBehindOptions, 'store' | 'onError' | 'onRecover'>;
}

function num(v: unknown, fallback = 0): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : fallback;
}

function optNum(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

/** Rebuilds the logged event of a stored record (a store that keeps records as written gives back the live event). */
function toLogged(r: EventRecord): LoggedEvent {
  if (r.event !== undefined) return { flow: r.flow, tenant: r.tenant, traceId: r.traceId, seq: r.seq, event: r.event };
  const p = r.payload;
  const event = new FlowEvent({
    eventType: r.kind as FlowEventType,
    ts: r.ts,
    nodeName: r.nodeName,
    nodeId: r.nodeId,
    traceId: traceKey(r.tenant, r.traceId),
    attempt: num(p.attempt),
    latencyMs: optNum(p.latencyMs),
    queueDepthIn: num(p.queueDepthIn),
    queueDepthOut: num(p.queueDepthOut),
    outgoingEdges: num(p.outgoingEdges),
    queueMaxsize: num(p.queueMaxsize),
    tracePending: optNum(p.tracePending),
    traceInflight: optNum(p.traceInflight),
    traceCancelled: p.traceCancelled === true,
    extra: typeof p.extra === 'object' && p.extra !== null ? (p.extra as Record<string, unknown>) : {},
  });
  return { flow: r.flow, tenant: r.tenant, traceId: r.traceId, seq: r.seq, event };
}

/** Durable event log; see the module comment. */
export class StoreEventLog implements EventLog, DurableTraces {
  readonly store: ServiceStateStore;
  readonly writer: WriteBehind;
  readonly #logger: Logger;
  readonly #counters: SeqCounters;
  readonly #preparing = new Map<string, Promise<void>>();
  readonly #listeners = new TenantListeners();
  readonly #opts: StoreEventLogOptions;
  #pruneTimer: ReturnType<typeof setInterval> | undefined;
  #lastErrorLog = 0;
  #suppressed = 0;

  constructor(opts: StoreEventLogOptions) {
    this.store = opts.store;
    this.#opts = opts;
    this.#logger = opts.logger;
    this.#counters = new SeqCounters(opts.maxReleasedTraces);
    this.writer = new WriteBehind({
      ...opts.writer,
      store: opts.store,
      onError: (err, info) => this.#writeFailed(err, info),
      onRecover: () => this.#logger.warn({ store: opts.store.kind }, 'state store writes succeed again'),
    });
  }

  /** Seq counters in memory (diagnostics and leak tests). */
  get traceCount(): number {
    return this.#counters.size;
  }

  /** Starts the retention pruning job (unref'd timer). */
  start(): void {
    const retention = this.#opts.historyRetentionMs;
    const every = this.#opts.pruneEveryMs ?? Math.max(1000, Math.min(3_600_000, Math.floor((retention || 3_600_000) / 10)));
    this.#pruneTimer ??= setInterval(() => void this.prune(), every);
    this.#pruneTimer.unref();
  }

  /** Deletes stored history past its retention now. Never throws (failures are logged). */
  async prune(now = Date.now()): Promise<void> {
    const retention = this.#opts.historyRetentionMs;
    const history = retention > 0 ? now - retention : Number.NEGATIVE_INFINITY;
    try {
      const res = await this.store.prune({ eventsBefore: history, tracesBefore: history, keysBefore: now - this.#opts.idempotencyRetentionMs });
      if (res.events + res.traces + res.keys > 0) this.#logger.info({ store: this.store.kind, pruned: res }, 'pruned state store history past its retention');
    } catch (err) {
      this.#logger.error({ store: this.store.kind, err: describe(err) }, 'state store pruning failed');
    }
  }

  /** Readiness: rejects while the store does not answer or writes are failing. */
  async ping(): Promise<void> {
    if (!this.writer.healthy) throw new Error(`state store writes failing: ${describe(this.writer.lastError).message}`);
    await this.store.ping();
  }

  /** Stops pruning, writes what is pending (bounded by `timeoutMs`) and closes the store. */
  async close(timeoutMs = 5000): Promise<void> {
    if (this.#pruneTimer !== undefined) clearInterval(this.#pruneTimer);
    this.#pruneTimer = undefined;
    await this.writer.close(timeoutMs);
    await this.store.close();
  }

  append(flow: string, tenant: string, traceId: string, event: FlowEvent): void {
    let c = this.#counters.get(tenant, traceId);
    if (c === undefined) {
      // A late event of a trace whose counter was already forgotten: number
      // it after the pending ones (a stored duplicate seq is ignored by the store).
      const pending = this.writer.pendingEventsOf(tenant, traceId);
      c = this.#counters.create(tenant, traceId, pending.at(-1)?.seq ?? 0, false);
    }
    const seq = ++c.seq;
    this.writer.pushEvent(new FlowEventRecord(tenant, traceId, seq, flow, event));
    this.#listeners.publish(flow, tenant, traceId, seq, event);
  }

  async history(tenant: string, traceId: string, afterSeq = 0): Promise<readonly LoggedEvent[] | undefined> {
    // Snapshot the unwritten events first: anything not in it was written before the query starts.
    const pending = this.writer.pendingEventsOf(tenant, traceId);
    let stored: EventRecord[];
    try {
      stored = await this.store.eventsAfter(tenant, traceId, afterSeq);
    } catch (err) {
      this.#logger.error({ store: this.store.kind, err: describe(err) }, 'state store read failed');
      throw HostError.storeUnavailable();
    }
    const out: LoggedEvent[] = stored.map(toLogged);
    let last = out.at(-1)?.seq ?? afterSeq;
    for (const p of pending) {
      if (p.seq > last) {
        out.push(toLogged(p));
        last = p.seq;
      }
    }
    if (out.length > 0) return out;
    if (this.#counters.get(tenant, traceId) !== undefined || this.writer.pendingTraceOf(tenant, traceId) !== undefined) return out;
    try {
      return (await this.store.getTrace(tenant, traceId)) !== undefined || (await this.store.lastSeq(tenant, traceId)) > 0 ? out : undefined;
    } catch {
      throw HostError.storeUnavailable();
    }
  }

  subscribe(tenant: string, listener: EventListener): () => void {
    return this.#listeners.subscribe(tenant, listener);
  }

  /** Live listeners of `tenant`, i.e. open SubscribeEvents streams (diagnostics and tests). */
  subscribers(tenant: string): number {
    return this.#listeners.count(tenant);
  }

  retain(tenant: string, traceId: string): void {
    this.#counters.retain(tenant, traceId);
  }

  release(tenant: string, traceId: string): void {
    this.#counters.release(tenant, traceId);
  }

  sweep(now = Date.now()): void {
    this.#counters.sweep(now, this.#opts.retentionMs);
  }

  // --- DurableTraces -------------------------------------------------------

  prepareTrace(tenant: string, traceId: string): Promise<void> | undefined {
    if (this.#counters.get(tenant, traceId) !== undefined) return undefined;
    const id = `${tenant}\u001f${traceId}`;
    let p = this.#preparing.get(id);
    if (p === undefined) {
      p = this.store
        .lastSeq(tenant, traceId)
        .then(
          (seq) => {
            if (this.#counters.get(tenant, traceId) !== undefined) return;
            // Unwritten events of a forgotten counter exist only while writes fail (scanning costs O(pending)).
            const pending = this.writer.healthy ? 0 : (this.writer.pendingEventsOf(tenant, traceId).at(-1)?.seq ?? 0);
            this.#counters.create(tenant, traceId, Math.max(seq, pending), false);
          },
          (err: unknown) => {
            this.#logger.error({ store: this.store.kind, err: describe(err) }, 'state store read failed');
            throw HostError.storeUnavailable();
          },
        )
        .finally(() => this.#preparing.delete(id));
      this.#preparing.set(id, p);
    }
    return p;
  }

  traceStarted(tenant: string, flow: string, traceId: string): void {
    const now = Date.now();
    const createdAt = this.#counters.get(tenant, traceId)?.createdAt ?? now;
    this.writer.pushTrace({ tenant, traceId, flow, status: 'RUNNING', createdAt, updatedAt: now, endedAt: undefined });
  }

  traceEnded(tenant: string, flow: string, traceId: string, status: string): void {
    const now = Date.now();
    const createdAt = this.#counters.get(tenant, traceId)?.createdAt ?? now;
    this.writer.pushTrace({ tenant, traceId, flow, status, createdAt, updatedAt: now, endedAt: now });
  }

  async findKey(tenant: string, flow: string, key: string): Promise<string | undefined> {
    try {
      return await this.store.getKey(tenant, flow, key, Date.now() - this.#opts.idempotencyRetentionMs);
    } catch (err) {
      this.#logger.error({ store: this.store.kind, err: describe(err) }, 'state store read failed');
      throw HostError.storeUnavailable();
    }
  }

  async saveKey(tenant: string, flow: string, key: string, traceId: string): Promise<string> {
    const now = Date.now();
    try {
      return await this.store.claimKey({ tenant, flow, key, traceId, createdAt: now }, now - this.#opts.idempotencyRetentionMs);
    } catch (err) {
      // The emit already happened; the key then only deduplicates within this process.
      this.#logger.error({ store: this.store.kind, err: describe(err) }, 'state store could not save an idempotency key');
      return traceId;
    }
  }

  hasRoom(): boolean {
    return this.writer.hasRoom();
  }

  waitForRoom(signal?: AbortSignal): Promise<void> {
    return this.writer.waitForRoom(signal);
  }

  #writeFailed(err: unknown, info: { pending: number; attempt: number; dropped: number }): void {
    // At most one line per second: an outage must not flood the logs.
    const now = Date.now();
    if (now - this.#lastErrorLog < 1000) {
      this.#suppressed++;
      return;
    }
    this.#lastErrorLog = now;
    this.#logger.error({ store: this.store.kind, err: describe(err), ...info, suppressed: this.#suppressed }, 'state store write failed; will retry');
    this.#suppressed = 0;
  }
}

function describe(err: unknown): { type: string; message: string } {
  return err instanceof Error ? { type: err.name, message: err.message } : { type: typeof err, message: String(err) };
}
