/**
 * One flow as the server hosts it: the runtime `Flow`, the trace records its
 * outputs are consumed into, its idempotency keys and its event feed.
 */
import type { Logger } from 'pino';
import { FlowError, FlowStoppedError, isMessage, isStreamChunk, TraceCancelled, TraceEndedError, type Flow, type FlowEvent, type FlowStats, type Message } from '../runtime/index.js';
import type { EventLog } from './event-log.js';
import { describeFlow, type FlowDescription } from './flow-description.js';
import { IdempotencyCache } from './idempotency-cache.js';
import { isTraceparent } from '../internal/trace-context.js';
import { HostError } from './host-error.js';
import type { DurableTraces } from './store-event-log.js';
import { parseTraceKey, traceKey } from './trace-key.js';
import type { TraceEndStatus, TraceItem, TraceOutcome, TraceRecord } from './trace-record.js';
import { TraceTable } from './trace-table.js';

/** Options of {@link HostedFlow}. */
export interface HostedFlowOptions {
  /** Name on the wire. */
  name: string;
  description: string;
  /** A built flow that is not running yet. */
  flow: Flow;
  eventLog: EventLog;
  /** Retention of ended traces and idempotency keys. */
  retentionMs: number;
  /** Most ended traces (and idempotency keys, times ten) remembered. */
  maxRetainedTraces: number;
  logger: Logger;
  /** Persists trace ownership and idempotency keys (a durable store); undefined keeps them in memory only. */
  durable?: DurableTraces | undefined;
}

/** Options of {@link HostedFlow.emit}. */
export interface HostedEmitOptions {
  /** Deduplicates the emit per (tenant, key); see the proto's `idempotency_key`. */
  idempotencyKey?: string | undefined;
  /** Aborts waiting for admission (full ingress queue) or for a duplicate's first attempt; rejects with its reason. */
  signal?: AbortSignal;
  /**
   * Like `signal`, from something that creates its signal on demand (an RPC
   * call): read only when a wait begins, so an emit admitted at once never
   * creates it. `signal` wins when both are given.
   */
  abortable?: { readonly signal: AbortSignal; throwIfOver?(): void } | undefined;
  /** The server generated the trace id for this request: no stored history can exist, so the store is not asked. */
  generatedTraceId?: boolean | undefined;
}

/** Result of {@link HostedFlow.emit}. */
export interface HostedEmitResult {
  /** The client trace id: the message's, or the first request's on a duplicate. */
  readonly traceId: string;
  readonly deduplicated: boolean;
  /** The trace's record; undefined only for a duplicate whose trace was already forgotten. */
  readonly record: TraceRecord | undefined;
}

/** Counters for diagnostics and leak tests. */
export interface HostedFlowStats {
  /** Trace records remembered (running and ended). */
  records: number;
  /** Ended trace records remembered. */
  endedRecords: number;
  idempotencyKeys: number;
  runtime: FlowStats;
}

const STOPPED: TraceOutcome = { kind: 'end', status: 'UNAVAILABLE', error: undefined };
const CANCELLED: TraceOutcome = { kind: 'end', status: 'CANCELLED', error: undefined };
/** Outcomes without an error, shared: every ended record keeps one for its retention. */
const PLAIN_OUTCOMES: Readonly<Record<TraceEndStatus, TraceOutcome>> = {
  COMPLETED: { kind: 'end', status: 'COMPLETED', error: undefined },
  FAILED: { kind: 'end', status: 'FAILED', error: undefined },
  CANCELLED,
  DEADLINE_EXCEEDED: { kind: 'end', status: 'DEADLINE_EXCEEDED', error: undefined },
  UNAVAILABLE: STOPPED,
};

function classify(value: unknown): TraceItem {
  if (value instanceof FlowError) return { kind: 'error', error: value };
  if (isMessage(value) && isStreamChunk(value.payload)) return { kind: 'chunk', chunk: value.payload };
  if (isStreamChunk(value)) return { kind: 'chunk', chunk: value };
  return { kind: 'output', value };
}

function signalOf(opts: HostedEmitOptions): AbortSignal | undefined {
  return opts.signal ?? opts.abortable?.signal;
}

function raceAbort<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

/**
 * A hosted flow.
 *
 * Every admitted trace gets a {@link TraceRecord} and a pump: a loop over
 * `flow.fetch({ traceId })` that moves the trace's outputs into the record
 * as soon as the runtime produces them (bounded by the record's capacity)
 * and records how the trace ended. All readers (Fetch, Call, CallStream,
 * StreamTrace) read the record, never the runtime, which is what makes
 * "subscribe right after Emit" lossless and every read hang-free.
 *
 * The runtime keys traces by `tenant␟traceId` (see `trace-key.ts`), so
 * tenants never share runtime trace state.
 */
