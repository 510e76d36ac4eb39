/**
 * {@link TraceStore} on SQLite (better-sqlite3): the embedded default, the
 * cluster backbone of one machine. A restart finds every accepted trace,
 * its unread outputs and its events in the file, and re-runs the ones that
 * were running (their owner's lease lapses, or the new process forgets it).
 *
 * Two connections per store:
 * - the writer, on a worker thread by default (sqlite-trace-thread.ts):
 *   every operation that writes, and the reads its decisions depend on,
 *   run there in `BEGIN IMMEDIATE` transactions (sqlite-trace-engine.ts),
 *   so a commit, a wait for another process's write lock or a WAL
 *   checkpoint never blocks the event loop;
 * - a reader on the caller's thread for plain reads (getTrace, inputs,
 *   owned, replicas, eventsAfter, the event tail, and a take that finds
 *   nothing to hand out): in WAL mode a read sees every transaction
 *   committed before it starts and never waits for the writer, and a
 *   synchronous read of a few rows costs microseconds, less than a round
 *   trip to the thread.
 *
 * Group commit: the operations called within one event-loop turn go to the
 * writer as one request and run in one transaction (each in a savepoint, so
 * one failing operation fails alone); while the writer is busy, later
 * operations gather into the next request. At most two requests are in
 * flight, so the writer never waits for this thread between transactions.
 *
 * Several processes may open one file (a second server, or a restart while
 * the old process is still exiting): SQLite serialises their write
 * transactions (each waits up to `busyTimeoutMs` for the lock), so takes
 * and claims stay exactly-once. {@link StoreNotice}s reach only the
 * listeners of the store that committed; other processes find changes by
 * polling, as every waiter does anyway.
 */
import type Database from 'better-sqlite3';
import { migrateSqlite } from '../sqlite-migrations.js';
import { openTraceDatabase } from './sqlite-trace-statements.js';
import { TRACE_TUPLE_COLUMNS, type EngineOp, type EngineOps, type NoticeParts, type RawAcceptResult, type TraceTuple } from './sqlite-trace-protocol.js';
import { InlineTransport, storeError, ThreadTransport, type EngineTransport } from './sqlite-trace-thread.js';
import {
  isTerminal,
  type AcceptResult,
  type CancelRequestResult,
  type ClaimedTrace,
  type CommitBatch,
  type CommitResult,
  type EventTail,
  type OwnedTrace,
  type ReplicaRow,
  type StoredEventRow,
  type StoreNotice,
  type TakeResult,
  type TracePruneCutoffs,
  type TracePruneResult,
  type TraceRow,
  type TraceStore,
  type TraceStoreTiming,
  type ValueCodec,
} from './trace-store.js';

/** Options of {@link SqliteTraceStore}. */
export interface SqliteTraceStoreOptions extends TraceStoreTiming {
  /** The data file (parent directories are created), or `:memory:` (one connection, nothing shared or kept). */
  readonly path: string;
  /** Turns messages, outputs and errors into the text stored, and back. */
  readonly codec: ValueCodec;
  /**
   * Run write transactions on a worker thread (default true for a file;
   * always false for `:memory:`). False runs them inline, blocking the
   * event loop for each transaction: for tools and measurements.
   */
  readonly writerThread?: boolean;
  /** How long a transaction waits for another process's write lock; default 5000 ms. */
  readonly busyTimeoutMs?: number;
}

/** Most requests in flight to the writer: one running, one waiting, the rest gathering. */
const MAX_IN_FLIGHT = 2;
/** Most operations in one transaction. */
const MAX_GROUP = 1024;
/** Rows each prune step deletes per kind, so a large prune never holds the write lock long. */
const PRUNE_STEP = 500;

interface Pending {
  readonly op: EngineOp;
  resolve(value: unknown): void;
  reject(err: Error): void;
}

/** The columns of an event row as read (an array: cheaper than an object per row). */
const EVENT_COLUMNS = 'id, tenant, trace_id, seq, flow, ts, kind, node_name, node_id, payload';
type EventTuple = [id: number, tenant: string, traceId: string, seq: number, flow: string, ts: number, kind: string, nodeName: string | null, nodeId: string | null, payload: string];

