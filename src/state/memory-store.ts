/**
 * {@link ServiceStateStore} in process memory: `PENGUIFLOW_STORE=memory`
 * and tests. Everything is lost with the process.
 *
 * It is the runtime's {@link InMemoryStateStore} (the runtime history of
 * `saveEvent`/`loadHistory`) with the service's tables added, so the server
 * has one in-memory history whichever layer writes to it. Unlike the
 * durable stores it is bounded by count as well as by the retention the
 * pruning job applies: a process must not grow without bound under load.
 */
import { InMemoryStateStore } from '../runtime/index.js';
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

const SEP = '\u001f';

/** One trace's events in seq order; `head` skips the ones dropped over the cap. */
interface TraceEvents {
  list: EventRecord[];
  head: number;
}

/**
 * In-memory store. Records are kept as written (they are read-only by
 * contract), so a write costs no copy; reads return them in fresh arrays.
 */
export class MemoryStateStore extends InMemoryStateStore implements ServiceStateStore {
  readonly kind = 'memory' as const;
  readonly #events = new Map<string, TraceEvents>();
  readonly #traces = new Map<string, StoredTrace>();
  /** Traces not running, in the order they stopped (oldest first): what the cap forgets. */
  readonly #idle = new Map<string, true>();
  readonly #keys = new Map<string, IdempotencyRecord>();
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
    let n = this.#events.size;
    for (const id of this.#traces.keys()) if (!this.#events.has(id)) n++;
    return n;
  }

  init(): Promise<void> {
    return Promise.resolve();
  }

  write(batch: WriteBatch): Promise<void> {
    if (this.#closed) return Promise.reject(new Error('store closed'));
    for (const e of batch.events) this.#addEvent(e);
    for (const t of batch.traces) {
      const id = t.tenant + SEP + t.traceId;
      const old = this.#traces.get(id);
      this.#traces.set(id, old === undefined || old.createdAt === t.createdAt ? t : { ...t, createdAt: old.createdAt });
      this.#idle.delete(id);
      if (t.status !== 'RUNNING') this.#idle.set(id, true);
    }
    for (const id of this.#idle.keys()) {
      if (this.#idle.size <= this.#maxIdle) break;
      this.#forget(id);
    }
    return Promise.resolve();
  }

  #addEvent(e: EventRecord): void {
    const id = e.tenant + SEP + e.traceId;
    let trace = this.#events.get(id);
    if (trace === undefined) {
      trace = { list: [], head: 0 };
      this.#events.set(id, trace);
      // Events of a trace without a row (yet) are idle until a RUNNING row says otherwise.
      if (!this.#traces.has(id)) this.#idle.set(id, true);
    }
    const list = trace.list;
    const last = list.at(-1);
    if (last === undefined || last.seq < e.seq) {
      list.push(e);
    } else {
      // Out of order or a retry: insert unless present (first write wins).
      let lo = trace.head;
      let hi = list.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (list[mid]!.seq < e.seq) lo = mid + 1;
        else hi = mid;
      }
      if (list[lo]?.seq === e.seq || (lo === trace.head && lo > 0)) return;
      list.splice(lo, 0, e);
    }
    if (list.length - trace.head > this.#maxEvents) {
      trace.head++;
      // Compact once the dropped prefix outweighs what is kept.
      if (trace.head > 1024 && trace.head * 2 > list.length) {
        trace.list = list.slice(trace.head);
        trace.head = 0;
      }
    }
  }

  #forget(id: string): number {
    const trace = this.#events.get(id);
    this.#events.delete(id);
    this.#traces.delete(id);
    this.#idle.delete(id);
    return trace === undefined ? 0 : trace.list.length - trace.head;
  }

  eventsAfter(tenant: string, traceId: string, afterSeq: number, limit = Number.POSITIVE_INFINITY): Promise<EventRecord[]> {
    const trace = this.#events.get(tenant + SEP + traceId);
    const out: EventRecord[] = [];
    if (trace === undefined) return Promise.resolve(out);
    const list = trace.list;
    for (let i = trace.head; i < list.length && out.length < limit; i++) {
      const e = list[i]!;
      if (e.seq > afterSeq) out.push(e);
    }
    return Promise.resolve(out);
  }

  lastSeq(tenant: string, traceId: string): Promise<number> {
    const trace = this.#events.get(tenant + SEP + traceId);
    return Promise.resolve(trace === undefined || trace.list.length === trace.head ? 0 : trace.list.at(-1)!.seq);
  }

  getTrace(tenant: string, traceId: string): Promise<StoredTrace | undefined> {
    const t = this.#traces.get(tenant + SEP + traceId);
    return Promise.resolve(t === undefined ? undefined : { ...t });
  }

  claimKey(record: IdempotencyRecord, notBefore: number): Promise<string> {
    const id = record.tenant + SEP + record.flow + SEP + record.key;
    const found = this.#keys.get(id);
    if (found !== undefined && found.createdAt >= notBefore) return Promise.resolve(found.traceId);
    this.#keys.set(id, { ...record });
    return Promise.resolve(record.traceId);
  }

  getKey(tenant: string, flow: string, key: string, notBefore: number): Promise<string | undefined> {
    const found = this.#keys.get(tenant + SEP + flow + SEP + key);
    return Promise.resolve(found !== undefined && found.createdAt >= notBefore ? found.traceId : undefined);
  }

  releaseKey(tenant: string, flow: string, key: string, traceId: string): Promise<void> {
    const id = tenant + SEP + flow + SEP + key;
    if (this.#keys.get(id)?.traceId === traceId) this.#keys.delete(id);
    return Promise.resolve();
  }

  prune(cutoffs: PruneCutoffs): Promise<PruneResult> {
    const result: PruneResult = { events: 0, traces: 0, keys: 0 };
    for (const [id, t] of this.#traces) {
      if (t.updatedAt < cutoffs.tracesBefore) {
        result.events += this.#forget(id);
        result.traces++;
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
