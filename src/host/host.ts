/**
 * The host layer assembled: the hosted flows, the trace store behind them,
 * and this process as one replica of the service. The edge (gRPC, Connect)
 * talks to {@link Host.traces}; nothing here speaks a wire protocol.
 */
import { hostname as osHostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Flow, FlowDefinition } from '../runtime/index.js';
import { GroupCommitter } from '../state/cluster/group-commit.js';
import type { TraceStore } from '../state/cluster/trace-store.js';
import { ConfigError } from './config-error.js';
import { EventFeed } from './event-feed.js';
import { eventPayloadJson } from './event-records.js';
import { describeFlow, type FlowDescription } from './flow-description.js';
import { FlowExecutor } from './flow-executor.js';
import { HostError } from './host-error.js';
import { NoticeHub } from './notice-hub.js';
import { Replica, type ReplicaIdentity, type ReplicaObserver } from './replica.js';
import { TraceService } from './trace-service.js';

/** Options of {@link Host.create}. */
export interface HostOptions {
  readonly definitions: readonly FlowDefinition[];
  /** Passed to every `build` (see `FlowBuildContext.queueMaxsize`). */
  readonly queueMaxsize: number;
  readonly logger: Logger;
  /** An opened store (`init()` done); the host closes it. */
  readonly store: TraceStore;
  /** This replica's id; default `<hostname>-<random>`. */
  readonly replicaId?: string | undefined;
  /** Lease of a replica over its traces (PENGUIFLOW_LEASE_MS). */
  readonly leaseMs: number;
  /** Longest wait for a store notice before looking again (the backstop of every wait). */
  readonly pollMs: number;
  /** Most non-terminal traces per tenant across the cluster; 0 = unlimited. */
  readonly tenantMaxInflight: number;
  /** Most queued traces per flow across the cluster; 0 = unlimited. Default: the queue size. */
  readonly maxQueued?: number | undefined;
  /** Most runs per flow this replica holds; default: queue size + the ingress nodes' concurrency. */
  readonly maxRunningPerFlow?: number | undefined;
  /** Stamp the replica id on every event (`extra.replica`); useful with several replicas. */
  readonly replicaInEvents?: boolean;
  /** How long ended traces are kept (their status, unread updates, events), and idempotency keys. */
  readonly traceRetentionMs: number;
  /** How long ended traces' status and events stay in a durable store; 0 = forever. */
  readonly historyRetentionMs: number;
  readonly observer?: ReplicaObserver;
  /** Unregister this host's dead replicas at start (default true; off where replicas share a process). */
  readonly takeOverDeadNeighbours?: boolean;
  /** Group commit tuning. */
  readonly commit?: { readonly maxBatch?: number; readonly capacity?: number };
}

/** A hosted flow as the edge sees it: its name, description and graph. */
export interface HostedFlowInfo {
  readonly name: string;
  readonly description: string;
  readonly info: FlowDescription;
  readonly flow: Flow;
}

function isFlow(value: unknown): value is Flow {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    ['run', 'stop', 'emit', 'fetch', 'cancel', 'addMiddleware', 'stats', 'tryEmit', 'traceOutcome'].every((m) => typeof v[m] === 'function') &&
    typeof v.graph === 'object' &&
    typeof v.queueMaxsize === 'number'
  );
}

/** The assembled host; see the module comment. */
export class Host {
  readonly traces: TraceService;
  readonly replica: Replica;
  readonly store: TraceStore;
  readonly committer: GroupCommitter;
  readonly feed: EventFeed;
  readonly #executors: ReadonlyMap<string, FlowExecutor>;
  readonly #flows: readonly HostedFlowInfo[];
  readonly #hub: NoticeHub;
  readonly #opts: HostOptions;
  #pruneTimer: ReturnType<typeof setInterval> | undefined;
  #closed: Promise<void> | undefined;

  private constructor(opts: HostOptions, built: readonly { def: FlowDefinition; flow: Flow }[]) {
    this.#opts = opts;
    this.store = opts.store;
    const logger = opts.logger;
    const replicaId = opts.replicaId ?? `${osHostname()}-${randomBytes(4).toString('hex')}`;
    // The executors report ended runs to the replica, which is built after them.
    const replicaRef: { current: Replica | undefined } = { current: undefined };
    this.committer = new GroupCommitter({
      store: opts.store,
      ...opts.commit,
      onError: (err, info) => logger.error({ err: describe(err), ...info }, 'state store commit failed; retrying'),
      onRecover: () => logger.warn('state store commits succeed again'),
      onFenced: (keys) => {
        for (const ex of this.#executors.values()) for (const key of keys) {
          const local = ex.local(key);
          if (local !== undefined) ex.relinquish(local);
        }
      },
    });
    this.#hub = new NoticeHub();
    this.feed = new EventFeed({ store: opts.store, hub: this.#hub, logger, pollMs: opts.pollMs });
    const executors = new Map<string, FlowExecutor>();
    const flows: HostedFlowInfo[] = [];
    for (const { def, flow } of built) {
      const ingressConcurrency = flow.graph.ingress.reduce((n, node) => n + node.policy.maxConcurrency, 0);
      executors.set(
        def.name,
        new FlowExecutor({
          name: def.name,
          flow,
          committer: this.committer,
          logger: logger.child({ flow: def.name }),
          maxRunning: opts.maxRunningPerFlow ?? Math.max(1, flow.queueMaxsize) + ingressConcurrency,
          roomPollMs: Math.min(opts.pollMs, 200),
          eventPayloadJson,
          eventExtra: opts.replicaInEvents === true ? { replica: replicaId } : undefined,
          onRunOver: () => replicaRef.current?.runOver(def.name),
        }),
      );
      flows.push({ name: def.name, description: def.description ?? '', info: describeFlow(def.name, def.description ?? '', flow), flow });
    }
    this.#executors = executors;
    this.#flows = flows.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    this.replica = new Replica({
      store: opts.store,
      committer: this.committer,
      hub: this.#hub,
      logger,
      identity: { id: replicaId, hostname: osHostname(), pid: process.pid, startedAt: Date.now() } satisfies ReplicaIdentity,
      executors: [...executors.values()],
      heartbeatMs: Math.max(50, Math.floor(opts.leaseMs / 3)),
      pollMs: opts.pollMs,
      ...(opts.observer === undefined ? {} : { observer: opts.observer }),
      ...(opts.takeOverDeadNeighbours === undefined ? {} : { takeOverDeadNeighbours: opts.takeOverDeadNeighbours }),
    });
    replicaRef.current = this.replica;
    this.traces = new TraceService({
      store: opts.store,
      committer: this.committer,
      hub: this.#hub,
      feed: this.feed,
      logger,
      replicaId,
      executor: (name) => this.executor(name),
      tenantMaxInflight: opts.tenantMaxInflight,
      maxQueued: opts.maxQueued ?? Math.max(1, opts.queueMaxsize),
      pollMs: opts.pollMs,
      onMissedJoin: (local) => this.replica.resync(local),
    });
  }

