/**
 * The transactional half of {@link SqliteTraceStore}: every operation that
 * reads and writes (commit, take, requestCancel, claim, release, heartbeat,
 * forgetReplica, prune) runs here, on the connection that writes. By
 * default that connection lives on a worker thread (sqlite-trace-worker.ts),
 * so commits, lock waits and WAL checkpoints never block the event loop.
 *
 * The decisions are the memory reference store's, line for line, on rows:
 * an operation loads the trace rows it touches once, changes them in
 * JavaScript and writes each back once when it ends (a batch of an accept,
 * outputs, events and the end of one trace updates its row once).
 *
 * Several operations are grouped into one `BEGIN IMMEDIATE` transaction
 * (group commit), each inside its own savepoint: an operation that throws
 * rolls back alone and fails alone. Immediate transactions take SQLite's
 * single write lock up front, so the operations of every connection, in
 * this and other processes, are serialised (a second process waits up to
 * the busy timeout): takes and claims are exactly-once across processes.
 */
import type Database from 'better-sqlite3';
import { parseTraceKey, traceKey } from './trace-key.js';
import { prepareEngineStatements, recordOf, snapshot, type EngineStatements, type TraceRecord } from './sqlite-trace-statements.js';
import { isTerminal, type TerminalState } from './trace-store.js';
import type {
  EncodedAccept,
  EncodedBatch,
  EncodedUpdate,
  EngineOp,
  EngineOps,
  EngineOutcome,
  NoticeParts,
  PruneStep,
  RawAcceptResult,
  RawCancelResult,
  RawClaim,
  RawTakeResult,
} from './sqlite-trace-protocol.js';

// How much a trace row changed within an operation, to write it back once with the cheapest statement.
const CLEAN = 0;
/** Only columns outside every index (counters, cancel flag, updated_at). */
const COUNTERS = 1;
/** Indexed columns too (state, owner, flow, queue position, end). */
const FULL = 2;
/** Not stored yet. */
const NEW = 3;

class Slot {
  constructor(
    readonly rec: TraceRecord,
    public level: number,
    /** The run's first message, when this operation set it (a new run): written with the row. */
    public message: string | undefined = undefined,
  ) {}

  touch(level: number): void {
    if (level > this.level) this.level = level;
  }
}

class NoticeBuilder {
  readonly traces = new Set<string>();
  readonly runners = new Set<string>();
  readonly flows = new Set<string>();
  readonly tenants = new Set<string>();
  events = false;

  parts(): NoticeParts | undefined {
    if (this.traces.size === 0 && this.runners.size === 0 && this.flows.size === 0 && this.tenants.size === 0 && !this.events) return undefined;
    return { traces: [...this.traces], runners: [...this.runners], flows: [...this.flows], tenants: [...this.tenants], events: this.events };
  }
}

/** The state of one operation: its clock, the rows it loaded, pending counter changes. */
class Scope {
  readonly rows = new Map<string, Slot>();
  /** Live traces per tenant: the stored count (once read) and this operation's change. */
  readonly inflight = new Map<string, { base: number | undefined; delta: number }>();
  /** Exact QUEUED count per flow, once counted in this operation. */
  readonly queued = new Map<string, number>();
  /** The next queue position per flow, once read in this operation. */
  readonly nextOrd = new Map<string, number>();
  readonly notice = new NoticeBuilder();

  constructor(readonly now: number) {}
}

function errorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Lease and retention settings the decisions depend on. */
export interface EngineTiming {
  readonly leaseMs: number;
  readonly idempotencyRetentionMs: number;
}

/** Runs operations in write transactions on one connection; see the module comment. */
export class SqliteTraceEngine {
  readonly #db: Database.Database;
  readonly #timing: EngineTiming;
  readonly #s: EngineStatements;
  readonly #group: Database.Transaction<(ops: readonly EngineOp[], outcomes: EngineOutcome[]) => void>;
  readonly #one: (op: EngineOp, scope: Scope) => unknown;