interface ReplicaRecord {
  id: string;
  hostname: string;
  pid: number;
  started_at: number;
  heartbeat_at: number;
  draining: number;
}

function toEvent(r: EventTuple): StoredEventRow {
  return { tenant: r[1], traceId: r[2], seq: r[3], flow: r[4], ts: r[5], kind: r[6], nodeName: r[7] ?? undefined, nodeId: r[8] ?? undefined, payloadJson: r[9] };
}

type Reads = Record<'getTrace' | 'peek' | 'inputs' | 'owned' | 'replicas' | 'eventsAfter' | 'tailStart' | 'tailEvents' | 'ping', Database.Statement>;

/** SQLite trace store; see the module comment. */
export class SqliteTraceStore implements TraceStore {
  readonly kind = 'sqlite' as const;
  readonly path: string;
  readonly #opts: SqliteTraceStoreOptions;
  readonly #codec: ValueCodec;
  #db: Database.Database | undefined;
  #reads: Reads | undefined;
  #transport: EngineTransport | undefined;
  #opening: Promise<void> | undefined;
  readonly #listeners = new Set<(notice: StoreNotice) => void>();
  #queue: Pending[] = [];
  #inFlight = 0;
  #scheduled = false;
  #idle: (() => void)[] = [];

  constructor(opts: SqliteTraceStoreOptions) {
    this.#opts = opts;
    this.path = opts.path;
    this.#codec = opts.codec;
  }