export class HostedFlow {
  readonly name: string;
  readonly description: string;
  readonly flow: Flow;
  /** ListFlows' description of the graph, computed once. */
  readonly info: FlowDescription;

  readonly #table: TraceTable;
  readonly #idempotency: IdempotencyCache;
  readonly #eventLog: EventLog;
  readonly #durable: DurableTraces | undefined;
  readonly #logger: Logger;

  constructor(opts: HostedFlowOptions) {
    this.name = opts.name;
    this.description = opts.description;
    this.flow = opts.flow;
    this.info = describeFlow(opts.name, opts.description, opts.flow);
    this.#eventLog = opts.eventLog;
    this.#durable = opts.durable;
    this.#logger = opts.logger;
    this.#table = new TraceTable({
      capacity: opts.flow.queueMaxsize,
      retentionMs: opts.retentionMs,
      maxEnded: opts.maxRetainedTraces,
      onForget: (record) => this.#releaseEvents(record),
    });
    this.#idempotency = new IdempotencyCache(opts.retentionMs, Math.max(1000, opts.maxRetainedTraces * 10));
    opts.flow.addMiddleware((event) => this.#onEvent(event));
  }

  /** Starts the runtime flow. */
  start(): void {
    this.flow.run();
  }

  /**
   * Stops the runtime flow: running traces end as UNAVAILABLE for their
   * readers (their pumps see `FlowStoppedError`).
   */
  async stop(): Promise<void> {
    await this.flow.stop();
  }

  /** The record of `(tenant, traceId)`, if the trace is running or still remembered. */
  record(tenant: string, traceId: string): TraceRecord | undefined {
    return this.#table.get(traceKey(tenant, traceId));
  }

  /**
   * Emits `message` (whose `traceId` is the client's) into the flow for
   * `tenant` and resolves once it is admitted (queued at the ingress).
   *
   * With an idempotency key, a repeated key returns the first trace id with
   * `deduplicated: true` and emits nothing; a duplicate arriving while the
   * first is still being admitted waits for it, and takes over if it fails.
   * Emitting the id of a running trace adds the message to it; emitting the
   * id of an ended (still remembered) trace starts a new run of it.
   *
   * @throws the signal's reason when it aborts first (nothing is emitted).
   * @throws TraceCancelled while the trace's cancellation is in progress.
   * @throws FlowStoppedError once the flow stopped.
   */
  emit(tenant: string, message: Message, opts: HostedEmitOptions = {}): Promise<HostedEmitResult> {
    const key = traceKey(tenant, message.traceId);
    if (opts.idempotencyKey === undefined && this.#admitsNow(key, tenant, message, opts)) {
      // The common case (no key, nothing to wait for in the store) without an async frame.
      let entered: TraceRecord | Promise<TraceRecord>;
      try {
        entered = this.#enter(key, tenant, message, opts);
      } catch (err) {
        return Promise.reject(err);
      }
      if (entered instanceof Promise) return entered.then((record) => ({ traceId: message.traceId, deduplicated: false, record }));
      return Promise.resolve({ traceId: message.traceId, deduplicated: false, record: entered });
    }
    return this.#emitSlow(tenant, message, opts);
  }

  /**
   * True when {@link #admit} would not wait: no store, or the store has
   * room and needs no read to number the trace's events (a generated trace
   * id, a running trace, or a trace whose numbering is in memory). A
   * numbering read it has to start is the one {@link #admit} then awaits.
   */
  #admitsNow(key: string, tenant: string, message: Message, opts: HostedEmitOptions): boolean {
    const durable = this.#durable;
    if (durable === undefined) return true;
    if (!durable.hasRoom()) return false;
    if (opts.generatedTraceId === true) return true;
    const existing = this.#table.get(key);
    return (existing !== undefined && !existing.ended) || durable.prepareTrace(tenant, message.traceId) === undefined;
  }

  async #emitSlow(tenant: string, message: Message, opts: HostedEmitOptions): Promise<HostedEmitResult> {
    const key = opts.idempotencyKey;
    if (key === undefined) return { traceId: message.traceId, deduplicated: false, record: await this.#admit(tenant, message, opts, opts.generatedTraceId) };
    for (;;) {
      const claimed = this.#idempotency.claim(tenant, key, message.traceId);
      if ('existing' in claimed) {
        const { traceId, outcome } = claimed.existing;
        if (await raceAbort(outcome, signalOf(opts))) return { traceId, deduplicated: true, record: this.record(tenant, traceId) };
        continue; // the first attempt failed and released the key: claim it again
      }
      try {
        // The key may be stored from before a restart.
        const stored = this.#durable === undefined ? undefined : await raceAbort(this.#durable.findKey(tenant, this.name, key), signalOf(opts));
        if (stored !== undefined) {
          claimed.claim.settle(false);
          return { traceId: stored, deduplicated: true, record: this.record(tenant, stored) };
        }
        const record = await this.#admit(tenant, message, opts, opts.generatedTraceId);
        await this.#durable?.saveKey(tenant, this.name, key, message.traceId);
        claimed.claim.settle(true);
        return { traceId: message.traceId, deduplicated: false, record };
      } catch (err) {
        claimed.claim.settle(false);
        throw err;
      }
    }
  }

  /**
   * Cancels a running trace (see `Flow.cancel`) and ends its record as
   * CANCELLED, waking its readers.
   *
   * @returns false when the trace already ended or is already being cancelled.
   */
  async cancel(record: TraceRecord): Promise<boolean> {
    if (record.ended) return false;
    const cancelled = await this.flow.cancel(record.key);
    if (cancelled) this.#end(record, CANCELLED);
    return cancelled;
  }

  /** Forgets ended traces and idempotency keys past their retention. */
  sweep(now = Date.now()): void {
    this.#table.sweep(now);
    this.#idempotency.sweep(now);
  }

  /** Traces admitted (or being admitted) and not yet ended. */
  get tracesInFlight(): number {
    return this.#table.running;
  }

  /** Resolves once no trace is in flight (see {@link tracesInFlight}); at once when none is. */
  whenIdle(): Promise<void> {
    return this.#table.whenIdle();
  }

  /** Counters for diagnostics and leak tests. */
  stats(): HostedFlowStats {
    return {
      records: this.#table.size,
      endedRecords: this.#table.endedCount,
      idempotencyKeys: this.#idempotency.size,
      runtime: this.flow.stats(),
    };
  }

  async #admit(tenant: string, message: Message, opts: HostedEmitOptions, generatedTraceId = false): Promise<TraceRecord> {
    const key = traceKey(tenant, message.traceId);
    if (this.#durable !== undefined) {
      // Store backpressure: admit nothing new while the write buffer is full.
      if (!this.#durable.hasRoom()) await this.#durable.waitForRoom(signalOf(opts));
      const existing = this.#table.get(key);
      if ((existing === undefined || existing.ended) && !generatedTraceId) {
        const prepared = this.#durable.prepareTrace(tenant, message.traceId);
        if (prepared !== undefined) await raceAbort(prepared, signalOf(opts));
      }
    }
    return this.#enter(key, tenant, message, opts);
  }

  /**
   * Registers the run in the trace's record and hands the message to the
   * runtime: synchronously (the record itself) when the ingress has room,
   * else a promise of it once admitted.
   *
   * @throws (or rejects with) the abort reason, TraceCancelled or FlowStoppedError; nothing is emitted then.
   */
  #enter(key: string, tenant: string, message: Message, opts: HostedEmitOptions): TraceRecord | Promise<TraceRecord> {
    let record = this.#table.get(key);
    const fresh = record === undefined || record.ended;
    if (record === undefined) {
      record = this.#table.create(key, tenant, message.traceId);
      this.#retainEvents(record);
    } else if (record.ended) {
      record.reopen();
      this.#table.markRunning(record);
      this.#retainEvents(record);
    }
    const traceparent = message.meta.traceparent;
    if (isTraceparent(traceparent)) {
      if (fresh || record.traceparent === undefined) record.traceparent = traceparent;
    } else if (fresh) {
      record.traceparent = undefined;
    }
    record.pendingEmits++;
    // Bumped before the runtime sees the emit: a pump whose fetch started
    // earlier then knows an "ended" answer may predate this emit.
    record.emitGen++;
    let placed: boolean;
    try {
      // An abort since the last check must still keep the message out.
      opts.signal?.throwIfAborted();
      opts.abortable?.throwIfOver?.();
      // Most emits find room: placed at once, without the async emit.
      placed = this.flow.tryEmit(message, { traceId: key });
    } catch (err) {
      this.#settleEntry(record, tenant, message, false);
      throw err;
    }
    if (placed) {
      this.#settleEntry(record, tenant, message, true);
      return record;
    }
    return this.#enterWaiting(record, key, tenant, message, opts);
  }

  /** The rest of {@link #enter} when the ingress is full: waits for room (or the abort). */
  async #enterWaiting(record: TraceRecord, key: string, tenant: string, message: Message, opts: HostedEmitOptions): Promise<TraceRecord> {
    let admitted = false;
    try {
      const signal = signalOf(opts);
      await this.flow.emit(message, signal === undefined ? { traceId: key } : { traceId: key, signal });
      admitted = true;
    } finally {
      this.#settleEntry(record, tenant, message, admitted);
    }
    return record;
  }

  /** Bookkeeping once an emit of `record`'s run was admitted or refused. */
  #settleEntry(record: TraceRecord, tenant: string, message: Message, admitted: boolean): void {
    if (admitted) {
      if (!record.admitted) this.#durable?.traceStarted(tenant, this.name, message.traceId);
      record.admitted = true;
    }
    record.pendingEmits--;
    if (admitted) {
      if (!record.pumping && !record.ended) void this.#pump(record);
    } else if (record.pendingEmits === 0 && !record.admitted && !record.pumping && !record.ended) {
      // Nothing of this run got in (and no Cancel ended it meanwhile, which
      // would be a real outcome to keep): put the record back as it was.
      if (record.restore()) {
        this.#table.markEnded(record);
        this.#releaseEvents(record);
      } else {
        record.abandon(HostError.traceNotFound(record.traceId));
        this.#table.delete(record);
      }
    }
  }

  /** Moves the trace's outputs from the runtime into its record until the trace ends. */
  async #pump(record: TraceRecord): Promise<void> {
    record.pumping = true;
    try {
      while (!record.ended) {
        if (!record.hasRoom()) {
          await record.waitForRoom();
          continue;
        }
        // A trace that is over ends the record without a fetch (which would
        // build and throw an error per trace) — unless an emit of a new run
        // is on its way in, when "over" may describe the previous run.
        const over = record.pendingEmits === 0 ? this.flow.traceOutcome(record.key) : undefined;
        if (over !== undefined) {
          this.#end(record, over.error === undefined ? PLAIN_OUTCOMES[over.status] : { kind: 'end', status: over.status, error: over.error });
          return;
        }
        const gen = record.emitGen;
        let value: unknown;
        try {
          value = await this.flow.fetch({ traceId: record.key });
        } catch (err) {
          if (record.ended) return;
          // An emit started since this fetch: the end we were told about may
          // be the previous run's; ask again (the runtime now knows the new run).
          if (gen !== record.emitGen && !(err instanceof FlowStoppedError)) continue;
          this.#end(record, this.#outcomeOf(err, record));
          return;
        }
        record.push(classify(value));
      }
    } catch (err) {
      this.#logger.error({ err: { type: err instanceof Error ? err.name : typeof err }, flow: this.name }, 'trace pump failed');
      this.#end(record, STOPPED);
    } finally {
      record.pumping = false;
    }
  }

  #outcomeOf(err: unknown, record: TraceRecord): TraceOutcome {
    if (err instanceof TraceEndedError) return err.error === undefined ? PLAIN_OUTCOMES[err.status] : { kind: 'end', status: err.status, error: err.error };
    if (err instanceof TraceCancelled) return CANCELLED;
    if (err instanceof FlowStoppedError) return STOPPED;
    this.#logger.error({ err: { type: err instanceof Error ? err.name : typeof err }, flow: this.name, traceId: record.traceId }, 'unexpected error while reading trace outputs');
    return { kind: 'end', status: 'FAILED', error: undefined };
  }

  #end(record: TraceRecord, outcome: TraceOutcome): void {
    if (record.ended) return;
    record.finish(outcome);
    this.#durable?.traceEnded(record.tenant, this.name, record.traceId, outcome.status);
    this.#table.markEnded(record);
    this.#releaseEvents(record);
  }

  #retainEvents(record: TraceRecord): void {
    if (record.retainsEvents) return;
    record.retainsEvents = true;
    this.#eventLog.retain(record.tenant, record.traceId);
  }

  #releaseEvents(record: TraceRecord): void {
    if (!record.retainsEvents) return;
    record.retainsEvents = false;
    this.#eventLog.release(record.tenant, record.traceId);
  }

  #onEvent(event: FlowEvent): void {
    if (event.traceId === undefined) return;
    const record = this.#table.get(event.traceId);
    // The record's tenant and trace id (the same strings for every event of
    // the trace) spare parsing the key and re-hashing it per event.
    const owner = record ?? parseTraceKey(event.traceId);
    if (owner === undefined) return;
    // The caller's W3C trace context travels with every event of its trace
    // (to the event log, SubscribeEvents/GetHistory, logs and spans); the
    // runtime builds a fresh `extra` per event, so this touches no other.
    const traceparent = record?.traceparent;
    if (traceparent !== undefined) event.extra.traceparent = traceparent;
    this.#eventLog.append(this.name, owner.tenant, owner.traceId, event);
  }
}
