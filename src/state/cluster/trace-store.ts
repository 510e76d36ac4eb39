/**
 * The cluster backbone's storage contract: what every replica of one
 * service shares through the state store (DESIGN §5).
 *
 * A trace is a row owned by a tenant, keyed by (tenant, trace id). Its
 * accepted messages (inputs), its outputs (chunks, outputs, errors, each
 * delivered once), its events and its status live in the store, so any
 * replica can answer any RPC about it. The replica that runs a trace holds
 * it under a lease (its own heartbeat) and a fencing `epoch`: every write
 * the runner makes names the epoch it runs under, and the store refuses it
 * once the epoch moved on (the trace was claimed by another replica,
 * released, or cancelled), so a replica that lost its lease can no longer
 * publish anything for the trace.
 *
 * Three implementations keep the same semantics, proved by one contract
 * suite (test/unit/state/trace-store-contract.ts): in memory (one process,
 * nothing survives a restart), SQLite (one machine) and PostgreSQL (a
 * cluster: `FOR UPDATE SKIP LOCKED` claims, `LISTEN/NOTIFY` wake-ups).
 *
 * Values (messages, outputs, errors) cross this interface as JavaScript
 * values; a durable store turns them into text with the {@link ValueCodec}
 * it was given, so the state layer never needs to know what a message is.
 */

/** Where a trace is in its life. */
export type TraceState = 'QUEUED' | 'RUNNING' | 'COMPLETED' | 'FAILED' | 'CANCELLED' | 'DEADLINE_EXCEEDED';

/** The states a trace ends in; a trace in one of them has no owner and takes no quota. */
export type TerminalState = Exclude<TraceState, 'QUEUED' | 'RUNNING'>;

/** True for a state a trace ends in. */
export function isTerminal(state: TraceState): state is TerminalState {
  return state !== 'QUEUED' && state !== 'RUNNING';
}

/** Turns values into text and back, for stores that persist them. */
export interface ValueCodec {
  encode(value: unknown): string;
  decode(text: string): unknown;
}

/** A trace as stored. */
export interface TraceRow {
  readonly tenant: string;
  /** The client's trace id. */
  readonly traceId: string;
  readonly flow: string;
  readonly state: TraceState;
  /** 1 for the first run; a message for an ended trace id starts the next run. */
  readonly run: number;
  /**
   * Executions of the current run so far: 1 once it started, +1 each time
   * another replica took it over (lease expired, drain hand-back); 0 while
   * it waits to start.
   */
  readonly attempt: number;
  /** Fencing token: changes with every change of ownership or cancellation. */
  readonly epoch: number;
  /** The replica running the trace (RUNNING only). */
  readonly owner: string | undefined;
  /** A Cancel arrived while the trace ran elsewhere; its runner ends it as CANCELLED. */
  readonly cancelRequested: boolean;
  /** Absolute deadline of the current run (epoch ms), if any. */
  readonly deadline: number | undefined;
  /** W3C traceparent of the current run. */
  readonly traceparent: string | undefined;
  /** The error a FAILED run ended with (as the runner stored it). */
  readonly error: unknown;
  /** Epoch ms of the first acceptance. */
  readonly createdAt: number;
  readonly updatedAt: number;
  /** Epoch ms of the end of the current run; undefined while it runs. */
  readonly endedAt: number | undefined;
}

/** One message to accept (Emit, Call, CallStream). */
export interface AcceptRequest {
  readonly tenant: string;
  readonly traceId: string;
  readonly flow: string;
  /** The message as accepted; stored and handed back when the trace is (re-)run. */
  readonly message: unknown;
  readonly deadline: number | undefined;
  readonly traceparent: string | undefined;
  /** Deduplicates per (tenant, flow, key) within the store's idempotency retention. */
  readonly idempotencyKey: string | undefined;
  /**
   * The replica that starts running a new run at once (it becomes RUNNING
   * with this owner, attempt 1), or undefined to queue it (QUEUED) for any
   * replica to claim.
   */
  readonly runner: string | undefined;
  /** Most non-terminal traces the tenant may have; 0 = unlimited. Joining a live trace takes no slot. */
  readonly maxInflight: number;
  /** Most QUEUED traces of the flow when this one would be queued; 0 = unlimited. */
  readonly maxQueued: number;
}