  init(): Promise<void> {
    this.#opening ??= this.#open().catch((err: unknown) => {
      this.#opening = undefined;
      throw err;
    });
    return this.#opening;
  }

  async #open(): Promise<void> {
    const o = this.#opts;
    const busyTimeoutMs = o.busyTimeoutMs ?? 5000;
    const db = openTraceDatabase(o.path, busyTimeoutMs);
    let transport: EngineTransport | undefined;
    try {
      migrateSqlite(db);
      if (o.path === ':memory:' || o.writerThread === false) {
        transport = new InlineTransport(db, o);
      } else {
        transport = await ThreadTransport.start({ path: o.path, leaseMs: o.leaseMs, idempotencyRetentionMs: o.idempotencyRetentionMs, busyTimeoutMs });
        // This connection only reads from now on.
        db.pragma('query_only = 1');
      }
      const p = (sql: string): Database.Statement => db.prepare(sql);
      this.#reads = {
        getTrace: p(`SELECT ${TRACE_TUPLE_COLUMNS} FROM cluster_traces WHERE tenant = ? AND trace_id = ?`).raw(),
        peek: p(
          `SELECT ${TRACE_TUPLE_COLUMNS}, EXISTS (SELECT 1 FROM cluster_updates u WHERE u.tenant = t.tenant AND u.trace_id = t.trace_id)
           FROM cluster_traces t WHERE tenant = ? AND trace_id = ?`,
        ).raw(),
        // The first message is the trace row's, the others cluster_inputs' (one statement: one snapshot).
        inputs: p(
          `SELECT message FROM (
             SELECT 1 AS n, message FROM cluster_traces WHERE tenant = @tenant AND trace_id = @traceId AND run = @run AND @after < 1
             UNION ALL
             SELECT n, message FROM cluster_inputs WHERE tenant = @tenant AND trace_id = @traceId AND run = @run AND n > @after
           ) ORDER BY n`,
        ).pluck(),
        owned: p("SELECT tenant, trace_id, epoch, run, cancel_requested, input_count FROM cluster_traces WHERE state = 'RUNNING' AND owner = ?"),
        replicas: p('SELECT * FROM cluster_replicas'),
        eventsAfter: p(`SELECT ${EVENT_COLUMNS} FROM cluster_events WHERE tenant = ? AND trace_id = ? AND seq > ? ORDER BY seq LIMIT ?`).raw(),
        tailStart: p('SELECT COALESCE(MAX(id), 0) FROM cluster_events').pluck(),
        tailEvents: p(`SELECT ${EVENT_COLUMNS} FROM cluster_events WHERE id > ? ORDER BY id LIMIT ?`).raw(),
        ping: p('SELECT 1'),
      };
    } catch (err) {
      db.close();
      await transport?.close();
      throw err;
    }
    this.#db = db;
    this.#transport = transport;
  }

  ping(): Promise<void> {
    return this.#sync(() => {
      const failure = this.#transport?.failure;
      if (failure !== undefined) throw failure;
      this.#read('ping').get();
    });
  }

  async close(): Promise<void> {
    const transport = this.#transport;
    const db = this.#db;
    if (transport === undefined || db === undefined) return;
    // Operations already called still complete.
    while (this.#inFlight > 0 || this.#queue.length > 0) await new Promise<void>((resolve) => this.#idle.push(resolve));
    this.#transport = undefined;
    this.#db = undefined;
    this.#reads = undefined;
    this.#opening = undefined;
    this.#listeners.clear();
    // The reader first, so the writer's connection is the last and checkpoints the WAL on its own thread.
    db.close();
    await transport.close();
  }

  async prune(cutoffs: TracePruneCutoffs): Promise<TracePruneResult> {
    const total = { traces: 0, updates: 0, keys: 0, replicas: 0 };
    for (;;) {
      const step = await this.#submit({ op: 'prune', cutoffs: { ...cutoffs }, limit: PRUNE_STEP });
      total.traces += step.traces;
      total.updates += step.updates;
      total.keys += step.keys;
      total.replicas += step.replicas;
      if (!step.more) return total;
    }
  }

  async commit(batch: CommitBatch): Promise<CommitResult> {
    if (batch.accepts.length + batch.outputs.length + batch.putBacks.length + batch.events.length + batch.ends.length === 0) {
      if (this.#transport === undefined) throw storeError('not open', undefined);
      return { accepts: [], fenced: new Set() };
    }
    const c = this.#codec;
    // Explicit fields only: what crosses to the writer thread is primitives.
    const res = await this.#submit({
      op: 'commit',
      batch: {
        accepts: batch.accepts.map((a) => ({
          tenant: a.tenant,
          traceId: a.traceId,
          flow: a.flow,
          message: c.encode(a.message),
          deadline: a.deadline,
          traceparent: a.traceparent,
          idempotencyKey: a.idempotencyKey,
          runner: a.runner,
          maxInflight: a.maxInflight,
          maxQueued: a.maxQueued,
        })),
        outputs: batch.outputs.map((w) => ({
          tenant: w.tenant,
          traceId: w.traceId,
          epoch: w.epoch,
          seq: w.seq,
          run: w.run,
          kind: w.kind,
          value: c.encode(w.value),
          consumed: w.consumed,
        })),
        putBacks: batch.putBacks.map((p) => ({
          tenant: p.tenant,
          traceId: p.traceId,
          update: { seq: p.update.seq, run: p.update.run, kind: p.update.kind, value: c.encode(p.update.value) },
        })),
        events: batch.events.map((e) => ({
          tenant: e.tenant,
          traceId: e.traceId,
          epoch: e.epoch,
          seq: e.seq,
          flow: e.flow,
          ts: e.ts,
          kind: e.kind,
          nodeName: e.nodeName,
          nodeId: e.nodeId,
          payloadJson: e.payloadJson,
        })),
        ends: batch.ends.map((w) => ({
          tenant: w.tenant,
          traceId: w.traceId,
          epoch: w.epoch,
          state: w.state,
          error: w.error === undefined ? null : c.encode(w.error),
        })),
      },
    });
    return { accepts: res.accepts.map((a) => this.#acceptResult(a)), fenced: new Set(res.fenced) };
  }

  getTrace(tenant: string, traceId: string): Promise<TraceRow | undefined> {
    return this.#sync(() => {
      const row = this.#read('getTrace').get(tenant, traceId) as TraceTuple | undefined;
      return row === undefined ? undefined : this.#row(row);
    });
  }

  async take(tenant: string, traceId: string): Promise<TakeResult> {
    // A take that finds nothing to hand out changes nothing, so a read
    // snapshot answers it as the writer would have at that instant; only
    // handing out an update needs the writer's transaction (waiting
    // readers poll, and most polls find nothing).
    const seen = this.#read('peek').get(tenant, traceId) as [...TraceTuple, number] | undefined;
    if (seen === undefined) return { kind: 'missing' };
    if (seen[15] === 0 || seen[8] !== 0 || seen[3] === 'CANCELLED') {
      const row = this.#row(seen as unknown as TraceTuple);
      return isTerminal(row.state) ? { kind: 'end', row } : { kind: 'empty', row };
    }
    const r = await this.#submit({ op: 'take', tenant, traceId });
    switch (r.kind) {
      case 'missing':
        return r;
      case 'update':
        return { kind: 'update', update: { seq: r.update.seq, run: r.update.run, kind: r.update.kind, value: this.#codec.decode(r.update.value) }, row: this.#row(r.row) };
      default:
        return { kind: r.kind, row: this.#row(r.row) };
    }
  }

  async requestCancel(tenant: string, traceId: string, _by: string): Promise<CancelRequestResult> {
    const r = await this.#submit({ op: 'requestCancel', tenant, traceId });
    switch (r.kind) {
      case 'missing':
        return r;
      case 'cancelled':
        return { kind: 'cancelled', row: this.#row(r.row), lastEventSeq: r.lastEventSeq };
      default:
        return { kind: r.kind, row: this.#row(r.row) };
    }
  }

  async claim(replica: string, flow: string, limit: number): Promise<ClaimedTrace[]> {
    const claims = await this.#submit({ op: 'claim', replica, flow, limit });
    return claims.map((c) => ({ ...c, row: this.#row(c.row), inputs: c.inputs.map((m) => this.#codec.decode(m)) }));
  }

  inputs(tenant: string, traceId: string, run: number, afterInput: number): Promise<unknown[]> {
    return this.#sync(() => (this.#read('inputs').all({ tenant, traceId, run, after: afterInput }) as string[]).map((m) => this.#codec.decode(m)));
  }

  heartbeat(replica: Omit<ReplicaRow, 'heartbeatAt'>): Promise<{ readonly lapsed: boolean }> {
    const { id, hostname, pid, startedAt, draining } = replica;
    return this.#submit({ op: 'heartbeat', replica: { id, hostname, pid, startedAt, draining } });
  }

  owned(replica: string): Promise<OwnedTrace[]> {
    return this.#sync(() => {
      const rows = this.#read('owned').all(replica) as { tenant: string; trace_id: string; epoch: number; run: number; cancel_requested: number; input_count: number }[];
      return rows.map((r) => ({
        tenant: r.tenant,
        traceId: r.trace_id,
        epoch: r.epoch,
        run: r.run,
        cancelRequested: r.cancel_requested !== 0,
        inputCount: r.input_count,
      }));
    });
  }

  async release(replica: string, keys?: readonly string[]): Promise<number> {
    if (keys !== undefined && keys.length === 0) return 0;
    return this.#submit({ op: 'release', replica, keys: keys === undefined ? undefined : [...keys] });
  }

  replicas(): Promise<ReplicaRow[]> {
    return this.#sync(() =>
      (this.#read('replicas').all() as ReplicaRecord[]).map((r) => ({
        id: r.id,
        hostname: r.hostname,
        pid: r.pid,
        startedAt: r.started_at,
        heartbeatAt: r.heartbeat_at,
        draining: r.draining !== 0,
      })),
    );
  }

  async forgetReplica(replica: string): Promise<void> {
    await this.#submit({ op: 'forgetReplica', replica });
  }

  eventsAfter(tenant: string, traceId: string, afterSeq: number, limit = Number.POSITIVE_INFINITY): Promise<StoredEventRow[]> {
    // LIMIT -1 is no limit in SQLite.
    const max = Number.isFinite(limit) ? Math.max(0, Math.floor(limit)) : -1;
    return this.#sync(() => (this.#read('eventsAfter').all(tenant, traceId, afterSeq, max) as EventTuple[]).map(toEvent));
  }

  tailStart(): Promise<string> {
    return this.#sync(() => String(this.#read('tailStart').get()));
  }

  tailEvents(cursor: string, limit: number): Promise<EventTail> {
    return this.#sync(() => {
      const from = Math.max(0, Math.floor(Number(cursor)) || 0);
      const rows = this.#read('tailEvents').all(from, Math.max(0, Math.floor(limit))) as EventTuple[];
      const last = rows[rows.length - 1];
      return { events: rows.map(toEvent), cursor: String(last === undefined ? from : last[0]) };
    });
  }

  listen(listener: (notice: StoreNotice) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  // --- internals -------------------------------------------------------------

  /** Runs a read on this thread; its throw becomes a rejection. */
  #sync<T>(fn: () => T): Promise<T> {
    try {
      return Promise.resolve(fn());
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : storeError(String(err), undefined));
    }
  }

  #read(name: keyof Reads): Database.Statement {
    const reads = this.#reads;
    if (reads === undefined) throw storeError('not open', undefined);
    return reads[name];
  }

  #row(r: TraceTuple): TraceRow {
    return {
      tenant: r[0],
      traceId: r[1],
      flow: r[2],
      state: r[3],
      run: r[4],
      attempt: r[5],
      epoch: r[6],
      owner: r[7] ?? undefined,
      cancelRequested: r[8] !== 0,
      deadline: r[9] ?? undefined,
      traceparent: r[10] ?? undefined,
      error: r[11] === null ? undefined : this.#codec.decode(r[11]),
      createdAt: r[12],
      updatedAt: r[13],
      endedAt: r[14] ?? undefined,
    };
  }

  #acceptResult(a: RawAcceptResult): AcceptResult {
    switch (a.kind) {
      case 'accepted':
        return { kind: 'accepted', row: this.#row(a.row), input: a.input, joined: a.joined, lastUpdateSeq: a.lastUpdateSeq, lastEventSeq: a.lastEventSeq };
      case 'duplicate':
        return { kind: 'duplicate', traceId: a.traceId, row: a.row === undefined ? undefined : this.#row(a.row) };
      case 'cancelling':
      case 'other_flow':
        return { kind: a.kind, row: this.#row(a.row) };
      default:
        return a;
    }
  }

  /** Queues an operation for the writer's next transaction. */
  #submit<O extends EngineOp>(op: O): Promise<EngineOps[O['op']]['result']> {
    if (this.#transport === undefined) return Promise.reject(storeError('not open', undefined));
    return new Promise((resolve, reject) => {
      this.#queue.push({ op, resolve, reject });
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#scheduled || this.#inFlight >= MAX_IN_FLIGHT || this.#queue.length === 0) return;
    this.#scheduled = true;
    // A microtask, so every operation called in this turn joins the group.
    queueMicrotask(() => this.#flush());
  }

  #flush(): void {
    this.#scheduled = false;
    const transport = this.#transport;
    if (transport === undefined || this.#queue.length === 0) return;
    const group = this.#queue.length <= MAX_GROUP ? this.#queue : this.#queue.slice(0, MAX_GROUP);
    this.#queue = this.#queue.length <= MAX_GROUP ? [] : this.#queue.slice(MAX_GROUP);
    this.#inFlight++;
    transport.run(group.map((p) => p.op)).then(
      (outcomes) => {
        const notices: NoticeParts[] = [];
        for (let i = 0; i < group.length; i++) {
          const p = group[i]!;
          const o = outcomes[i];
          if (o === undefined) p.reject(storeError('no outcome', undefined));
          else if (o.ok) {
            p.resolve(o.value);
            if (o.notice !== undefined) notices.push(o.notice);
          } else p.reject(storeError(o.message, o.code));
        }
        this.#settled();
        if (notices.length > 0) this.#publish(notices);
      },
      (err: unknown) => {
        const e = err instanceof Error ? err : storeError(String(err), undefined);
        for (const p of group) p.reject(e);
        this.#settled();
      },
    );
  }

  #settled(): void {
    this.#inFlight--;
    this.#schedule();
    if (this.#inFlight === 0 && this.#queue.length === 0) {
      const idle = this.#idle;
      this.#idle = [];
      for (const resolve of idle) resolve();
    }
  }

  #publish(parts: readonly NoticeParts[]): void {
    if (this.#listeners.size === 0) return;
    const traces = new Set<string>();
    const runners = new Set<string>();
    const flows = new Set<string>();
    const tenants = new Set<string>();
    let events = false;
    for (const n of parts) {
      for (const t of n.traces) traces.add(t);
      for (const t of n.runners) runners.add(t);
      for (const f of n.flows) flows.add(f);
      for (const t of n.tenants) tenants.add(t);
      events ||= n.events;
    }
    const notice: StoreNotice = { traces: [...traces], runners: [...runners], flows: [...flows], tenants: [...tenants], events, sentAt: Date.now() };
    // After the callers' continuations: the notice follows the commit it reports.
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
