/**
 * {@link TraceStore} in process memory: `PENGUIFLOW_STORE=memory`, and the
 * reference the contract suite holds the durable stores to.
 *
 * Nothing survives the process. Memory is bounded: an ended trace is kept
 * for `retentionMs` or until `maxEndedPerFlow` newer traces of its flow
 * ended (oldest forgotten first), each trace keeps at most
 * `maxEventsPerTrace` events, and the event tail keeps `maxTailEvents`.
 * Several replicas may share one instance (tests of the cluster logic
 * without a database): ownership, leases, claims and fencing behave as in
 * PostgreSQL, with the replicas' heartbeats as leases.
 *
 * Values are kept by reference (no codec): a value handed to `commit` must
 * not be mutated afterwards.
 */
import {
  isTerminal,
  type AcceptRequest,
  type AcceptResult,
  type CancelRequestResult,
  type ClaimedTrace,
  type CommitBatch,
  type CommitResult,
  type EventTail,
  type OwnedTrace,
  type ReplicaRow,
  type StoredEventRow,
  type StoredUpdate,
  type StoreNotice,
  type TakeResult,
  type TraceRow,
  type TraceState,
  type TraceStore,
  type TraceStoreTiming,
  type TracePruneCutoffs,
  type TracePruneResult,
} from './trace-store.js';
import { traceKey } from './trace-key.js';

/** Options of {@link MemoryTraceStore}. */
export interface MemoryTraceStoreOptions extends TraceStoreTiming {
  /** How long an ended trace (its status, unread updates and events) is kept. */
  readonly retentionMs: number;
  /** Most ended traces kept per flow; the oldest ended are forgotten first. */
  readonly maxEndedPerFlow: number;
  /** Most events kept per trace (oldest dropped first); default 10 000. */
  readonly maxEventsPerTrace?: number;
  /** Most events kept in the cluster-wide tail; default 100 000. */
  readonly maxTailEvents?: number;
  /** Clock (epoch ms); default `Date.now`. */
  readonly now?: () => number;
}

interface MemTrace {
  readonly tenant: string;
  readonly traceId: string;
  readonly key: string;
  flow: string;
  state: TraceState;
  run: number;
  attempt: number;
  epoch: number;
  owner: string | undefined;
  cancelRequested: boolean;
  deadline: number | undefined;
  traceparent: string | undefined;
  error: unknown;
  readonly createdAt: number;
  updatedAt: number;
  endedAt: number | undefined;
  inputs: unknown[];
  /** Unread updates in seq order. */
  unread: StoredUpdate[];
  storedThisRun: number;
  lastUpdateSeq: number;
  events: StoredEventRow[];
  lastEventSeq: number;
  /** Links of the flow's ended list (oldest end first). */
  prev: MemTrace | null;
  next: MemTrace | null;
  inEnded: boolean;
}

/** A flow's ended traces, oldest end first (intrusive list: O(1) per end and per forget). */
interface EndedList {
  head: MemTrace | null;
  tail: MemTrace | null;
  size: number;
}

const SEP = '\u001f';

function snapshot(t: MemTrace): TraceRow {
  return {
    tenant: t.tenant,
    traceId: t.traceId,
    flow: t.flow,
    state: t.state,
    run: t.run,
    attempt: t.attempt,
    epoch: t.epoch,
    owner: t.owner,
    cancelRequested: t.cancelRequested,
    deadline: t.deadline,
    traceparent: t.traceparent,
    error: t.error,
    createdAt: t.createdAt,
    updatedAt: t.updatedAt,
    endedAt: t.endedAt,
  };
}

/** Collects what a commit or a cancellation changed, for one notice. */
class NoticeBuilder {
  traces: string[] = [];
  runners: string[] = [];
  flows: string[] = [];
  tenants: string[] = [];
  events = false;

  get empty(): boolean {
    return this.traces.length === 0 && this.runners.length === 0 && this.flows.length === 0 && this.tenants.length === 0 && !this.events;
  }
}