/** How an {@link AcceptRequest} was decided. */
export type AcceptResult =
  /**
   * Stored. `joined`: the message was added to the trace's live run (QUEUED
   * or RUNNING, possibly on another replica); otherwise it started a new
   * run (`row.run`). `input` numbers the message within its run (1, 2, …).
   */
  | {
      readonly kind: 'accepted';
      readonly row: TraceRow;
      readonly input: number;
      readonly joined: boolean;
      /** Highest update seq of the trace before this accept (a new run numbers its updates after it). */
      readonly lastUpdateSeq: number;
      /** Highest event seq of the trace before this accept. */
      readonly lastEventSeq: number;
    }
  /** The idempotency key is held: nothing was stored. `row` is the holder's trace, if still stored. */
  | { readonly kind: 'duplicate'; readonly traceId: string; readonly row: TraceRow | undefined }
  /** The tenant is at `maxInflight`: nothing was stored. */
  | { readonly kind: 'over_quota' }
  /** The flow has `maxQueued` traces waiting: nothing was stored. */
  | { readonly kind: 'queue_full' }
  /** The live trace has a cancellation pending: nothing was stored. */
  | { readonly kind: 'cancelling'; readonly row: TraceRow }
  /** The trace id names a live trace of another flow of the tenant: nothing was stored. */
  | { readonly kind: 'other_flow'; readonly row: TraceRow };

/** What a runner publishes for a trace it runs: fenced by `epoch`. */
interface Fenced {
  readonly tenant: string;
  readonly traceId: string;
  /** The epoch the writer runs under; the write is refused when the trace's epoch differs. */
  readonly epoch: number;
}

/** The kinds of update a trace delivers to its readers, in order. */
export type UpdateKind = 'chunk' | 'output' | 'error';

/** One update of a trace, numbered by its runner. */
export interface OutputWrite extends Fenced {
  /** 1, 2, 3, … per trace across runs; a seq stored twice is kept once. */
  readonly seq: number;
  readonly run: number;
  readonly kind: UpdateKind;
  readonly value: unknown;
  /** Already delivered to a reader on the runner (stored as taken). */
  readonly consumed: boolean;
}

/** The end of the current run. */
export interface EndWrite extends Fenced {
  readonly state: TerminalState;
  /** The FlowError of a FAILED run, if known. */
  readonly error: unknown;
}

/** One event, numbered by the runner per trace (1, 2, 3, … with no gaps). */
export interface EventWrite extends Fenced {
  readonly seq: number;
  readonly flow: string;
  readonly ts: number;
  readonly kind: string;
  readonly nodeName: string | undefined;
  readonly nodeId: string | undefined;
  /** The rest of the event as a JSON object text. */
  readonly payloadJson: string;
}

/** A taken update handed back: its reader could not deliver it, so the next reader gets it. */
export interface PutBack {
  readonly tenant: string;
  readonly traceId: string;
  readonly update: StoredUpdate;
}

/**
 * Writes applied together, in one transaction, in this order: accepts,
 * outputs, put-backs, events, ends. A fenced write is skipped (not an
 * error) and reported in {@link CommitResult.fenced}.
 */
export interface CommitBatch {
  readonly accepts: readonly AcceptRequest[];
  readonly outputs: readonly OutputWrite[];
  readonly putBacks: readonly PutBack[];
  readonly events: readonly EventWrite[];
  readonly ends: readonly EndWrite[];
}

/** What a commit decided. */
export interface CommitResult {
  /** One result per accept, in order. */
  readonly accepts: readonly AcceptResult[];
  /** Traces (by `traceKey`) with at least one refused write: the writer no longer owns them. */
  readonly fenced: ReadonlySet<string>;
}

/** A stored update, as a reader takes it. */
export interface StoredUpdate {
  readonly seq: number;
  readonly run: number;
  readonly kind: UpdateKind;
  readonly value: unknown;
}

/** What {@link TraceStore.take} found. */
export type TakeResult =
  /** The trace's oldest unread update, now marked taken. */
  | { readonly kind: 'update'; readonly update: StoredUpdate; readonly row: TraceRow }
  /** Nothing unread and the trace ended: its end (on every take). */
  | { readonly kind: 'end'; readonly row: TraceRow }
  /** Nothing unread yet; the trace runs or waits. */
  | { readonly kind: 'empty'; readonly row: TraceRow }
  /** No such trace for this tenant (never accepted, forgotten, or another tenant's). */
  | { readonly kind: 'missing' };