  /** Prepares the statements on `db`, whose schema must be migrated. */
  constructor(db: Database.Database, timing: EngineTiming) {
    this.#db = db;
    this.#timing = timing;
    this.#s = prepareEngineStatements(db);
    // Nested inside #group, better-sqlite3 runs #one as a savepoint.
    this.#one = db.transaction((op: EngineOp, scope: Scope) => {
      const value = this.#dispatch(op, scope);
      this.#flush(scope);
      return value;
    });
    this.#group = db.transaction((ops: readonly EngineOp[], outcomes: EngineOutcome[]) => {
      for (const op of ops) {
        const scope = new Scope(Date.now());
        try {
          const value = this.#one(op, scope);
          outcomes.push({ ok: true, value, notice: scope.notice.parts() });
        } catch (err) {
          // SQLite rolls back the whole transaction on some errors (I/O, full disk):
          // the operations already done are undone too, so all of them fail.
          if (!this.#db.inTransaction) throw err;
          outcomes.push({ ok: false, message: errorMessage(err), code: errorCode(err) });
        }
      }
    });
  }

  /**
   * Runs `ops` in one immediate transaction, each in its own savepoint.
   * @returns one outcome per operation, after the commit.
   * @throws when the transaction cannot begin (busy past the timeout) or commit: nothing was applied.
   */
  execute(ops: readonly EngineOp[]): EngineOutcome[] {
    const outcomes: EngineOutcome[] = [];
    this.#group.immediate(ops, outcomes);
    return outcomes;
  }

  #dispatch(op: EngineOp, sc: Scope): EngineOps[EngineOp['op']]['result'] {
    switch (op.op) {
      case 'commit':
        return this.#commit(op.batch, sc);
      case 'take':
        return this.#take(op.tenant, op.traceId, sc);
      case 'requestCancel':
        return this.#requestCancel(op.tenant, op.traceId, sc);
      case 'claim':
        // As the memory store counts: a fractional limit rounds up.
        return this.#claim(op.replica, op.flow, Math.ceil(op.limit), sc);
      case 'release':
        return this.#release(op.replica, op.keys, sc);
      case 'heartbeat': {
        const r = op.replica;
        const prev = this.#s.getReplica.get(r.id) as number | undefined;
        this.#s.upsertReplica.run(r.id, r.hostname, r.pid, r.startedAt, sc.now, r.draining ? 1 : 0);
        return { lapsed: prev === undefined || sc.now - prev > this.#timing.leaseMs };
      }
      case 'forgetReplica':
        if (this.#s.deleteReplica.run(op.replica).changes > 0) {
          for (const flow of this.#s.ownedFlows.all(op.replica) as string[]) sc.notice.flows.add(flow);
        }
        return null;
      case 'prune':
        return this.#prune(op.cutoffs, Math.max(1, op.limit));
    }
  }

  // --- operations --------------------------------------------------------------

  #commit(batch: EncodedBatch, sc: Scope): EngineOps['commit']['result'] {
    const s = this.#s;
    const accepts = batch.accepts.map((req) => this.#accept(req, sc));
    const fenced = new Set<string>();
    for (const w of batch.outputs) {
      const slot = this.#fenced(sc, w.tenant, w.traceId, w.epoch, fenced);
      if (slot === undefined || w.seq <= slot.rec.last_update_seq) continue;
      const t = slot.rec;
      t.last_update_seq = w.seq;
      if (w.run === t.run) t.stored_this_run++;
      slot.touch(COUNTERS);
      if (!w.consumed) {
        s.insertUpdate.run(t.tenant, t.trace_id, w.seq, w.run, w.kind, w.value);
        sc.notice.traces.add(traceKey(t.tenant, t.trace_id));
      }
    }
    for (const p of batch.putBacks) {
      const slot = this.#load(sc, p.tenant, p.traceId);
      if (slot === undefined || slot.rec.state === 'CANCELLED') continue;
      const u = p.update;
      if (s.insertUpdate.run(p.tenant, p.traceId, u.seq, u.run, u.kind, u.value).changes > 0) sc.notice.traces.add(traceKey(p.tenant, p.traceId));
    }
    for (const e of batch.events) {
      const slot = this.#fenced(sc, e.tenant, e.traceId, e.epoch, fenced);
      if (slot === undefined || e.seq <= slot.rec.last_event_seq) continue;
      s.insertEvent.run(e.tenant, e.traceId, e.seq, e.flow, e.ts, e.kind, e.nodeName ?? null, e.nodeId ?? null, e.payloadJson);
      slot.rec.last_event_seq = e.seq;
      slot.touch(COUNTERS);
      sc.notice.events = true;
    }
    for (const w of batch.ends) {
      const slot = this.#fenced(sc, w.tenant, w.traceId, w.epoch, fenced);
      if (slot === undefined || isTerminal(slot.rec.state)) continue;
      this.#finish(sc, slot, w.state, w.error);
    }
    return { accepts, fenced: [...fenced] };
  }

  #accept(req: EncodedAccept, sc: Scope): RawAcceptResult {
    const s = this.#s;
    const now = sc.now;
    if (req.idempotencyKey !== undefined) {
      const held = s.getKey.get(req.tenant, req.flow, req.idempotencyKey) as { trace_id: string; created_at: number } | undefined;
      if (held !== undefined && now - held.created_at < this.#timing.idempotencyRetentionMs) {
        const holder = this.#load(sc, req.tenant, held.trace_id);
        return { kind: 'duplicate', traceId: held.trace_id, row: holder === undefined ? undefined : snapshot(holder.rec) };
      }
    }
    const key = traceKey(req.tenant, req.traceId);
    let slot = this.#load(sc, req.tenant, req.traceId);
    if (slot !== undefined && !isTerminal(slot.rec.state)) {
      const t = slot.rec;
      if (t.flow !== req.flow) return { kind: 'other_flow', row: snapshot(t) };
      if (t.cancel_requested !== 0) return { kind: 'cancelling', row: snapshot(t) };
      t.input_count++;
      t.updated_at = now;
      slot.touch(COUNTERS);
      s.insertInput.run(t.tenant, t.trace_id, t.run, t.input_count, req.message);
      sc.notice.runners.add(key);
      this.#putKey(req, now);
      return { kind: 'accepted', row: snapshot(t), input: t.input_count, joined: true, lastUpdateSeq: t.last_update_seq, lastEventSeq: t.last_event_seq };
    }
    if (req.maxInflight > 0 && this.#inflight(sc, req.tenant) >= req.maxInflight) return { kind: 'over_quota' };
    if (req.runner === undefined && req.maxQueued > 0 && this.#queuedCount(sc, req.flow) >= req.maxQueued) return { kind: 'queue_full' };
    if (slot === undefined) {
      slot = new Slot(
        {
          id: 0,
          tenant: req.tenant,
          trace_id: req.traceId,
          flow: req.flow,
          state: 'QUEUED',
          run: 1,
          attempt: 0,
          epoch: 1,
          owner: null,
          cancel_requested: 0,
          deadline: req.deadline ?? null,
          traceparent: req.traceparent ?? null,
          error: null,
          created_at: now,
          updated_at: now,
          ended_at: null,
          input_count: 1,
          stored_this_run: 0,
          last_update_seq: 0,
          last_event_seq: 0,
          queue_ord: null,
        },
        NEW,
        req.message,
      );
      sc.rows.set(key, slot);
    } else {
      const t = slot.rec;
      // The ended run's messages can no longer be asked for (inputs() of another run is empty).
      if (t.input_count > 1) s.deleteInputs.run(t.tenant, t.trace_id);
      slot.message = req.message;
      t.flow = req.flow;
      t.run++;
      t.attempt = 0;
      t.epoch++;
      t.cancel_requested = 0;
      t.deadline = req.deadline ?? null;
      t.traceparent = req.traceparent ?? null;
      t.error = null;
      t.ended_at = null;
      t.updated_at = now;
      t.input_count = 1;
      t.stored_this_run = 0;
      slot.touch(FULL);
    }
    const t = slot.rec;
    this.#addInflight(sc, t.tenant, 1);
    if (req.runner === undefined) {
      t.owner = null;
      this.#enqueue(sc, slot);
    } else {
      t.state = 'RUNNING';
      t.owner = req.runner;
      t.attempt = 1;
      t.queue_ord = null;
    }
    this.#putKey(req, now);
    // A new run numbers its updates and events after the trace's last ones (0 for a new trace).
    return { kind: 'accepted', row: snapshot(t), input: 1, joined: false, lastUpdateSeq: t.last_update_seq, lastEventSeq: t.last_event_seq };
  }

  #take(tenant: string, traceId: string, sc: Scope): RawTakeResult {
    const slot = this.#load(sc, tenant, traceId);
    if (slot === undefined) return { kind: 'missing' };
    const t = slot.rec;
    if (t.cancel_requested === 0 && t.state !== 'CANCELLED') {
      const update = this.#s.takeUpdate.get({ tenant, traceId }) as EncodedUpdate | undefined;
      if (update !== undefined) return { kind: 'update', update, row: snapshot(t) };
    }
    return isTerminal(t.state) ? { kind: 'end', row: snapshot(t) } : { kind: 'empty', row: snapshot(t) };
  }

  #requestCancel(tenant: string, traceId: string, sc: Scope): RawCancelResult {
    const slot = this.#load(sc, tenant, traceId);
    if (slot === undefined) return { kind: 'missing' };
    const t = slot.rec;
    if (isTerminal(t.state)) return { kind: 'ended', row: snapshot(t) };
    if (t.state === 'QUEUED' || !this.#alive(t.owner, sc.now)) {
      t.epoch++;
      this.#finish(sc, slot, 'CANCELLED', null);
      return { kind: 'cancelled', row: snapshot(t), lastEventSeq: t.last_event_seq };
    }
    if (t.cancel_requested === 0) {
      t.cancel_requested = 1;
      t.updated_at = sc.now;
      slot.touch(COUNTERS);
      sc.notice.runners.add(traceKey(tenant, traceId));
    }
    return { kind: 'requested', row: snapshot(t) };
  }

  #claim(replica: string, flow: string, limit: number, sc: Scope): RawClaim[] {
    if (!(limit > 0)) return [];
    const s = this.#s;
    const now = sc.now;
    const beats = new Map(s.replicaBeats.all() as [string, number][]);
    const alive = (owner: string): boolean => {
      const hb = beats.get(owner);
      return hb !== undefined && now - hb <= this.#timing.leaseMs;
    };
    // Recovery first: those traces have waited longest.
    let orphans: TraceRecord[] = [];
    for (let owner = s.firstOwner.get() as string | undefined; owner !== undefined; owner = s.nextOwner.get(owner) as string | undefined) {
      // Never its own: a replica whose lease lapsed may still be running them.
      if (owner !== replica && !alive(owner)) for (const a of s.orphans.all(owner, flow, limit) as unknown[][]) orphans.push(recordOf(a));
    }
    orphans.sort((a, b) => a.created_at - b.created_at);
    orphans = orphans.slice(0, limit);
    const queued = orphans.length < limit ? (s.queuedHead.all(flow, limit - orphans.length) as unknown[][]).map(recordOf) : [];
    const claimed: RawClaim[] = [];
    for (const [list, recovered] of [
      [orphans, true],
      [queued, false],
    ] as const) {
      for (const rec of list) {
        const slot = this.#adopt(sc, rec);
        const t = slot.rec;
        const previousOwner = t.owner ?? undefined;
        const previousHeartbeat = recovered && previousOwner !== undefined ? beats.get(previousOwner) : undefined;
        this.#leaveQueue(sc, slot);
        t.state = 'RUNNING';
        t.owner = replica;
        t.epoch++;
        t.attempt++;
        t.updated_at = now;
        slot.touch(FULL);
        claimed.push({
          row: snapshot(t),
          inputs: this.#inputs(slot),
          storedUpdates: t.stored_this_run,
          lastUpdateSeq: t.last_update_seq,
          lastEventSeq: t.last_event_seq,
          previousOwner,
          previousHeartbeat,
        });
      }
    }
    return claimed;
  }

  #release(replica: string, keys: readonly string[] | undefined, sc: Scope): number {
    const slots: Slot[] = [];
    if (keys === undefined) {
      for (const a of this.#s.ownedBy.all(replica) as unknown[][]) slots.push(this.#adopt(sc, recordOf(a)));
    } else {
      for (const key of new Set(keys)) {
        const parsed = parseTraceKey(key);
        const slot = parsed === undefined ? undefined : this.#load(sc, parsed.tenant, parsed.traceId);
        if (slot !== undefined && slot.rec.state === 'RUNNING' && slot.rec.owner === replica) slots.push(slot);
      }
    }
    for (const slot of slots) {
      const t = slot.rec;
      t.owner = null;
      t.epoch++;
      t.updated_at = sc.now;
      this.#enqueue(sc, slot);
    }
    return slots.length;
  }

  #prune(c: EngineOps['prune']['args']['cutoffs'], limit: number): PruneStep {
    const s = this.#s;
    const updates = s.pruneUpdates.run(c.updatesEndedBefore, limit).changes;
    const victims = s.endedBefore.all(c.tracesEndedBefore, limit) as [number, string, string][];
    for (const [id, tenant, traceId] of victims) {
      s.deleteInputs.run(tenant, traceId);
      s.dropUpdates.run(tenant, traceId);
      s.deleteEvents.run(tenant, traceId);
      s.deleteTrace.run(id);
    }
    const keys = s.pruneKeys.run(c.keysCreatedBefore, limit).changes;
    const replicas = s.pruneReplicas.run(c.replicasSeenBefore).changes;
    return { traces: victims.length, updates, keys, replicas, more: updates >= limit || victims.length >= limit || keys >= limit };
  }

  // --- helpers -----------------------------------------------------------------

  #load(sc: Scope, tenant: string, traceId: string): Slot | undefined {
    const key = traceKey(tenant, traceId);
    let slot = sc.rows.get(key);
    if (slot === undefined) {
      const a = this.#s.getTrace.get(tenant, traceId) as unknown[] | undefined;
      if (a === undefined) return undefined;
      slot = new Slot(recordOf(a), CLEAN);
      sc.rows.set(key, slot);
    }
    return slot;
  }

  /** The slot of a row read by a query (the operation's loaded copy wins: it may be newer). */
  #adopt(sc: Scope, rec: TraceRecord): Slot {
    const key = traceKey(rec.tenant, rec.trace_id);
    let slot = sc.rows.get(key);
    if (slot === undefined) {
      slot = new Slot(rec, CLEAN);
      sc.rows.set(key, slot);
    }
    return slot;
  }

  /** The trace a fenced write targets, or undefined (noted in `fenced`) when the write is refused. */
  #fenced(sc: Scope, tenant: string, traceId: string, epoch: number, fenced: Set<string>): Slot | undefined {
    const slot = this.#load(sc, tenant, traceId);
    if (slot === undefined || slot.rec.epoch !== epoch) {
      fenced.add(traceKey(tenant, traceId));
      return undefined;
    }
    return slot;
  }

  #finish(sc: Scope, slot: Slot, state: TerminalState, error: string | null): void {
    const t = slot.rec;
    this.#leaveQueue(sc, slot);
    t.state = state;
    t.owner = null;
    t.cancel_requested = 0;
    t.error = error;
    t.ended_at = sc.now;
    t.updated_at = sc.now;
    slot.touch(FULL);
    if (state === 'CANCELLED') this.#s.dropUpdates.run(t.tenant, t.trace_id);
    this.#addInflight(sc, t.tenant, -1);
    sc.notice.traces.add(traceKey(t.tenant, t.trace_id));
    sc.notice.tenants.add(t.tenant);
  }

  #alive(owner: string | null, now: number): boolean {
    if (owner === null) return false;
    const hb = this.#s.getReplica.get(owner) as number | undefined;
    return hb !== undefined && now - hb <= this.#timing.leaseMs;
  }

  /** Makes the trace QUEUED at the end of its flow's queue. */
  #enqueue(sc: Scope, slot: Slot): void {
    const t = slot.rec;
    let ord = sc.nextOrd.get(t.flow);
    if (ord === undefined) ord = ((this.#s.lastQueueOrd.get(t.flow) as number | undefined) ?? 0) + 1;
    sc.nextOrd.set(t.flow, ord + 1);
    // queue_ord is set exactly while a trace waits in its flow's queue.
    const counted = sc.queued.get(t.flow);
    if (counted !== undefined && t.queue_ord === null) sc.queued.set(t.flow, counted + 1);
    t.state = 'QUEUED';
    t.queue_ord = ord;
    slot.touch(FULL);
    sc.notice.flows.add(t.flow);
  }

  /** Takes a QUEUED trace out of its flow's queue (the caller sets its new state). */
  #leaveQueue(sc: Scope, slot: Slot): void {
    const t = slot.rec;
    if (t.queue_ord === null) return;
    const counted = sc.queued.get(t.flow);
    if (counted !== undefined) sc.queued.set(t.flow, counted - 1);
    t.queue_ord = null;
    slot.touch(FULL);
  }

  #queuedCount(sc: Scope, flow: string): number {
    let n = sc.queued.get(flow);
    if (n === undefined) {
      // Count what is stored, this operation's changes included.
      this.#flushRows(sc);
      n = this.#s.countQueued.get(flow) as number;
      sc.queued.set(flow, n);
    }
    return n;
  }

  #inflight(sc: Scope, tenant: string): number {
    let e = sc.inflight.get(tenant);
    if (e === undefined) {
      e = { base: undefined, delta: 0 };
      sc.inflight.set(tenant, e);
    }
    e.base ??= (this.#s.getInflight.get(tenant) as number | undefined) ?? 0;
    return e.base + e.delta;
  }

  #addInflight(sc: Scope, tenant: string, delta: number): void {
    const e = sc.inflight.get(tenant);
    if (e === undefined) sc.inflight.set(tenant, { base: undefined, delta });
    else e.delta += delta;
  }

  /** The current run's messages, in order: the row's first, then the joined ones. */
  #inputs(slot: Slot): string[] {
    const t = slot.rec;
    // Written by this operation's flush before a claim reads it (a claim never starts a run).
    const first = this.#s.firstInput.get(t.id) as string;
    return t.input_count > 1 ? [first, ...(this.#s.moreInputs.all(t.tenant, t.trace_id, t.run) as string[])] : [first];
  }

  #putKey(req: EncodedAccept, now: number): void {
    if (req.idempotencyKey !== undefined) this.#s.putKey.run(req.tenant, req.flow, req.idempotencyKey, req.traceId, now);
  }

  #flushRows(sc: Scope): void {
    const s = this.#s;
    for (const slot of sc.rows.values()) {
      if (slot.level === CLEAN) continue;
      const t = slot.rec;
      if (slot.level === NEW) {
        t.id = Number(
          s.insertTrace.run(
            t.tenant, t.trace_id, t.flow, t.state, t.run, t.attempt, t.epoch, t.owner, t.cancel_requested, t.deadline, t.traceparent, t.error,
            t.created_at, t.updated_at, t.ended_at, t.input_count, t.stored_this_run, t.last_update_seq, t.last_event_seq, t.queue_ord, slot.message,
          ).lastInsertRowid,
        );
      } else {
        if (slot.level === FULL) {
          s.updateFull.run(
            t.flow, t.state, t.run, t.attempt, t.epoch, t.owner, t.cancel_requested, t.deadline, t.traceparent, t.error, t.updated_at, t.ended_at,
            t.input_count, t.stored_this_run, t.last_update_seq, t.last_event_seq, t.queue_ord, t.id,
          );
        } else {
          s.updateCounters.run(t.cancel_requested, t.updated_at, t.input_count, t.stored_this_run, t.last_update_seq, t.last_event_seq, t.id);
        }
        if (slot.message !== undefined) s.setMessage.run(slot.message, t.id);
      }
      slot.level = CLEAN;
      slot.message = undefined;
    }
  }

  #flush(sc: Scope): void {
    this.#flushRows(sc);
    for (const [tenant, e] of sc.inflight) {
      if (e.delta === 0) continue;
      this.#s.addInflight.run(tenant, e.delta);
      if (e.base !== undefined) e.base += e.delta;
      e.delta = 0;
    }
  }
}
