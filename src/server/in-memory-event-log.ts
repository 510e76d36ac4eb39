/**
 * {@link EventLog} in process memory: the default until a durable store is
 * configured.
 */
import { FlowEvent } from '../runtime/index.js';
import { OldestFirst } from '../util/oldest-first.js';
import type { EventListener, EventLog, LoggedEvent } from './event-log.js';
import { TenantListeners } from './tenant-listeners.js';

/** Options of {@link InMemoryEventLog}. */
export interface InMemoryEventLogOptions {
  /** How long a released trace's events are kept. */
  retentionMs: number;
  /** Most released traces kept; the oldest released are forgotten first. */
  maxReleasedTraces: number;
  /**
   * Most events kept per trace; older ones are dropped first (a runaway
   * controller loop must not exhaust memory). Default 10 000.
   */
  maxEventsPerTrace?: number;
}

/** Numbers stored per event in {@link TraceLog.nums}. */
const NUMS = 10;
/** References stored per event in {@link TraceLog.refs}. */
const REFS = 6;

/**
 * One trace's events, flattened: the numeric fields of each event in one
 * array of doubles (`nums`, {@link NUMS} per event) and its strings, flow
 * name and non-empty `extra` in one array of references (`refs`,
 * {@link REFS} per event); `FlowEvent`s and `LoggedEvent`s are rebuilt only
 * when read. Every event of every trace lands here and outlives the young
 * generation (it is kept for the retention period), so storing it as a few
 * slots in two arrays instead of ~4 objects (event, boxed timestamp and
 * latency, empty `extra`) is most of the server's garbage collection work
 * under load.
 */
interface TraceLog {
  readonly tenant: string;
  readonly traceId: string;
  readonly nums: number[];
  readonly refs: unknown[];
  /** Number of stored events (kept or dropped). */
  count: number;
  /** Index of the oldest kept event (older ones were dropped over the cap). */
  head: number;
  /** Seq of the event at index 0. */
  baseSeq: number;
  holders: number;
  releasedAt: number;
}

function newTraceLog(tenant: string, traceId: string, releasedAt: number): TraceLog {
  return { tenant, traceId, nums: [], refs: [], count: 0, head: 0, baseSeq: 1, holders: 0, releasedAt };
}

/** `undefined` as NaN, for the double array. */
function num(n: number | undefined): number {
  return n === undefined ? NaN : n;
}

function orUndefined(n: number): number | undefined {
  return Number.isNaN(n) ? undefined : n;
}

function hasKeys(o: object): boolean {
  for (const _ in o) return true;
  return false;
}

function store(log: TraceLog, flow: string, e: FlowEvent): void {
  log.nums.push(
    e.ts,
    e.attempt,
    num(e.latencyMs),
    e.queueDepthIn,
    e.queueDepthOut,
    e.outgoingEdges,
    e.queueMaxsize,
    num(e.tracePending),
    num(e.traceInflight),
    e.traceCancelled ? 1 : 0,
  );
  log.refs.push(e.eventType, e.nodeName, e.nodeId, e.traceId, hasKeys(e.extra) ? e.extra : undefined, flow);
  log.count++;
}

function load(log: TraceLog, i: number): LoggedEvent {
  const n = i * NUMS;
  const r = i * REFS;
  const { nums, refs } = log;
  const event = new FlowEvent({
    ts: nums[n]!,
    attempt: nums[n + 1]!,
    latencyMs: orUndefined(nums[n + 2]!),
    queueDepthIn: nums[n + 3]!,
    queueDepthOut: nums[n + 4]!,
    outgoingEdges: nums[n + 5]!,
    queueMaxsize: nums[n + 6]!,
    tracePending: orUndefined(nums[n + 7]!),
    traceInflight: orUndefined(nums[n + 8]!),
    traceCancelled: nums[n + 9] === 1,
    eventType: refs[r] as FlowEvent['eventType'],
    nodeName: refs[r + 1] as string | undefined,
    nodeId: refs[r + 2] as string | undefined,
    traceId: refs[r + 3] as string | undefined,
    extra: (refs[r + 4] as Record<string, unknown> | undefined) ?? {},
  });
  return { flow: refs[r + 5] as string, tenant: log.tenant, traceId: log.traceId, seq: log.baseSeq + i, event };
}

/**
 * Bounded in-memory event log.
 *
 * Memory is bounded three ways: events per trace (oldest dropped, so a
 * very long trace's replay starts later than seq 1), the retention period
 * after a trace is released, and the number of released traces kept.
 * Live traces are never dropped: their count is bounded by the runtime's
 * own admission.
 */