/** What {@link TraceStore.requestCancel} did. */
export type CancelRequestResult =
  | { readonly kind: 'missing' }
  /** Already ended: nothing changed. */
  | { readonly kind: 'ended'; readonly row: TraceRow }
  /**
   * The trace was queued (or its runner is gone): it is now CANCELLED,
   * its unread updates dropped; `lastEventSeq` is its highest event seq
   * (for the caller's cancellation events).
   */
  | { readonly kind: 'cancelled'; readonly row: TraceRow; readonly lastEventSeq: number }
  /** It runs on `row.owner` (alive): the cancellation is recorded for its runner to carry out. */
  | { readonly kind: 'requested'; readonly row: TraceRow };

/** A trace a replica took over to run. */
export interface ClaimedTrace {
  /** The row after the claim: RUNNING, owned by the claimant, new epoch, attempt + 1. */
  readonly row: TraceRow;
  /** The accepted messages of the current run, in acceptance order. */
  readonly inputs: readonly unknown[];
  /** Updates the current run already stored (an earlier attempt's): the re-run suppresses that many. */
  readonly storedUpdates: number;
  /** Highest update seq of the trace (across runs). */
  readonly lastUpdateSeq: number;
  /** Highest event seq of the trace. */
  readonly lastEventSeq: number;
  /**
   * The replica that ran it before, when the claim took it over from that
   * replica (a recovery); undefined for a trace that waited QUEUED, which
   * has no owner: a new run, or a trace its owner released (a release
   * forgets the owner).
   */
  readonly previousOwner: string | undefined;
  /** That replica's last heartbeat (epoch ms), when the claim was a recovery. */
  readonly previousHeartbeat: number | undefined;
}

/** One of a replica's traces as the store sees it (reconciliation after a lapse). */
export interface OwnedTrace {
  readonly tenant: string;
  readonly traceId: string;
  readonly epoch: number;
  readonly run: number;
  readonly cancelRequested: boolean;
  /** Messages accepted for the current run so far (a runner that saw fewer missed a join). */
  readonly inputCount: number;
}

/** A replica as registered in the store. */
export interface ReplicaRow {
  readonly id: string;
  readonly hostname: string;
  readonly pid: number;
  readonly startedAt: number;
  readonly heartbeatAt: number;
  readonly draining: boolean;
}

/** A stored event. */
export interface StoredEventRow {
  readonly tenant: string;
  readonly traceId: string;
  readonly seq: number;
  readonly flow: string;
  readonly ts: number;
  readonly kind: string;
  readonly nodeName: string | undefined;
  readonly nodeId: string | undefined;
  readonly payloadJson: string;
}

/** A page of the cluster-wide event tail. */
export interface EventTail {
  /**
   * Events stored after the cursor, in a total order consistent with each
   * trace's seq order: every reader of the tail sees the same order, and a
   * trace's events in seq order. Across traces it is commit order on
   * SQLite and in memory, but not necessarily on PostgreSQL, which orders
   * by the writers' transaction ids (a transaction may commit before one
   * that got its id earlier).
   */
  readonly events: readonly StoredEventRow[];
  /** Pass it to the next {@link TraceStore.tailEvents}. */
  readonly cursor: string;
}

/**
 * A wake-up hint: something about these traces, flows or tenants changed.
 * Never the only path to progress — every waiter also polls — so a lost
 * hint only costs latency.
 */
export interface StoreNotice {
  /** Traces (by `traceKey`) whose readers may find something new: an unread or put-back update, an end. */
  readonly traces: readonly string[];
  /** Traces (by `traceKey`) whose runner must look: a cancellation was requested, or a message joined the run. */
  readonly runners: readonly string[];
  /** Flows with newly queued (or released) traces to claim. */
  readonly flows: readonly string[];
  /** Tenants whose in-flight count went down. */
  readonly tenants: readonly string[];
  /** New events were committed. */
  readonly events: boolean;
  /** Epoch ms when the notifying replica committed (for the notify-lag metric). */
  readonly sentAt: number;
}

/** Options every store takes. */
export interface TraceStoreTiming {
  /** A replica whose heartbeat is older than this has lost its traces (PENGUIFLOW_LEASE_MS). */
  readonly leaseMs: number;
  /** Idempotency keys older than this no longer deduplicate. */
  readonly idempotencyRetentionMs: number;
}

/** What {@link TraceStore.prune} deletes (epoch ms cutoffs). */
export interface TracePruneCutoffs {
  /** Traces that ended before this, with their inputs, updates and events. */
  readonly tracesEndedBefore: number;
  /** Unread updates of traces that ended before this (their payloads; the trace's end stays). */
  readonly updatesEndedBefore: number;
  /** Idempotency keys created before this. */
  readonly keysCreatedBefore: number;
  /** Replicas whose last heartbeat is older than this (and that own nothing). */
  readonly replicasSeenBefore: number;
}