/** In-memory trace store; see the module comment. */
export class MemoryTraceStore implements TraceStore {
  readonly kind = 'memory' as const;
  readonly #traces = new Map<string, MemTrace>();
  /** QUEUED traces per flow, in queueing order. */
  readonly #queued = new Map<string, Set<MemTrace>>();
  /** RUNNING traces per owner. */
  readonly #owned = new Map<string, Set<MemTrace>>();
  readonly #ended = new Map<string, EndedList>();
  readonly #inflight = new Map<string, number>();
  readonly #keys = new Map<string, { traceId: string; createdAt: number }>();
  readonly #replicas = new Map<string, ReplicaRow>();
  readonly #listeners = new Set<(notice: StoreNotice) => void>();
  #tail: StoredEventRow[] = [];
  /** Absolute position of `#tail[0]`. */
  #tailBase = 0;
  readonly #opts: MemoryTraceStoreOptions;
  readonly #now: () => number;
  readonly #maxEvents: number;
  readonly #maxTail: number;

  constructor(opts: MemoryTraceStoreOptions) {
    this.#opts = opts;
    this.#now = opts.now ?? Date.now;
    this.#maxEvents = Math.max(1, opts.maxEventsPerTrace ?? 10_000);
    this.#maxTail = Math.max(1, opts.maxTailEvents ?? 100_000);
  }

  /** Traces held (running and ended): diagnostics and leak tests. */
  get size(): number {
    return this.#traces.size;
  }

  init(): Promise<void> {
    return Promise.resolve();
  }

  ping(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.#listeners.clear();
    return Promise.resolve();
  }

  prune(cutoffs: TracePruneCutoffs): Promise<TracePruneResult> {
    let traces = 0;
    let updates = 0;
    let keys = 0;
    let replicas = 0;
    for (const list of this.#ended.values()) {
      for (let t = list.head; t !== null; t = t.next) {
        if (t.endedAt === undefined || t.endedAt >= cutoffs.updatesEndedBefore) break;
        updates += t.unread.length;
        t.unread = [];
      }
      for (let t = list.head; t !== null; t = list.head) {
        if (t.endedAt === undefined || t.endedAt >= cutoffs.tracesEndedBefore) break;
        this.#forget(t);
        traces++;
      }
    }
    for (const [k, v] of this.#keys) {
      if (v.createdAt >= cutoffs.keysCreatedBefore) break;
      this.#keys.delete(k);
      keys++;
    }
    for (const [id, r] of this.#replicas) {
      if (r.heartbeatAt < cutoffs.replicasSeenBefore && !this.#owned.has(id)) {
        this.#replicas.delete(id);
        replicas++;
      }
    }
    return Promise.resolve({ traces, updates, keys, replicas });
  }

