/**
 * {@link EventLog} in process memory: the default until a durable store is
 * configured.
 */
import { FLOW_EVENT_TYPES, FlowEvent, type FlowEventType } from '../runtime/index.js';
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

/** Numbers stored per event in {@link TraceLog.data}; see {@link store} for the layout. */
const F = 11;
/** Events a new trace log has room for before it grows (doubling). */
const INITIAL_EVENTS = 8;
/** Most distinct (flow, node) pairs interned; beyond, an event's node and flow go to the side table. */
const MAX_INTERNED = 65_536;

const TYPE_CODE: Readonly<Record<FlowEventType, number>> = Object.fromEntries(FLOW_EVENT_TYPES.map((t, i) => [t, i])) as Record<FlowEventType, number>;

/** The flow and node an event came from, interned: the log stores its index. */
interface Origin {
  readonly flow: string;
  readonly nodeName: string | undefined;
  readonly nodeId: string | undefined;
}

/** What an event carries beyond the numbers: kept per event only when it has any. */
interface Aside {
  extra?: Record<string, unknown>;
  /** Set when the event's origin was not interned (table full). */
  origin?: Origin;
  /** Set when the event's runtime trace id differs from the log's first one. */
  traceId?: string | undefined;
}

/**
 * One trace's events, flattened into one Float64Array (`F` numbers per
 * event: the numeric fields, the event type's index and the interned
 * origin's index); `extra` and other rare fields in a side table. Every
 * event of every trace lands here and outlives the young generation (it is
 * kept for the retention period), so a trace costs the garbage collector
 * one small object and one off-heap buffer instead of ~4 objects per event
 * or two growing arrays.
 */
interface TraceLog {
  readonly tenant: string;
  readonly traceId: string;
  data: Float64Array;
  /** Runtime trace id of the log's first event; later events differing from it keep theirs aside. */
  eventTraceId: string | undefined;
  aside: Map<number, Aside> | undefined;
  /** Number of stored events (kept or dropped). */
  count: number;
  /** Index of the oldest kept event (older ones were dropped over the cap). */
  head: number;
  /** Seq of the event at index 0. */
  baseSeq: number;
  holders: number;
  releasedAt: number;
  /** Neighbours in the released list (oldest release first); null while not in it. */
  prevReleased: TraceLog | null;
  nextReleased: TraceLog | null;
  inReleased: boolean;
}

const EMPTY = new Float64Array(0);