export class InMemoryEventLog implements EventLog {
  /**
   * Trace logs by tenant, then client trace id: no per-event key string is
   * built (the hosted flow passes the same trace id string for every event
   * of a trace, so its hash is computed once).
   */
  readonly #traces = new Map<string, Map<string, TraceLog>>();
  #traceCount = 0;
  /** Released traces in release order, for cheap expiry. */
  readonly #released = new Set<TraceLog>();
  readonly #oldestReleased = new OldestFirst(() => this.#released.values());
  readonly #listeners = new TenantListeners();
  readonly #retentionMs: number;
  readonly #maxReleased: number;
  readonly #maxEvents: number;

  constructor(opts: InMemoryEventLogOptions) {
    this.#retentionMs = opts.retentionMs;
    this.#maxReleased = opts.maxReleasedTraces;
    this.#maxEvents = Math.max(1, opts.maxEventsPerTrace ?? 10_000);
  }

  /** Traces currently stored (for diagnostics and leak tests). */
  get traceCount(): number {
    return this.#traceCount;
  }

  #get(tenant: string, traceId: string): TraceLog | undefined {
    return this.#traces.get(tenant)?.get(traceId);
  }

  #create(tenant: string, traceId: string, releasedAt: number): TraceLog {
    let byId = this.#traces.get(tenant);
    if (byId === undefined) {
      byId = new Map();
      this.#traces.set(tenant, byId);
    }
    const log = newTraceLog(tenant, traceId, releasedAt);
    byId.set(traceId, log);
    this.#traceCount++;
    return log;
  }

  #forget(log: TraceLog): void {
    this.#released.delete(log);
    const byId = this.#traces.get(log.tenant);
    if (byId?.get(log.traceId) !== log) return;
    byId.delete(log.traceId);
    this.#traceCount--;
    if (byId.size === 0) this.#traces.delete(log.tenant);
  }

  append(flow: string, tenant: string, traceId: string, event: FlowEvent): void {
    let log = this.#get(tenant, traceId);
    if (log === undefined) {
      // A late event (e.g. trace_cancel_finish) for a trace already
      // forgotten starts a fresh log that expires on its own.
      log = this.#create(tenant, traceId, Date.now());
      this.#noteReleased(log);
    }
    const seq = log.baseSeq + log.count;
    store(log, flow, event);
    if (log.count - log.head > this.#maxEvents) this.#dropOldest(log);
    this.#listeners.publish(flow, tenant, traceId, seq, event);
  }

  history(tenant: string, traceId: string, afterSeq = 0): Promise<readonly LoggedEvent[] | undefined> {
    const log = this.#get(tenant, traceId);
    if (log === undefined) return Promise.resolve(undefined);
    const out: LoggedEvent[] = [];
    const from = Math.max(log.head, afterSeq - log.baseSeq + 1);
    for (let i = from; i < log.count; i++) out.push(load(log, i));
    return Promise.resolve(out);
  }

  #dropOldest(log: TraceLog): void {
    log.refs.fill(undefined, log.head * REFS, (log.head + 1) * REFS);
    log.head++;
    if (log.head > 1024 && log.head * 2 > log.count) {
      log.nums.splice(0, log.head * NUMS);
      log.refs.splice(0, log.head * REFS);
      log.count -= log.head;
      log.baseSeq += log.head;
      log.head = 0;
    }
  }

  subscribe(tenant: string, listener: EventListener): () => void {
    return this.#listeners.subscribe(tenant, listener);
  }

  retain(tenant: string, traceId: string): void {
    const log = this.#get(tenant, traceId) ?? this.#create(tenant, traceId, 0);
    log.holders++;
    this.#released.delete(log);
  }

  release(tenant: string, traceId: string): void {
    const log = this.#get(tenant, traceId);
    if (log === undefined || log.holders === 0) return;
    log.holders--;
    if (log.holders === 0) {
      log.releasedAt = Date.now();
      this.#noteReleased(log);
    }
  }

  sweep(now = Date.now()): void {
    for (const log of this.#released) {
      if (now - log.releasedAt < this.#retentionMs) break;
      this.#forget(log);
    }
  }

  #noteReleased(log: TraceLog): void {
    this.#released.delete(log);
    this.#released.add(log);
    while (this.#released.size > this.#maxReleased) {
      const oldest = this.#oldestReleased.next();
      if (oldest === undefined) break;
      this.#forget(oldest);
    }
  }
}