  commit(batch: CommitBatch): Promise<CommitResult> {
    const now = this.#now();
    const notice = new NoticeBuilder();
    const accepts = batch.accepts.map((req) => this.#accept(req, now, notice));
    const fenced = new Set<string>();
    for (const w of batch.outputs) {
      const t = this.#fenced(w.tenant, w.traceId, w.epoch, fenced);
      if (t === undefined || w.seq <= t.lastUpdateSeq) continue;
      t.lastUpdateSeq = w.seq;
      if (w.run === t.run) t.storedThisRun++;
      if (!w.consumed) {
        t.unread.push({ seq: w.seq, run: w.run, kind: w.kind, value: w.value });
        notice.traces.push(t.key);
      }
    }
    for (const p of batch.putBacks) {
      const t = this.#traces.get(traceKey(p.tenant, p.traceId));
      if (t === undefined || t.state === 'CANCELLED') continue;
      let at = 0;
      while (at < t.unread.length && t.unread[at]!.seq < p.update.seq) at++;
      if (t.unread[at]?.seq === p.update.seq) continue;
      t.unread.splice(at, 0, p.update);
      notice.traces.push(t.key);
    }
    for (const e of batch.events) {
      const t = this.#fenced(e.tenant, e.traceId, e.epoch, fenced);
      if (t === undefined || e.seq <= t.lastEventSeq) continue;
      this.#appendEvent(t, { tenant: e.tenant, traceId: e.traceId, seq: e.seq, flow: e.flow, ts: e.ts, kind: e.kind, nodeName: e.nodeName, nodeId: e.nodeId, payloadJson: e.payloadJson });
      notice.events = true;
    }
    for (const w of batch.ends) {
      const t = this.#fenced(w.tenant, w.traceId, w.epoch, fenced);
      if (t === undefined || isTerminal(t.state)) continue;
      this.#finish(t, w.state, w.error, now, notice);
    }
    this.#publish(notice, now);
    return Promise.resolve({ accepts, fenced });
  }

  getTrace(tenant: string, traceId: string): Promise<TraceRow | undefined> {
    const t = this.#traces.get(traceKey(tenant, traceId));
    return Promise.resolve(t === undefined ? undefined : snapshot(t));
  }

  take(tenant: string, traceId: string): Promise<TakeResult> {
    const t = this.#traces.get(traceKey(tenant, traceId));
    if (t === undefined) return Promise.resolve({ kind: 'missing' });
    if (t.cancelRequested || t.state === 'CANCELLED') {
      return Promise.resolve(isTerminal(t.state) ? { kind: 'end', row: snapshot(t) } : { kind: 'empty', row: snapshot(t) });
    }
    const update = t.unread.shift();
    if (update !== undefined) return Promise.resolve({ kind: 'update', update, row: snapshot(t) });
    return Promise.resolve(isTerminal(t.state) ? { kind: 'end', row: snapshot(t) } : { kind: 'empty', row: snapshot(t) });
  }

  requestCancel(tenant: string, traceId: string, _by: string): Promise<CancelRequestResult> {
    const t = this.#traces.get(traceKey(tenant, traceId));
    if (t === undefined) return Promise.resolve({ kind: 'missing' });
    if (isTerminal(t.state)) return Promise.resolve({ kind: 'ended', row: snapshot(t) });
    const now = this.#now();
    if (t.state === 'QUEUED' || !this.#alive(t.owner, now)) {
      const notice = new NoticeBuilder();
      t.epoch++;
      this.#finish(t, 'CANCELLED', undefined, now, notice);
      this.#publish(notice, now);
      return Promise.resolve({ kind: 'cancelled', row: snapshot(t), lastEventSeq: t.lastEventSeq });
    }
    if (!t.cancelRequested) {
      t.cancelRequested = true;
      t.updatedAt = now;
      const notice = new NoticeBuilder();
      notice.runners.push(t.key);
      this.#publish(notice, now);
    }
    return Promise.resolve({ kind: 'requested', row: snapshot(t) });
  }

  claim(replica: string, flow: string, limit: number): Promise<ClaimedTrace[]> {
    const now = this.#now();
    const claimed: ClaimedTrace[] = [];
    const take = (t: MemTrace, recovered: boolean): void => {
      const previousOwner = t.owner;
      const previousHeartbeat = recovered && previousOwner !== undefined ? this.#replicas.get(previousOwner)?.heartbeatAt : undefined;
      this.#unqueue(t);
      this.#disown(t);
      t.state = 'RUNNING';
      t.owner = replica;
      t.epoch++;
      t.attempt++;
      t.updatedAt = now;
      this.#own(t);
      claimed.push({
        row: snapshot(t),
        inputs: [...t.inputs],
        storedUpdates: t.storedThisRun,
        lastUpdateSeq: t.lastUpdateSeq,
        lastEventSeq: t.lastEventSeq,
        previousOwner,
        previousHeartbeat,
      });
    };
    // Recovery first: those traces have waited longest.
    const orphans: MemTrace[] = [];
    for (const [owner, set] of this.#owned) {
      // Never its own: a replica whose lease lapsed may still be running them.
      if (owner === replica || this.#alive(owner, now)) continue;
      for (const t of set) if (t.flow === flow) orphans.push(t);
    }
    orphans.sort((a, b) => a.createdAt - b.createdAt);
    for (const t of orphans) {
      if (claimed.length >= limit) break;
      take(t, true);
    }
    const queue = this.#queued.get(flow);
    if (queue !== undefined) {
      for (const t of queue) {
        if (claimed.length >= limit) break;
        take(t, false);
      }
    }
    return Promise.resolve(claimed);
  }

  inputs(tenant: string, traceId: string, run: number, afterInput: number): Promise<unknown[]> {
    const t = this.#traces.get(traceKey(tenant, traceId));
    if (t === undefined || t.run !== run) return Promise.resolve([]);
    return Promise.resolve(t.inputs.slice(afterInput));
  }

  heartbeat(replica: Omit<ReplicaRow, 'heartbeatAt'>): Promise<{ readonly lapsed: boolean }> {
    const now = this.#now();
    const prev = this.#replicas.get(replica.id);
    const lapsed = prev === undefined || now - prev.heartbeatAt > this.#opts.leaseMs;
    this.#replicas.set(replica.id, { ...replica, heartbeatAt: now });
    return Promise.resolve({ lapsed });
  }

  owned(replica: string): Promise<OwnedTrace[]> {
    const set = this.#owned.get(replica);
    return Promise.resolve(
      set === undefined ? [] : [...set].map((t) => ({ tenant: t.tenant, traceId: t.traceId, epoch: t.epoch, run: t.run, cancelRequested: t.cancelRequested, inputCount: t.inputs.length })),
    );
  }

  release(replica: string, keys?: readonly string[]): Promise<number> {
    const set = this.#owned.get(replica);
    if (set === undefined) return Promise.resolve(0);
    const wanted = keys === undefined ? undefined : new Set(keys);
    const now = this.#now();
    const notice = new NoticeBuilder();
    let released = 0;
    for (const t of [...set]) {
      if (wanted !== undefined && !wanted.has(t.key)) continue;
      this.#disown(t);
      t.state = 'QUEUED';
      t.owner = undefined;
      t.epoch++;
      t.updatedAt = now;
      this.#enqueue(t);
      notice.flows.push(t.flow);
      released++;
    }
    this.#publish(notice, now);
    return Promise.resolve(released);
  }

  replicas(): Promise<ReplicaRow[]> {
    return Promise.resolve([...this.#replicas.values()]);
  }

  forgetReplica(replica: string): Promise<void> {
    if (this.#replicas.delete(replica)) {
      const notice = new NoticeBuilder();
      for (const t of this.#owned.get(replica) ?? []) notice.flows.push(t.flow);
      this.#publish(notice, this.#now());
    }
    return Promise.resolve();
  }

  eventsAfter(tenant: string, traceId: string, afterSeq: number, limit = Number.POSITIVE_INFINITY): Promise<StoredEventRow[]> {
    const t = this.#traces.get(traceKey(tenant, traceId));
    if (t === undefined) return Promise.resolve([]);
    const out: StoredEventRow[] = [];
    for (const e of t.events) {
      if (out.length >= limit) break;
      if (e.seq > afterSeq) out.push(e);
    }
    return Promise.resolve(out);
  }

  tailStart(): Promise<string> {
    return Promise.resolve(String(this.#tailBase + this.#tail.length));
  }

  tailEvents(cursor: string, limit: number): Promise<EventTail> {
    const from = Math.max(Number(cursor) || 0, this.#tailBase);
    const start = from - this.#tailBase;
    const events = this.#tail.slice(start, start + Math.max(0, limit));
    return Promise.resolve({ events, cursor: String(from + events.length) });
  }

  listen(listener: (notice: StoreNotice) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Forgets ended traces past their retention and idempotency keys past
   * theirs. The host calls it periodically.
   */
  sweep(now = this.#now()): void {
    for (const list of this.#ended.values()) {
      for (let t = list.head; t !== null; t = list.head) {
        if (t.endedAt !== undefined && now - t.endedAt < this.#opts.retentionMs) break;
        this.#forget(t);
      }
    }
    for (const [k, v] of this.#keys) {
      if (now - v.createdAt < this.#opts.idempotencyRetentionMs) break;
      this.#keys.delete(k);
    }
  }

  // --- internals -------------------------------------------------------------

  #accept(req: AcceptRequest, now: number, notice: NoticeBuilder): AcceptResult {
    const keyId = req.idempotencyKey === undefined ? undefined : req.tenant + SEP + req.flow + SEP + req.idempotencyKey;
    if (keyId !== undefined) {
      const held = this.#keys.get(keyId);
      if (held !== undefined && now - held.createdAt < this.#opts.idempotencyRetentionMs) {
        const holder = this.#traces.get(traceKey(req.tenant, held.traceId));
        return { kind: 'duplicate', traceId: held.traceId, row: holder === undefined ? undefined : snapshot(holder) };
      }
    }
    const key = traceKey(req.tenant, req.traceId);
    let t = this.#traces.get(key);
    if (t !== undefined && !isTerminal(t.state)) {
      if (t.flow !== req.flow) return { kind: 'other_flow', row: snapshot(t) };
      if (t.cancelRequested) return { kind: 'cancelling', row: snapshot(t) };
      t.inputs.push(req.message);
      t.updatedAt = now;
      notice.runners.push(key);
      this.#claimKey(keyId, req.traceId, now);
      return { kind: 'accepted', row: snapshot(t), input: t.inputs.length, joined: true, lastUpdateSeq: t.lastUpdateSeq, lastEventSeq: t.lastEventSeq };
    }
    if (req.maxInflight > 0 && (this.#inflight.get(req.tenant) ?? 0) >= req.maxInflight) return { kind: 'over_quota' };
    if (req.runner === undefined && req.maxQueued > 0 && (this.#queued.get(req.flow)?.size ?? 0) >= req.maxQueued) return { kind: 'queue_full' };
    if (t === undefined) {
      t = {
        tenant: req.tenant,
        traceId: req.traceId,
        key,
        flow: req.flow,
        state: 'QUEUED',
        run: 1,
        attempt: 0,
        epoch: 1,
        owner: undefined,
        cancelRequested: false,
        deadline: req.deadline,
        traceparent: req.traceparent,
        error: undefined,
        createdAt: now,
        updatedAt: now,
        endedAt: undefined,
        inputs: [req.message],
        unread: [],
        storedThisRun: 0,
        lastUpdateSeq: 0,
        events: [],
        lastEventSeq: 0,
        prev: null,
        next: null,
        inEnded: false,
      };
      this.#traces.set(key, t);
    } else {
      this.#unlinkEnded(t);
      t.flow = req.flow;
      t.run++;
      t.attempt = 0;
      t.epoch++;
      t.cancelRequested = false;
      t.deadline = req.deadline;
      t.traceparent = req.traceparent;
      t.error = undefined;
      t.endedAt = undefined;
      t.updatedAt = now;
      t.inputs = [req.message];
      t.storedThisRun = 0;
    }
    this.#inflight.set(req.tenant, (this.#inflight.get(req.tenant) ?? 0) + 1);
    if (req.runner === undefined) {
      t.state = 'QUEUED';
      t.owner = undefined;
      this.#enqueue(t);
      notice.flows.push(t.flow);
    } else {
      t.state = 'RUNNING';
      t.owner = req.runner;
      t.attempt = 1;
      this.#own(t);
    }
    this.#claimKey(keyId, req.traceId, now);
    return { kind: 'accepted', row: snapshot(t), input: 1, joined: false, lastUpdateSeq: t.lastUpdateSeq, lastEventSeq: t.lastEventSeq };
  }

  #claimKey(keyId: string | undefined, traceId: string, now: number): void {
    if (keyId === undefined) return;
    // Re-inserted so the map stays in creation order (sweep stops at the first young key).
    this.#keys.delete(keyId);
    this.#keys.set(keyId, { traceId, createdAt: now });
  }

  /** The trace a fenced write targets, or undefined (noted in `fenced`) when the write is refused. */
  #fenced(tenant: string, traceId: string, epoch: number, fenced: Set<string>): MemTrace | undefined {
    const key = traceKey(tenant, traceId);
    const t = this.#traces.get(key);
    if (t === undefined || t.epoch !== epoch) {
      fenced.add(key);
      return undefined;
    }
    return t;
  }

  #finish(t: MemTrace, state: TraceState, error: unknown, now: number, notice: NoticeBuilder): void {
    this.#unqueue(t);
    this.#disown(t);
    t.state = state;
    t.owner = undefined;
    t.cancelRequested = false;
    t.error = error;
    t.endedAt = now;
    t.updatedAt = now;
    if (state === 'CANCELLED') t.unread = [];
    const left = (this.#inflight.get(t.tenant) ?? 1) - 1;
    if (left > 0) this.#inflight.set(t.tenant, left);
    else this.#inflight.delete(t.tenant);
    notice.traces.push(t.key);
    notice.tenants.push(t.tenant);
    this.#linkEnded(t);
  }

  #appendEvent(t: MemTrace, e: StoredEventRow): void {
    t.lastEventSeq = e.seq;
    t.events.push(e);
    if (t.events.length > this.#maxEvents) t.events.shift();
    this.#tail.push(e);
    if (this.#tail.length > this.#maxTail * 2) {
      const drop = this.#tail.length - this.#maxTail;
      this.#tail = this.#tail.slice(drop);
      this.#tailBase += drop;
    }
  }

  #alive(owner: string | undefined, now: number): boolean {
    if (owner === undefined) return false;
    const r = this.#replicas.get(owner);
    return r !== undefined && now - r.heartbeatAt <= this.#opts.leaseMs;
  }

  #enqueue(t: MemTrace): void {
    let q = this.#queued.get(t.flow);
    if (q === undefined) {
      q = new Set();
      this.#queued.set(t.flow, q);
    }
    q.add(t);
  }

  #unqueue(t: MemTrace): void {
    const q = this.#queued.get(t.flow);
    if (q !== undefined && q.delete(t) && q.size === 0) this.#queued.delete(t.flow);
  }

  #own(t: MemTrace): void {
    if (t.owner === undefined) return;
    let set = this.#owned.get(t.owner);
    if (set === undefined) {
      set = new Set();
      this.#owned.set(t.owner, set);
    }
    set.add(t);
  }

  #disown(t: MemTrace): void {
    if (t.owner === undefined) return;
    const set = this.#owned.get(t.owner);
    if (set !== undefined && set.delete(t) && set.size === 0) this.#owned.delete(t.owner);
  }

  #linkEnded(t: MemTrace): void {
    this.#unlinkEnded(t);
    let list = this.#ended.get(t.flow);
    if (list === undefined) {
      list = { head: null, tail: null, size: 0 };
      this.#ended.set(t.flow, list);
    }
    t.prev = list.tail;
    t.next = null;
    if (list.tail === null) list.head = t;
    else list.tail.next = t;
    list.tail = t;
    list.size++;
    t.inEnded = true;
    while (list.size > this.#opts.maxEndedPerFlow && list.head !== null) this.#forget(list.head);
  }

  #unlinkEnded(t: MemTrace): void {
    if (!t.inEnded) return;
    const list = this.#ended.get(t.flow);
    if (list === undefined) return;
    if (t.prev === null) list.head = t.next;
    else t.prev.next = t.next;
    if (t.next === null) list.tail = t.prev;
    else t.next.prev = t.prev;
    t.prev = null;
    t.next = null;
    t.inEnded = false;
    list.size--;
  }

  #forget(t: MemTrace): void {
    this.#unlinkEnded(t);
    this.#traces.delete(t.key);
  }

  #publish(b: NoticeBuilder, now: number): void {
    if (b.empty || this.#listeners.size === 0) return;
    const notice: StoreNotice = { traces: b.traces, runners: b.runners, flows: [...new Set(b.flows)], tenants: [...new Set(b.tenants)], events: b.events, sentAt: now };
    // After the commit returns, as a database's notification arrives after its transaction.
    queueMicrotask(() => {
      for (const listener of this.#listeners) {
        try {
          listener(notice);
        } catch {
          // A listener's failure must not affect the store or other listeners.
        }
      }
    });
  }
}