function newTraceLog(tenant: string, traceId: string, releasedAt: number): TraceLog {
  return { tenant, traceId, data: EMPTY, eventTraceId: undefined, aside: undefined, count: 0, head: 0, baseSeq: 1, holders: 0, releasedAt, prevReleased: null, nextReleased: null, inReleased: false };
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

function asideOf(log: TraceLog, i: number): Aside {
  log.aside ??= new Map();
  let a = log.aside.get(i);
  if (a === undefined) {
    a = {};
    log.aside.set(i, a);
  }
  return a;
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
  #releasedHead: TraceLog | null = null;
  #releasedTail: TraceLog | null = null;
  #releasedCount = 0;
  readonly #listeners = new TenantListeners();
  readonly #retentionMs: number;
  readonly #maxReleased: number;
  readonly #maxEvents: number;
  /** Interned origins by node id (the first flow and name seen with it); index = position in {@link #originList} + 1. */
  readonly #origins = new Map<string | undefined, { readonly origin: Origin; readonly index: number }>();
  /** Interned origins; an event stores `index + 1` (0: not interned, see its aside). */
  readonly #originList: Origin[] = [];
  /** Events of the most recently released trace: the first allocation's size for the next. */
  #typicalEvents = INITIAL_EVENTS;

  constructor(opts: InMemoryEventLogOptions) {
    this.#retentionMs = opts.retentionMs;
    this.#maxReleased = opts.maxReleasedTraces;
    this.#maxEvents = Math.max(1, opts.maxEventsPerTrace ?? 10_000);
  }

  /** Traces currently stored (for diagnostics and leak tests). */
  get traceCount(): number {
    return this.#traceCount;
  }

  /** The log `#get` found last: a trace's events come in bursts (a synchronous chain emits them back to back). */
  #last: TraceLog | undefined;

  #get(tenant: string, traceId: string): TraceLog | undefined {
    const last = this.#last;
    if (last !== undefined && last.traceId === traceId && last.tenant === tenant) return last;
    const log = this.#traces.get(tenant)?.get(traceId);
    if (log !== undefined) this.#last = log;
    return log;
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
    if (this.#last === log) this.#last = undefined;
    this.#unlinkReleased(log);
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
    this.#store(log, flow, event);
    if (log.count - log.head > this.#maxEvents) this.#dropOldest(log);
    this.#listeners.publish(flow, tenant, traceId, seq, event);
  }

  history(tenant: string, traceId: string, afterSeq = 0): Promise<readonly LoggedEvent[] | undefined> {
    const log = this.#get(tenant, traceId);
    if (log === undefined) return Promise.resolve(undefined);
    const out: LoggedEvent[] = [];
    const from = Math.max(log.head, afterSeq - log.baseSeq + 1);
    for (let i = from; i < log.count; i++) out.push(this.#load(log, i));
    return Promise.resolve(out);
  }

  /** Index (+1) of the event's interned origin; 0 when it is not (or cannot be) interned. */
  #originIndex(flow: string, e: FlowEvent): number {
    const known = this.#origins.get(e.nodeId);
    if (known !== undefined) {
      const o = known.origin;
      return o.flow === flow && o.nodeName === e.nodeName ? known.index : 0;
    }
    if (this.#originList.length >= MAX_INTERNED) return 0;
    const origin: Origin = { flow, nodeName: e.nodeName, nodeId: e.nodeId };
    this.#originList.push(origin);
    const index = this.#originList.length;
    this.#origins.set(e.nodeId, { origin, index });
    return index;
  }

  /**
   * Layout of event `i` at `data[i * F]`: ts, type index, attempt, latency
   * (NaN: none), queue depth in, out, outgoing edges, queue maxsize, trace
   * pending (NaN: none), trace in flight (NaN: none), origin index × 2 +
   * cancelled flag.
   */
  #store(log: TraceLog, flow: string, e: FlowEvent): void {
    const i = log.count;
    if ((i + 1) * F > log.data.length) {
      // First allocation sized for as many events as the last released
      // trace had, so a flow's usual trace fits without regrowing.
      const grown = new Float64Array((i === 0 ? this.#typicalEvents : Math.max(INITIAL_EVENTS, i * 2)) * F);
      grown.set(log.data.subarray(0, i * F));
      log.data = grown;
    }
    const origin = this.#originIndex(flow, e);
    const d = log.data;
    const n = i * F;
    d[n] = e.ts;
    d[n + 1] = TYPE_CODE[e.eventType];
    d[n + 2] = e.attempt;
    d[n + 3] = num(e.latencyMs);
    d[n + 4] = e.queueDepthIn;
    d[n + 5] = e.queueDepthOut;
    d[n + 6] = e.outgoingEdges;
    d[n + 7] = e.queueMaxsize;
    d[n + 8] = num(e.tracePending);
    d[n + 9] = num(e.traceInflight);
    d[n + 10] = origin * 2 + (e.traceCancelled ? 1 : 0);
    if (i === 0) log.eventTraceId = e.traceId;
    if (origin === 0) asideOf(log, i).origin = { flow, nodeName: e.nodeName, nodeId: e.nodeId };
    if (e.traceId !== log.eventTraceId) asideOf(log, i).traceId = e.traceId;
    if (hasKeys(e.extra)) asideOf(log, i).extra = e.extra;
    log.count++;
  }

  #load(log: TraceLog, i: number): LoggedEvent {
    const d = log.data;
    const n = i * F;
    const aside = log.aside?.get(i);
    const packed = d[n + 10]!;
    const originIndex = Math.floor(packed / 2);
    const origin = aside?.origin ?? this.#originList[originIndex - 1]!;
    const event = new FlowEvent({
      ts: d[n]!,
      eventType: FLOW_EVENT_TYPES[d[n + 1]!]!,
      attempt: d[n + 2]!,
      latencyMs: orUndefined(d[n + 3]!),
      queueDepthIn: d[n + 4]!,
      queueDepthOut: d[n + 5]!,
      outgoingEdges: d[n + 6]!,
      queueMaxsize: d[n + 7]!,
      tracePending: orUndefined(d[n + 8]!),
      traceInflight: orUndefined(d[n + 9]!),
      traceCancelled: packed % 2 === 1,
      nodeName: origin.nodeName,
      nodeId: origin.nodeId,
      traceId: aside !== undefined && 'traceId' in aside ? aside.traceId : log.eventTraceId,
      extra: aside?.extra ?? {},
    });
    return { flow: origin.flow, tenant: log.tenant, traceId: log.traceId, seq: log.baseSeq + i, event };
  }

  #dropOldest(log: TraceLog): void {
    log.aside?.delete(log.head);
    log.head++;
    if (log.head > 1024 && log.head * 2 > log.count) {
      const head = log.head;
      log.data.copyWithin(0, head * F, log.count * F);
      if (log.aside !== undefined) {
        const moved = new Map<number, Aside>();
        for (const [i, a] of log.aside) moved.set(i - head, a);
        log.aside = moved;
      }
      log.count -= head;
      log.baseSeq += head;
      log.head = 0;
    }
  }

  subscribe(tenant: string, listener: EventListener): () => void {
    return this.#listeners.subscribe(tenant, listener);
  }

  retain(tenant: string, traceId: string): void {
    const log = this.#get(tenant, traceId) ?? this.#create(tenant, traceId, 0);
    log.holders++;
    this.#unlinkReleased(log);
  }

  release(tenant: string, traceId: string): void {
    const log = this.#get(tenant, traceId);
    if (log === undefined || log.holders === 0) return;
    log.holders--;
    if (log.holders === 0) {
      log.releasedAt = Date.now();
      this.#typicalEvents = Math.min(1024, Math.max(1, log.count - log.head));
      this.#noteReleased(log);
    }
  }

  sweep(now = Date.now()): void {
    for (let log = this.#releasedHead; log !== null && now - log.releasedAt >= this.#retentionMs; log = this.#releasedHead) this.#forget(log);
  }

  /**
   * Appends `log` to the released list (moving it if it was there) and
   * forgets the oldest released traces over the cap. An intrusive list:
   * every trace goes through it once, and a Set plus an iterator cost
   * several hash operations per trace.
   */
  #noteReleased(log: TraceLog): void {
    this.#unlinkReleased(log);
    log.prevReleased = this.#releasedTail;
    if (this.#releasedTail === null) this.#releasedHead = log;
    else this.#releasedTail.nextReleased = log;
    this.#releasedTail = log;
    log.inReleased = true;
    this.#releasedCount++;
    while (this.#releasedCount > this.#maxReleased && this.#releasedHead !== null) this.#forget(this.#releasedHead);
  }

  #unlinkReleased(log: TraceLog): void {
    if (!log.inReleased) return;
    if (log.prevReleased === null) this.#releasedHead = log.nextReleased;
    else log.prevReleased.nextReleased = log.nextReleased;
    if (log.nextReleased === null) this.#releasedTail = log.prevReleased;
    else log.nextReleased.prevReleased = log.prevReleased;
    log.prevReleased = null;
    log.nextReleased = null;
    log.inReleased = false;
    this.#releasedCount--;
  }
}
