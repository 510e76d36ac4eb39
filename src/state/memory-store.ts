/**
 * {@link ServiceStateStore} in process memory: `PENGUIFLOW_STORE=memory`
 * and tests. Everything is lost with the process.
 *
 * It is the runtime's {@link InMemoryStateStore} (the runtime history of
 * `saveEvent`/`loadHistory`) with the service's tables added, so the server
 * has one in-memory history whichever layer writes to it. Unlike the
 * durable stores it is bounded by count as well as by the retention the
 * pruning job applies: a process must not grow without bound under load.
 *
 * Events made from a runtime event (the server's, see `FlowEventRecord`)
 * are kept flattened: numbers in one `Float64Array` per trace, flow and
 * node interned, rare fields aside. Every event of every trace outlives
 * the young generation here (it is kept for the retention), so this costs
 * the garbage collector one buffer per trace instead of two objects per
 * event. Measured through the event log with 10-event traces and 10 000
 * kept: about 9 µs of CPU per trace flattened against 20 µs as objects (40 %
 * of it in the collector). Other records (written by hand, as in the store
 * contract) are kept as they are.
 */
import { FLOW_EVENT_TYPES, FlowEvent, InMemoryStateStore, type FlowEventType } from '../runtime/index.js';
import { FlowEventRecord } from './flow-event-record.js';
import type { EventRecord, IdempotencyRecord, PruneCutoffs, PruneResult, ServiceStateStore, StoredTrace, WriteBatch } from './types.js';

/** Options of {@link MemoryStateStore}. */
export interface MemoryStateStoreOptions {
  /**
   * Most traces kept that are not running (ended, or known only by their
   * events); the one that stopped running longest ago is forgotten first,
   * with all its events. Running traces are never forgotten for the cap.
   * Default 10 000 (`PENGUIFLOW_MAX_RETAINED_TRACES`).
   */
  maxIdleTraces?: number;
  /**
   * Most events kept per trace; the oldest are dropped first, so a runaway
   * controller loop cannot exhaust memory (its history then starts later
   * than seq 1). Default 10 000.
   */
  maxEventsPerTrace?: number;
}

/** Numbers stored per event; see {@link MemoryStateStore} `#pack` for the layout. */
const F = 12;
/** Events a new trace has room for before it grows (doubling). */
const INITIAL_EVENTS = 8;
/** Most distinct (flow, node) pairs interned; beyond, an event's origin goes aside. */
const MAX_INTERNED = 65_536;

const TYPE_CODE: Readonly<Record<FlowEventType, number>> = Object.fromEntries(FLOW_EVENT_TYPES.map((t, i) => [t, i])) as Record<FlowEventType, number>;

/** The flow and node an event came from, interned: the store keeps its index. */
interface Origin {
  readonly flow: string;
  readonly nodeName: string | undefined;
  readonly nodeId: string | undefined;
}

/** What an event has beyond the packed numbers: kept only when there is any. */
interface Aside {
  extra?: Record<string, unknown>;
  /** Set when the origin was not interned (table full). */
  origin?: Origin;
  /** Set when the event's runtime trace id differs from the trace's first one. */
  traceId?: string | undefined;
  /** A record not made from a runtime event, kept as written. */
  record?: EventRecord;
}

/** One trace: its row, its events (in seq order) and its place among the idle traces. */
interface TraceEntry {
  readonly tenant: string;
  readonly traceId: string;
  row: StoredTrace | undefined;
  data: Float64Array;
  /** Events stored (kept or dropped). */
  count: number;
  /** Index of the oldest kept event (older ones were dropped over the cap). */
  head: number;
  /** Runtime trace id of the first packed event; later ones differing from it keep theirs aside. */
  eventTraceId: string | undefined;
  aside: Map<number, Aside> | undefined;
  prevIdle: TraceEntry | null;
  nextIdle: TraceEntry | null;
  idle: boolean;
}

const EMPTY = new Float64Array(0);

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