/** Rows deleted by a prune. */
export interface TracePruneResult {
  readonly traces: number;
  readonly updates: number;
  readonly keys: number;
  readonly replicas: number;
}

/**
 * The backbone's store. Every method is atomic; `commit`, `take`,
 * `requestCancel`, `claim`, `release` and `heartbeat` are transactions.
 */
export interface TraceStore {
  readonly kind: 'memory' | 'sqlite' | 'postgres';
  /** Opens the store and applies pending schema migrations. Idempotent. */
  init(): Promise<void>;
  /** Resolves when the store answers a trivial query; rejects otherwise (readiness). */
  ping(): Promise<void>;
  /** Closes connections (and stops listening). */
  close(): Promise<void>;
  /** Deletes what is older than the cutoffs; never a live trace. */
  prune(cutoffs: TracePruneCutoffs): Promise<TracePruneResult>;
  /** Applies a batch atomically; see {@link CommitBatch}. */
  commit(batch: CommitBatch): Promise<CommitResult>;
  /** The trace row of (tenant, trace id), if stored. */
  getTrace(tenant: string, traceId: string): Promise<TraceRow | undefined>;
  /**
   * Takes the trace's oldest unread update (lowest seq), exactly once
   * across all readers of all replicas. A trace with a cancellation
   * requested or ended as CANCELLED delivers nothing more.
   */
  take(tenant: string, traceId: string): Promise<TakeResult>;
  /** Records a Cancel (see {@link CancelRequestResult}); `by` is the calling replica. */
  requestCancel(tenant: string, traceId: string, by: string): Promise<CancelRequestResult>;
  /**
   * Takes over up to `limit` traces of `flow` to run on `replica`, oldest
   * first: QUEUED ones, and RUNNING ones whose owner's heartbeat is older
   * than the lease (or whose owner is unregistered) — never ones `replica`
   * owns itself. Concurrent claimers never get the same trace
   * (`FOR UPDATE SKIP LOCKED` on PostgreSQL).
   */
  claim(replica: string, flow: string, limit: number): Promise<ClaimedTrace[]>;
  /** Accepted messages of (tenant, trace id)'s run `run` numbered above `afterInput`, in order. */
  inputs(tenant: string, traceId: string, run: number, afterInput: number): Promise<unknown[]>;
  /**
   * Registers or refreshes `replica` (its lease). `lapsed` is true when its
   * previous heartbeat was older than the lease: its traces may have been
   * claimed meanwhile, so it must reconcile with {@link owned}. It is also
   * true for a replica's first heartbeat, and for any heartbeat after the
   * replica was forgotten ({@link forgetReplica}) or pruned: the store keeps
   * no previous heartbeat then, so it cannot tell a new replica from one
   * whose traces were taken (a new replica finds nothing to reconcile).
   */
  heartbeat(replica: Omit<ReplicaRow, 'heartbeatAt'>): Promise<{ readonly lapsed: boolean }>;
  /** The RUNNING traces `replica` owns now, with their epochs and pending cancellations. */
  owned(replica: string): Promise<OwnedTrace[]>;
  /**
   * Hands traces back: each of `keys` (by `traceKey`; all when undefined)
   * that `replica` owns becomes QUEUED with a new epoch, for any replica to
   * claim at once. @returns how many were released.
   */
  release(replica: string, keys?: readonly string[]): Promise<number>;
  /** Registered replicas. */
  replicas(): Promise<ReplicaRow[]>;
  /** Unregisters a replica (it shut down, or it is known dead): its RUNNING traces become claimable at once. */
  forgetReplica(replica: string): Promise<void>;
  /** Stored events of a trace with `seq > afterSeq`, in seq order; at most `limit`. */
  eventsAfter(tenant: string, traceId: string, afterSeq: number, limit?: number): Promise<StoredEventRow[]>;
  /** The cursor of the event tail's present end (nothing before it is returned by {@link tailEvents}). */
  tailStart(): Promise<string>;
  /** Events stored after `cursor`, at most `limit`, in the order of {@link EventTail.events}. */
  tailEvents(cursor: string, limit: number): Promise<EventTail>;
  /**
   * Registers a listener for {@link StoreNotice}s; returns its unsubscribe
   * function. On PostgreSQL it hears the commits of every replica (LISTEN/
   * NOTIFY); on SQLite and in memory only the commits made through this
   * store object, i.e. this process's: another process sharing a SQLite
   * file is noticed only by polling (notices are hints; every waiter polls).
   */
  listen(listener: (notice: StoreNotice) => void): () => void;
}
