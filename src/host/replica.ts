/**
 * This process as one replica of the service: its lease (a heartbeat in the
 * store), the traces it claims, and what it hands back when it stops.
 *
 * - **Lease.** The replica refreshes its heartbeat every `heartbeatMs`
 *   (a third of the lease). A replica whose heartbeat is older than the
 *   lease has lost its traces: any replica may claim them, under a new
 *   fencing epoch. After each heartbeat the replica reconciles: runs whose
 *   epoch moved on are dropped here (the store refuses their writes anyway),
 *   cancellations and joined messages recorded by other replicas are
 *   carried out.
 * - **Claims.** Per hosted flow, while the replica has room, it claims
 *   queued traces and traces of dead replicas (`FOR UPDATE SKIP LOCKED` in
 *   PostgreSQL), when a notice says there is work and at least every poll
 *   interval (the backstop that also finds expired leases).
 * - **Restart.** At start, replicas registered from this host whose process
 *   is gone (a crash, a restarted container) are unregistered, so their
 *   traces are re-run at once instead of after the lease.
 * - **Drain.** Stop claiming, let runs finish until the deadline, hand the
 *   rest back (QUEUED, new epoch) so other replicas take them at once, and
 *   unregister.
 */
import type { Logger } from 'pino';
import { FlowEvent, type FlowEventType } from '../runtime/index.js';
import type { GroupCommitter } from '../state/cluster/group-commit.js';
import type { ClaimedTrace, ReplicaRow, StoreNotice, TraceStore } from '../state/cluster/trace-store.js';
import { traceKey } from '../state/cluster/trace-key.js';
import { WakeUp } from '../internal/wake-up.js';
import type { FlowExecutor } from './flow-executor.js';
import type { LocalTrace } from './local-trace.js';
import type { NoticeHub } from './notice-hub.js';

/** Who this replica is. */
export type ReplicaIdentity = Omit<ReplicaRow, 'heartbeatAt' | 'draining'>;

/** What the replica reports, for metrics. */
export interface ReplicaObserver {
  claimed?(flow: string, count: number): void;
  /** A trace started again after a takeover (`attempt` > 1). */
  rerun?(flow: string): void;
  /** Time from the previous runner's last heartbeat to this replica's claim of its trace. */
  recovered?(flow: string, ms: number): void;
  leaseRenewed?(): void;
  /** Runs dropped here because another replica took them over. */
  leaseLost?(count: number): void;
  heartbeatFailed?(): void;
  /** Time between a notice's commit on some replica and its arrival here. */
  noticeLag?(ms: number): void;
}

/** Options of {@link Replica}. */
export interface ReplicaOptions {
  readonly store: TraceStore;
  readonly committer: GroupCommitter;
  readonly hub: NoticeHub;
  readonly logger: Logger;
  readonly identity: ReplicaIdentity;
  /** The hosted flows' executors. */
  readonly executors: readonly FlowExecutor[];
  /** How often the heartbeat runs (a third of the lease). */
  readonly heartbeatMs: number;
  /** Longest time between two claim attempts per flow without a notice. */
  readonly pollMs: number;
  /** Most traces claimed per query. */
  readonly claimBatch?: number;
  readonly observer?: ReplicaObserver;
  /** Whether process `pid` of this host is alive (default: `process.kill(pid, 0)`). */
  readonly pidAlive?: (pid: number) => boolean;
  /**
   * Unregister this host's dead replicas at start (default true). Off only
   * where several replicas share one process (tests of the cluster logic).
   */
  readonly takeOverDeadNeighbours?: boolean;
}

function defaultPidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The replica; see the module comment. */
export class Replica {
  readonly id: string;
  readonly #opts: ReplicaOptions;
  readonly #stop = new AbortController();
  readonly #idle = new WakeUp();
  readonly #backlog = new Set<string>();
  #timer: ReturnType<typeof setInterval> | undefined;
  #claiming = false;
  #loops: Promise<void>[] = [];
  #unlisten: (() => void) | undefined;
  /** Traces the store says are ours but that do not run here, seen at the last reconciliation. */
  #strays = new Set<string>();
  #beating: Promise<void> | undefined;
  #heartbeatFailures = 0;

  constructor(opts: ReplicaOptions) {
    this.id = opts.identity.id;
    this.#opts = opts;
  }