/** In-memory store; see the module comment. */
export class MemoryStateStore extends InMemoryStateStore implements ServiceStateStore {
  readonly kind = 'memory' as const;
  /** Traces by tenant, then trace id: no key string is built per event. */
  readonly #traces = new Map<string, Map<string, TraceEntry>>();
  #traceCount = 0;
  /** The entry found last: a batch holds a trace's events back to back. */
  #last: TraceEntry | undefined;
  /** Idle traces, oldest first (an intrusive list: every trace passes through it once). */
  #idleHead: TraceEntry | null = null;
  #idleTail: TraceEntry | null = null;
  #idleCount = 0;
  readonly #keys = new Map<string, IdempotencyRecord>();
  /** Interned origins by node id (the first flow and name seen with it); an event keeps `index`. */
  readonly #origins = new Map<string | undefined, { readonly origin: Origin; readonly index: number }>();
  readonly #originList: Origin[] = [];
  /** Events of the trace that went idle last: the first allocation's size for the next. */
  #typicalEvents = INITIAL_EVENTS;
  readonly #maxIdle: number;
  readonly #maxEvents: number;
  #closed = false;

  constructor(opts: MemoryStateStoreOptions = {}) {
    super();
    this.#maxIdle = Math.max(1, opts.maxIdleTraces ?? 10_000);
    this.#maxEvents = Math.max(1, opts.maxEventsPerTrace ?? 10_000);
  }

  /** Traces with events or a row (diagnostics and leak tests). */
  get traceCount(): number {
    return this.#traceCount;
  }

  init(): Promise<void> {
    return Promise.resolve();
  }

  write(batch: WriteBatch): Promise<void> {
    if (this.#closed) return Promise.reject(new Error('store closed'));
    for (const e of batch.events) this.#addEvent(e);
    for (const t of batch.traces) {
      const entry = this.#get(t.tenant, t.traceId) ?? this.#create(t.tenant, t.traceId);
      const old = entry.row;
      entry.row = old === undefined || old.createdAt === t.createdAt ? t : { ...t, createdAt: old.createdAt };
      if (t.status === 'RUNNING') this.#unlinkIdle(entry);
      else this.#markIdle(entry);
    }
    return Promise.resolve();
  }

  #get(tenant: string, traceId: string): TraceEntry | undefined {
    const last = this.#last;
    if (last !== undefined && last.traceId === traceId && last.tenant === tenant) return last;
    const entry = this.#traces.get(tenant)?.get(traceId);
    if (entry !== undefined) this.#last = entry;
    return entry;
  }