  /**
   * Builds every defined flow (not running yet).
   *
   * @throws ConfigError naming `PENGUIFLOW_FLOWS` when a `build` throws or
   *   returns something other than a `Flow`.
   */
  static async create(opts: HostOptions): Promise<Host> {
    const built: { def: FlowDefinition; flow: Flow }[] = [];
    for (const def of opts.definitions) {
      const logger = opts.logger.child({ flow: def.name });
      let flow: unknown;
      try {
        flow = await def.build({ queueMaxsize: opts.queueMaxsize, logger });
      } catch (err) {
        const why = err instanceof Error ? err.message.split('\n')[0] : String(err);
        throw new ConfigError('PENGUIFLOW_FLOWS', `invalid configuration: PENGUIFLOW_FLOWS: building flow ${JSON.stringify(def.name)} failed (${why})`);
      }
      if (!isFlow(flow)) {
        throw new ConfigError('PENGUIFLOW_FLOWS', `invalid configuration: PENGUIFLOW_FLOWS: build() of flow ${JSON.stringify(def.name)} must return a Flow`);
      }
      built.push({ def, flow });
    }
    return new Host(opts, built);
  }

  /** This replica's id. */
  get replicaId(): string {
    return this.replica.id;
  }

  /** The hosted flows, sorted by name. */
  list(): readonly HostedFlowInfo[] {
    return this.#flows;
  }

  /** The executor of flow `name`. @throws HostError FLOW_NOT_FOUND. */
  executor(name: string): FlowExecutor {
    const ex = this.#executors.get(name);
    if (ex === undefined) throw HostError.flowNotFound(name);
    return ex;
  }

  /** Runs held by this replica, all flows. */
  get running(): number {
    return this.replica.running;
  }

  /** Runs the flows, joins the cluster (heartbeat, claims) and starts pruning. */
  async start(): Promise<void> {
    for (const ex of this.#executors.values()) ex.start();
    this.#hub.listen(this.store);
    await this.replica.start();
    const every = Math.max(1000, Math.min(60_000, Math.floor(this.#opts.traceRetentionMs / 2)));
    this.#pruneTimer = setInterval(() => void this.prune(), every);
    this.#pruneTimer.unref();
  }

  /** Deletes what is past its retention now. Never throws (failures are logged). */
  async prune(now = Date.now()): Promise<void> {
    const history = this.store.kind === 'memory' ? this.#opts.traceRetentionMs : this.#opts.historyRetentionMs;
    try {
      const res = await this.store.prune({
        tracesEndedBefore: history > 0 ? now - history : Number.NEGATIVE_INFINITY,
        updatesEndedBefore: now - this.#opts.traceRetentionMs,
        keysCreatedBefore: now - this.#opts.traceRetentionMs,
        replicasSeenBefore: now - Math.max(86_400_000, this.#opts.leaseMs * 10),
      });
      if (res.traces + res.updates + res.keys + res.replicas > 0 && this.store.kind !== 'memory') {
        this.#opts.logger.info({ store: this.store.kind, pruned: res }, 'pruned traces past their retention');
      }
    } catch (err) {
      this.#opts.logger.error({ store: this.store.kind, err: describe(err) }, 'pruning the state store failed');
    }
  }

  /**
   * Drains: refuses new messages, stops claiming, lets the runs here finish
   * until `deadline` (epoch ms), hands the rest back to the cluster.
   * @returns how many runs were handed back.
   */
  async drain(deadline: number): Promise<number> {
    this.traces.stopAccepting();
    return this.replica.drain(deadline);
  }

  /**
   * Stops everything: hands back what still runs, writes what is pending,
   * unregisters the replica, stops the flows and closes the store.
   */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      if (this.#pruneTimer !== undefined) clearInterval(this.#pruneTimer);
      this.traces.stopAccepting();
      await this.replica.handBack();
      this.traces.stop();
      this.feed.close();
      await this.committer.close(5000);
      await this.replica.close();
      this.#hub.close();
      await Promise.all([...this.#executors.values()].map((ex) => ex.stop()));
      await this.store.close();
    })();
    return this.#closed;
  }
}

function describe(err: unknown): { type: string; message: string } {
  return err instanceof Error ? { type: err.name, message: err.message } : { type: typeof err, message: String(err) };
}