  /** Runs held by this replica, all flows. */
  get running(): number {
    let n = 0;
    for (const ex of this.#opts.executors) n += ex.running;
    return n;
  }

  /** False when the last heartbeats failed (readiness). */
  get healthy(): boolean {
    return this.#heartbeatFailures === 0;
  }

  /** Registers, takes over this host's dead replicas, and starts heartbeats, notices and claims. */
  async start(): Promise<void> {
    await this.#opts.store.heartbeat({ ...this.#opts.identity, draining: false });
    if (this.#opts.takeOverDeadNeighbours !== false) await this.#forgetDeadNeighbours();
    this.#unlisten = this.#opts.hub.onNotice((n) => this.#onNotice(n));
    this.#timer = setInterval(() => void this.heartbeat(), this.#opts.heartbeatMs);
    this.#timer.unref();
    this.#claiming = true;
    this.#loops = this.#opts.executors.map((ex) => this.#claimLoop(ex));
  }

  /** Told by an executor that a run is over here: room for a claim. */
  runOver(flow: string): void {
    this.#idle.wake();
    if (this.#backlog.has(flow)) this.#opts.hub.wakeFlow(flow);
  }

  /** Told that a run here saw a joined message out of order: load the missing ones. */
  resync(local: LocalTrace): void {
    const ex = this.#executorOf(local);
    if (ex !== undefined) void this.#loadInputs(ex, local);
  }

  /** One heartbeat and reconciliation (also run by the timer). */
  heartbeat(): Promise<void> {
    this.#beating ??= this.#beat().finally(() => (this.#beating = undefined));
    return this.#beating;
  }

  /**
   * Drains: stops claiming and accepting runs, waits until the runs held
   * here are over or `deadline` (epoch ms) passes, then hands the rest back.
   * @returns how many runs were handed back.
   */
  async drain(deadline: number): Promise<number> {
    this.#claiming = false;
    for (const ex of this.#opts.executors) ex.stopAccepting();
    try {
      await this.#opts.store.heartbeat({ ...this.#opts.identity, draining: true });
    } catch {
      // Best effort: the flag only informs operators.
    }
    while (this.running > 0 && Date.now() < deadline) await this.#idle.wait(undefined, Math.max(1, deadline - Date.now()));
    return this.handBack();
  }

  /** Hands every run held here back to the store (QUEUED, new epoch) for other replicas, at once. @returns how many. */
  async handBack(): Promise<number> {
    this.#claiming = false;
    let n = 0;
    for (const ex of this.#opts.executors) {
      for (const local of [...ex.locals()]) {
        ex.relinquish(local);
        n++;
      }
    }
    try {
      await this.#opts.store.release(this.id);
    } catch (err) {
      this.#opts.logger.warn({ err: describe(err) }, 'handing traces back failed; they are re-run once the lease expires');
    }
    return n;
  }

  /** Stops the loops and unregisters (other replicas then claim anything left at once). */
  async close(): Promise<void> {
    this.#claiming = false;
    this.#stop.abort();
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#unlisten?.();
    await Promise.allSettled(this.#loops);
    try {
      await this.#opts.store.forgetReplica(this.id);
    } catch {
      // The lease expires on its own.
    }
  }

  async #forgetDeadNeighbours(): Promise<void> {
    const alive = this.#opts.pidAlive ?? defaultPidAlive;
    const me = this.#opts.identity;
    for (const r of await this.#opts.store.replicas()) {
      if (r.id === me.id || r.hostname !== me.hostname) continue;
      // Our own pid under another id is a previous incarnation (a restarted container is pid 1 again).
      if (r.pid === me.pid || !alive(r.pid)) {
        this.#opts.logger.info({ replica: r.id }, 'a previous server on this host is gone; its traces are re-run now');
        await this.#opts.store.forgetReplica(r.id);
      }
    }
  }

  async #beat(): Promise<void> {
    try {
      const { lapsed } = await this.#opts.store.heartbeat({ ...this.#opts.identity, draining: !this.#claiming });
      if (this.#heartbeatFailures > 0) this.#opts.logger.warn({ failures: this.#heartbeatFailures }, 'heartbeats succeed again');
      this.#heartbeatFailures = 0;
      this.#opts.observer?.leaseRenewed?.();
      if (lapsed) this.#opts.logger.warn('this replica missed its lease: reconciling its traces with the store');
      await this.#reconcile();
    } catch (err) {
      this.#heartbeatFailures++;
      this.#opts.observer?.heartbeatFailed?.();
      if (this.#heartbeatFailures === 1 || this.#heartbeatFailures % 30 === 0) {
        this.#opts.logger.error({ err: describe(err), failures: this.#heartbeatFailures }, 'heartbeat failed');
      }
    }
  }

  async #reconcile(): Promise<void> {
    const owned = new Map((await this.#opts.store.owned(this.id)).map((o) => [traceKey(o.tenant, o.traceId), o]));
    let lost = 0;
    for (const ex of this.#opts.executors) {
      for (const local of [...ex.locals()]) {
        const o = owned.get(local.key);
        owned.delete(local.key);
        if (o === undefined || o.epoch !== local.epoch) {
          // Not ours any more (our lease lapsed and another replica claimed it, or it was handed back).
          if (local.outcome !== undefined || local.moved) continue;
          ex.relinquish(local);
          lost++;
          continue;
        }
        if (o.cancelRequested && !local.cancelling) void ex.cancel(local);
        if (o.inputCount > local.inputsSeen) void this.#loadInputs(ex, local);
      }
    }
    if (lost > 0) {
      this.#opts.observer?.leaseLost?.(lost);
      this.#opts.logger.warn({ lost }, 'traces taken over by another replica were dropped here');
    }
    // Ours in the store but not running here twice in a row (e.g. an accept whose run never started): hand them back.
    const strays = new Set(owned.keys());
    const confirmed = [...strays].filter((k) => this.#strays.has(k));
    this.#strays = new Set([...strays].filter((k) => !this.#strays.has(k)));
    if (confirmed.length > 0) await this.#opts.store.release(this.id, confirmed);
  }

  async #loadInputs(ex: FlowExecutor, local: LocalTrace): Promise<void> {
    try {
      const inputs = await this.#opts.store.inputs(local.tenant, local.traceId, local.run, local.inputsSeen);
      let index = local.inputsSeen;
      for (const msg of inputs) ex.join(local, msg, index++);
    } catch (err) {
      this.#opts.logger.warn({ err: describe(err) }, 'loading joined messages failed; retried at the next heartbeat');
    }
  }

  #onNotice(notice: StoreNotice): void {
    this.#opts.observer?.noticeLag?.(Math.max(0, Date.now() - notice.sentAt));
    for (const flow of notice.flows) this.#backlog.add(flow);
    for (const key of notice.runners) {
      for (const ex of this.#opts.executors) {
        const local = ex.local(key);
        if (local !== undefined) void this.#inspect(ex, local);
      }
    }
    for (const key of notice.traces) {
      for (const ex of this.#opts.executors) ex.local(key)?.markUnread();
    }
  }

  /** Looks at one run's row after another replica asked its runner something (a cancel, a joined message). */
  async #inspect(ex: FlowExecutor, local: LocalTrace): Promise<void> {
    try {
      const row = await this.#opts.store.getTrace(local.tenant, local.traceId);
      if (row === undefined || row.epoch !== local.epoch) {
        if (local.outcome === undefined) ex.relinquish(local);
        return;
      }
      if (row.cancelRequested && !local.cancelling) await ex.cancel(local);
      else await this.#loadInputs(ex, local);
    } catch (err) {
      this.#opts.logger.warn({ err: describe(err) }, 'inspecting a trace failed; retried at the next heartbeat');
    }
  }

  async #claimLoop(ex: FlowExecutor): Promise<void> {
    const signal = this.#stop.signal;
    const batch = this.#opts.claimBatch ?? 64;
    while (!signal.aborted) {
      if (this.#claiming) {
        const want = Math.min(ex.free, batch);
        if (want > 0) {
          let claimed: ClaimedTrace[] = [];
          try {
            claimed = await this.#opts.store.claim(this.id, ex.name, want);
          } catch (err) {
            this.#opts.logger.warn({ flow: ex.name, err: describe(err) }, 'claiming traces failed');
          }
          if (claimed.length > 0) this.#opts.observer?.claimed?.(ex.name, claimed.length);
          for (const c of claimed) this.#startClaimed(ex, c);
          if (claimed.length >= want) {
            this.#backlog.add(ex.name);
            continue;
          }
          this.#backlog.delete(ex.name);
        }
      }
      try {
        await this.#opts.hub.flow(ex.name, signal, this.#opts.pollMs);
      } catch {
        return;
      }
    }
  }

  #startClaimed(ex: FlowExecutor, c: ClaimedTrace): void {
    const row = c.row;
    const key = traceKey(row.tenant, row.traceId);
    const local = ex.run(
      {
        tenant: row.tenant,
        traceId: row.traceId,
        key,
        epoch: row.epoch,
        run: row.run,
        attempt: row.attempt,
        lastUpdateSeq: c.lastUpdateSeq,
        lastEventSeq: c.lastEventSeq,
        suppress: c.storedUpdates,
        olderUnread: true,
        inputsSeen: 0,
        capacity: ex.flow.queueMaxsize,
        traceparent: row.traceparent,
      },
      [],
    );
    if (row.attempt > 1) {
      this.#opts.observer?.rerun?.(ex.name);
      if (c.previousHeartbeat !== undefined) this.#opts.observer?.recovered?.(ex.name, Math.max(0, Date.now() - c.previousHeartbeat));
      local.event(
        new FlowEvent({
          eventType: 'trace_rerun' as FlowEventType,
          ts: Date.now(),
          nodeName: undefined,
          nodeId: undefined,
          traceId: key,
          attempt: 0,
          latencyMs: undefined,
          queueDepthIn: 0,
          queueDepthOut: 0,
          outgoingEdges: 0,
          queueMaxsize: ex.flow.queueMaxsize,
          tracePending: undefined,
          traceInflight: undefined,
          traceCancelled: false,
          extra: { attempt: row.attempt, ...(c.previousOwner === undefined ? {} : { previousReplica: c.previousOwner }), replica: this.id },
        }),
      );
    }
    let index = 0;
    for (const msg of c.inputs) ex.join(local, msg, index++);
    if (row.cancelRequested) void ex.cancel(local);
  }

  #executorOf(local: LocalTrace): FlowExecutor | undefined {
    return this.#opts.executors.find((ex) => ex.local(local.key) === local);
  }
}

function describe(err: unknown): { type: string; message: string } {
  return err instanceof Error ? { type: err.name, message: err.message } : { type: typeof err, message: String(err) };
}