  #create(tenant: string, traceId: string): TraceEntry {
    let byId = this.#traces.get(tenant);
    if (byId === undefined) {
      byId = new Map();
      this.#traces.set(tenant, byId);
    }
    const entry: TraceEntry = { tenant, traceId, row: undefined, data: EMPTY, count: 0, head: 0, eventTraceId: undefined, aside: undefined, prevIdle: null, nextIdle: null, idle: false };
    byId.set(traceId, entry);
    this.#traceCount++;
    this.#last = entry;
    return entry;
  }

  #addEvent(e: EventRecord): void {
    let entry = this.#get(e.tenant, e.traceId);
    if (entry === undefined) {
      entry = this.#create(e.tenant, e.traceId);
      // Events of a trace without a row (yet) are idle until a RUNNING row says otherwise.
      this.#markIdle(entry);
    }
    const i = this.#slotFor(entry, e.seq);
    if (i < 0) return;
    const event = e.event;
    if (event === undefined) this.#asideOf(entry, i).record = e;
    else this.#pack(entry, i, e.flow, event);
    entry.data[i * F] = e.seq;
    if (entry.count - entry.head > this.#maxEvents) this.#dropOldest(entry);
  }

  /**
   * Makes room for the event of `seq` and returns its index: the end in
   * the common case (seqs come in order), else its place in seq order.
   * Returns -1 for a seq already stored (first write wins) or older than
   * every kept event of a trace that dropped events over the cap.
   */
  #slotFor(entry: TraceEntry, seq: number): number {
    const n = entry.count;
    if ((n + 1) * F > entry.data.length) {
      // Sized for as many events as the last trace that went idle had, so a flow's usual trace fits at once.
      const grown = new Float64Array((n === 0 ? this.#typicalEvents : Math.max(INITIAL_EVENTS, n * 2)) * F);
      grown.set(entry.data.subarray(0, n * F));
      entry.data = grown;
    }
    const d = entry.data;
    if (n === entry.head || d[(n - 1) * F]! < seq) {
      entry.count++;
      return n;
    }
    let lo = entry.head;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (d[mid * F]! < seq) lo = mid + 1;
      else hi = mid;
    }
    if (d[lo * F] === seq || (lo === entry.head && lo > 0)) return -1;
    d.copyWithin((lo + 1) * F, lo * F, n * F);
    if (entry.aside !== undefined) {
      const moved = new Map<number, Aside>();
      for (const [k, a] of entry.aside) moved.set(k >= lo ? k + 1 : k, a);
      entry.aside = moved;
    }
    // The packed numbers of the slot are overwritten by the caller; stale ones must not survive.
    d.fill(NaN, lo * F, (lo + 1) * F);
    entry.count++;
    return lo;
  }

  #asideOf(entry: TraceEntry, i: number): Aside {
    entry.aside ??= new Map();
    let a = entry.aside.get(i);
    if (a === undefined) {
      a = {};
      entry.aside.set(i, a);
    }
    return a;
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
   * Layout of event `i` at `data[i * F]`: seq, ts, type index, attempt,
   * latency (NaN: none), queue depth in, out, outgoing edges, queue
   * maxsize, trace pending (NaN: none), trace in flight (NaN: none),
   * origin index × 2 + cancelled flag. The seq is written by the caller.
   */
  #pack(entry: TraceEntry, i: number, flow: string, e: FlowEvent): void {
    const origin = this.#originIndex(flow, e);
    const d = entry.data;
    const n = i * F;
    d[n + 1] = e.ts;
    d[n + 2] = TYPE_CODE[e.eventType];
    d[n + 3] = e.attempt;
    d[n + 4] = num(e.latencyMs);
    d[n + 5] = e.queueDepthIn;
    d[n + 6] = e.queueDepthOut;
    d[n + 7] = e.outgoingEdges;
    d[n + 8] = e.queueMaxsize;
    d[n + 9] = num(e.tracePending);
    d[n + 10] = num(e.traceInflight);
    d[n + 11] = origin * 2 + (e.traceCancelled ? 1 : 0);
    if (entry.eventTraceId === undefined && entry.count === 1) entry.eventTraceId = e.traceId;
    if (origin === 0) this.#asideOf(entry, i).origin = { flow, nodeName: e.nodeName, nodeId: e.nodeId };
    if (e.traceId !== entry.eventTraceId) this.#asideOf(entry, i).traceId = e.traceId;
    if (hasKeys(e.extra)) this.#asideOf(entry, i).extra = e.extra;
  }

  /** The record of event `i`: as written, or rebuilt from the packed numbers (with its runtime event). */
  #load(entry: TraceEntry, i: number): EventRecord {
    const aside = entry.aside?.get(i);
    if (aside?.record !== undefined) return aside.record;
    const d = entry.data;
    const n = i * F;
    const packed = d[n + 11]!;
    const origin = aside?.origin ?? this.#originList[Math.floor(packed / 2) - 1]!;
    const event = new FlowEvent({
      ts: d[n + 1]!,
      eventType: FLOW_EVENT_TYPES[d[n + 2]!]!,
      attempt: d[n + 3]!,
      latencyMs: orUndefined(d[n + 4]!),
      queueDepthIn: d[n + 5]!,
      queueDepthOut: d[n + 6]!,
      outgoingEdges: d[n + 7]!,
      queueMaxsize: d[n + 8]!,
      tracePending: orUndefined(d[n + 9]!),
      traceInflight: orUndefined(d[n + 10]!),
      traceCancelled: packed % 2 === 1,
      nodeName: origin.nodeName,
      nodeId: origin.nodeId,
      traceId: aside !== undefined && 'traceId' in aside ? aside.traceId : entry.eventTraceId,
      extra: aside?.extra ?? {},
    });
    return new FlowEventRecord(entry.tenant, entry.traceId, d[n]!, origin.flow, event);
  }

  #dropOldest(entry: TraceEntry): void {
    entry.aside?.delete(entry.head);
    entry.head++;
    if (entry.head > 1024 && entry.head * 2 > entry.count) {
      const head = entry.head;
      entry.data.copyWithin(0, head * F, entry.count * F);
      if (entry.aside !== undefined) {
        const moved = new Map<number, Aside>();
        for (const [k, a] of entry.aside) moved.set(k - head, a);
        entry.aside = moved;
      }
      entry.count -= head;
      entry.head = 0;
    }
  }

  /** Moves `entry` to the end of the idle list and forgets the oldest idle traces over the cap. */
  #markIdle(entry: TraceEntry): void {
    this.#unlinkIdle(entry);
    entry.prevIdle = this.#idleTail;
    if (this.#idleTail === null) this.#idleHead = entry;
    else this.#idleTail.nextIdle = entry;
    this.#idleTail = entry;
    entry.idle = true;
    this.#idleCount++;
    if (entry.count > entry.head) this.#typicalEvents = Math.min(1024, Math.max(1, entry.count - entry.head));
    while (this.#idleCount > this.#maxIdle && this.#idleHead !== null) this.#forget(this.#idleHead);
  }

  #unlinkIdle(entry: TraceEntry): void {
    if (!entry.idle) return;
    if (entry.prevIdle === null) this.#idleHead = entry.nextIdle;
    else entry.prevIdle.nextIdle = entry.nextIdle;
    if (entry.nextIdle === null) this.#idleTail = entry.prevIdle;
    else entry.nextIdle.prevIdle = entry.prevIdle;
    entry.prevIdle = null;
    entry.nextIdle = null;
    entry.idle = false;
    this.#idleCount--;
  }

  /** Forgets a trace with its row and events; returns how many events it had. */
  #forget(entry: TraceEntry): number {
    this.#unlinkIdle(entry);
    if (this.#last === entry) this.#last = undefined;
    const byId = this.#traces.get(entry.tenant);
    if (byId?.get(entry.traceId) === entry) {
      byId.delete(entry.traceId);
      this.#traceCount--;
      if (byId.size === 0) this.#traces.delete(entry.tenant);
    }
    return entry.count - entry.head;
  }

  eventsAfter(tenant: string, traceId: string, afterSeq: number, limit = Number.POSITIVE_INFINITY): Promise<EventRecord[]> {
    const entry = this.#get(tenant, traceId);
    const out: EventRecord[] = [];
    if (entry === undefined) return Promise.resolve(out);
    for (let i = entry.head; i < entry.count && out.length < limit; i++) {
      if (entry.data[i * F]! > afterSeq) out.push(this.#load(entry, i));
    }
    return Promise.resolve(out);
  }

  lastSeq(tenant: string, traceId: string): Promise<number> {
    const entry = this.#get(tenant, traceId);
    return Promise.resolve(entry === undefined || entry.count === entry.head ? 0 : entry.data[(entry.count - 1) * F]!);
  }

  getTrace(tenant: string, traceId: string): Promise<StoredTrace | undefined> {
    const row = this.#get(tenant, traceId)?.row;
    return Promise.resolve(row === undefined ? undefined : { ...row });
  }

  claimKey(record: IdempotencyRecord, notBefore: number): Promise<string> {
    const id = keyId(record.tenant, record.flow, record.key);
    const found = this.#keys.get(id);
    if (found !== undefined && found.createdAt >= notBefore) return Promise.resolve(found.traceId);
    this.#keys.set(id, { ...record });
    return Promise.resolve(record.traceId);
  }

  getKey(tenant: string, flow: string, key: string, notBefore: number): Promise<string | undefined> {
    const found = this.#keys.get(keyId(tenant, flow, key));
    return Promise.resolve(found !== undefined && found.createdAt >= notBefore ? found.traceId : undefined);
  }

  releaseKey(tenant: string, flow: string, key: string, traceId: string): Promise<void> {
    const id = keyId(tenant, flow, key);
    if (this.#keys.get(id)?.traceId === traceId) this.#keys.delete(id);
    return Promise.resolve();
  }

  prune(cutoffs: PruneCutoffs): Promise<PruneResult> {
    const result: PruneResult = { events: 0, traces: 0, keys: 0 };
    for (const byId of [...this.#traces.values()]) {
      for (const entry of [...byId.values()]) {
        if (entry.row !== undefined && entry.row.updatedAt < cutoffs.tracesBefore) {
          result.events += this.#forget(entry);
          result.traces++;
        }
      }
    }
    // Runtime events (saveEvent) stay: InMemoryStateStore has no pruning.
    for (const [id, k] of this.#keys) {
      if (k.createdAt < cutoffs.keysBefore) {
        this.#keys.delete(id);
        result.keys++;
      }
    }
    return Promise.resolve(result);
  }

  ping(): Promise<void> {
    return this.#closed ? Promise.reject(new Error('store closed')) : Promise.resolve();
  }

  close(): Promise<void> {
    this.#closed = true;
    return Promise.resolve();
  }
}

function keyId(tenant: string, flow: string, key: string): string {
  return `${tenant}\u001f${flow}\u001f${key}`;
}
