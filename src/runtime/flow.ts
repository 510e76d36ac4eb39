import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { EmitChunkArgs } from './context.js';
import { waitInQueue } from '../internal/abortable-wait.js';
import { OldestFirst } from '../internal/oldest-first.js';
import { Deque } from '../internal/deque.js';
import { Edge, type Item } from './edge.js';
import {
  DeadlineExceededError,
  FlowError,
  FlowErrorCode,
  FlowStoppedError,
  NodeTimeoutError,
  TraceCancelled,
  TraceEndedError,
  type TraceStatus,
} from './errors.js';
import { FlowEvent, type FlowEventInit, type FlowEventType, type Middleware } from './events.js';
import { buildGraph, type Graph } from './graph.js';
import { Invocation, type InvocationHost } from './invocation.js';
import { describeError, runtimeLogger } from './logger.js';
import { finalAnswer, isMessage, isWM, type Message, type StreamChunk, type WM } from './message.js';
import type { Adjacency, Node } from './node.js';
import { OutputBucket, type OutputEntry, type Waiter } from './output-bucket.js';
import { callPlaybook, type PlaybookFactory } from './playbook.js';
import { backoffMs } from './policy.js';
import type { ModelRegistry } from './registry.js';
import { toStoredEvent, type StateStore, type StoredEvent } from './state-store.js';
import { TraceState } from './trace-state.js';

/** Options of {@link create}. */
export interface FlowOptions {
  /** Capacity of every edge and of each trace's output buffer; default 64; `<= 0` is unbounded. */
  queueMaxsize?: number;
  /** Accept any cycle (controller graphs). Default false: cycles throw `CycleError`. */
  allowCycles?: boolean;
  middlewares?: Middleware[];
  /** Deliver a node's final `FlowError` to Rookery as the trace's output. Default false. */
  emitErrorsToRookery?: boolean;
  /** Every event is saved here as a `StoredEvent`; failures are logged, never thrown. */
  stateStore?: StateStore;
  registry?: ModelRegistry;
  /** Logger for middleware and store failures; default the runtime's `penguiflow` logger. */
  logger?: Logger;
  /**
   * How many ended traces keep their final status so a late `fetch` can say
   * how they ended (oldest forgotten first). Default 10 000.
   */
  endedTraceCacheSize?: number;
}

/** Options of {@link Flow.emit}. */
export interface EmitOptions {
  /** Target node(s); default every ingress node. */
  to?: Node | Node[];
  /** Trace of the message; default `msg.traceId` for a `Message`, none for a plain payload. */
  traceId?: string;
  /** Aborts waiting for room on a full edge; the message is then not emitted. */
  signal?: AbortSignal;
}

/** Options of {@link Flow.fetch}. */
export interface FetchOptions {
  /** Only this trace's outputs; without it, the oldest output of any trace. */
  traceId?: string;
  /** Aborts the wait; the fetch rejects with the signal's reason. */
  signal?: AbortSignal;
}

/** A snapshot of the runtime's bookkeeping; all zero on an idle flow. */
export interface FlowStats {
  running: boolean;
  /** Live traces (started and not yet ended-and-drained, or awaited by a fetch). */
  traces: number;
  /** Messages queued, waiting to enter an edge, or being processed, over all traces. */
  pending: number;
  /** Node invocations running now. */
  inflight: number;
  /** Messages buffered on edges. */
  queued: number;
  /** Emitters blocked on full edges or output buffers. */
  blockedEmits: number;
  /** Outputs buffered in Rookery, not yet fetched. */
  bufferedOutputs: number;
  /** Fetch calls waiting. */
  fetchWaiters: number;
  /** Open stream counters (streams with chunks emitted and no `done` yet). */
  openStreams: number;
  /** Ended traces whose final status is remembered (bounded by `endedTraceCacheSize`). */
  endedTraces: number;
  /** Per-node pattern state, e.g. `{ join: { buckets: 0 } }`. */
  nodes: Record<string, Record<string, number>>;
}

interface Runner {
  readonly index: number;
  readonly node: Node;
  readonly inEdges: Edge[];
  /** Edges to successors, in declaration order (a self-loop included). */
  readonly outEdges: Edge[];
  readonly edgeTo: Map<Node, Edge>;
  readonly egress: boolean;
  readonly max: number;
  active: number;
  rr: number;
  openSea: Edge | undefined;
  /** Unbounded edge carrying controller-loop re-entries. */
  loop: Edge | undefined;
  readonly takers: Deque<Taker>;
}

interface Taker {
  readonly edges: ReadonlySet<Edge> | undefined;
  resolve(value: unknown): void;
  reject(reason: unknown): void;
}

/** What every attempt of one invocation shares. */
interface AttemptArgs {
  readonly r: Runner;
  readonly trace: TraceState | undefined;
  readonly value: unknown;
  readonly deadline: number | undefined;
  /** Output schema to enforce, when the node validates its output. */
  readonly outSchema: { parse(value: unknown): unknown } | undefined;
  readonly staged: unknown[];
}

interface EndedRecord {
  readonly status: TraceStatus;
  readonly error: FlowError | undefined;
}

/** Ended records without an error are shared: the cache holds thousands of them, one per trace. */
const PLAIN_ENDINGS: Readonly<Record<TraceStatus, EndedRecord>> = {
  COMPLETED: { status: 'COMPLETED', error: undefined },
  FAILED: { status: 'FAILED', error: undefined },
  CANCELLED: { status: 'CANCELLED', error: undefined },
  DEADLINE_EXCEEDED: { status: 'DEADLINE_EXCEEDED', error: undefined },
};

function endedRecord(trace: TraceState): EndedRecord {
  return trace.failure === undefined ? PLAIN_ENDINGS[trace.status()] : { status: trace.status(), error: trace.failure };
}

/** Placeholder `extra` of the scratch event init between events (never handed out). */
const NO_EXTRA: Record<string, unknown> = Object.freeze({});

const DEADLINE_TEXT = 'Deadline exceeded';
const HOP_BUDGET_TEXT = 'Hop budget exhausted';
const TOKEN_BUDGET_TEXT = 'Token budget exhausted';

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

/**
 * A running graph of nodes: PenguiFlow's `PenguiFlow` object.
 *
 * Every edge is a bounded FIFO; results of egress nodes go to Rookery, where
 * `fetch` reads them, per trace or in arrival order. The flow tracks every
 * trace's pending work, so a trace-scoped fetch on a trace that is over
 * rejects at once instead of hanging.
 */
export class Flow implements InvocationHost {
  /** Random id of this flow instance; prefixes stored event ids. */
  readonly id = randomUUID().replaceAll('-', '').slice(0, 12);
  readonly graph: Graph;
  readonly queueMaxsize: number;
  readonly emitErrorsToRookery: boolean;

  readonly #runners: Runner[] = [];
  readonly #runnerOf = new Map<Node, Runner>();
  readonly #edges: Edge[] = [];
  readonly #traces = new Map<string, TraceState>();
  readonly #ended = new Map<string, EndedRecord>();
  readonly #oldestEnded = new OldestFirst(() => this.#ended.keys());
  readonly #endedCap: number;
  readonly #untraced: OutputBucket;
  readonly #untracedStreams = new Map<string, number>();
  /** Arrival order across all buckets, for unscoped fetch; entries taken elsewhere are skipped lazily. */
  readonly #order = new Deque<OutputEntry>();
  #orderTaken = 0;
  readonly #anyWaiters = new Deque<Waiter>();
  readonly #middlewares: Middleware[];
  readonly #store: StateStore | undefined;
  readonly #registry: ModelRegistry | undefined;
  readonly #logger: Logger | undefined;
  #eventsOn: boolean;
  readonly #eventInit: FlowEventInit = {
    eventType: 'node_start',
    ts: 0,
    nodeName: undefined,
    nodeId: undefined,
    traceId: undefined,
    attempt: 0,
    latencyMs: undefined,
    queueDepthIn: 0,
    queueDepthOut: 0,
    outgoingEdges: 0,
    queueMaxsize: 0,
    tracePending: undefined,
    traceInflight: undefined,
    traceCancelled: false,
    extra: NO_EXTRA,
  };
  #eventSeq = 0;
  #running = false;
  #stopped = false;
  #inflightTotal = 0;
  #onDrained: (() => void) | undefined;

  constructor(adjacencies: readonly Adjacency[], options: FlowOptions = {}) {
    this.graph = buildGraph(adjacencies, options.allowCycles ?? false);
    this.queueMaxsize = options.queueMaxsize ?? 64;
    this.emitErrorsToRookery = options.emitErrorsToRookery ?? false;
    this.#middlewares = [...(options.middlewares ?? [])];
    this.#store = options.stateStore;
    this.#registry = options.registry;
    this.#logger = options.logger;
    this.#endedCap = Math.max(0, options.endedTraceCacheSize ?? 10_000);
    this.#eventsOn = this.#middlewares.length > 0 || this.#store !== undefined;
    this.#untraced = new OutputBucket(this.queueMaxsize, undefined);

    for (const node of this.graph.nodes) {
      const runner: Runner = {
        index: this.#runners.length,
        node,
        inEdges: [],
        outEdges: [],
        edgeTo: new Map(),
        egress: this.graph.egress.includes(node),
        max: node.policy.maxConcurrency,
        active: 0,
        rr: 0,
        openSea: undefined,
        loop: undefined,
        takers: new Deque(),
      };
      this.#runners.push(runner);
      this.#runnerOf.set(node, runner);
    }
    for (const runner of this.#runners) {
      for (const succ of this.graph.successors.get(runner.node) ?? []) {
        const target = this.#runnerOf.get(succ)!;
        const edge = new Edge(runner.node.name, target.index, this.queueMaxsize);
        target.inEdges.push(edge);
        runner.outEdges.push(edge);
        runner.edgeTo.set(succ, edge);
        this.#edges.push(edge);
      }
    }
    for (const node of this.graph.ingress) this.#openSeaEdge(this.#runnerOf.get(node)!);
  }

  // ------------------------------------------------------------------ lifecycle

  /** Starts processing. Messages emitted before `run` wait on their edges. Idempotent. */
  run(): void {
    if (this.#stopped) throw new FlowStoppedError('a stopped flow cannot run again');
    if (this.#running) return;
    this.#running = true;
    for (const r of this.#runners) this.#drain(r);
  }

  /** True between `run` and `stop`. */
  get running(): boolean {
    return this.#running;
  }

  /**
   * Stops the flow: new emits are refused, every in-flight invocation is
   * aborted (`FlowStoppedError` as the signal's reason), waiting emitters and
   * fetchers reject with `FlowStoppedError`, and all bookkeeping is cleared.
   * Resolves once no invocation is running. Idempotent.
   */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#running = false;
    const reason = new FlowStoppedError();
    for (const trace of this.#traces.values()) {
      for (const inv of trace.invocations) inv.abort(reason);
    }
    for (const edge of this.#edges) {
      edge.buffer.clear();
      for (let p = edge.putters.shift(); p; p = edge.putters.shift()) p.reject(reason);
    }
    for (const r of this.#runners) {
      for (let t = r.takers.shift(); t; t = r.takers.shift()) t.reject(reason);
    }
    const buckets = [this.#untraced, ...[...this.#traces.values()].map((t) => t.outputs)];
    for (const b of buckets) {
      b.dropAll();
      for (let w = b.waiters.shift(); w; w = b.waiters.shift()) w.reject(reason);
      for (let p = b.putters.shift(); p; p = b.putters.shift()) p.reject(reason);
    }
    for (let w = this.#anyWaiters.shift(); w; w = this.#anyWaiters.shift()) w.reject(reason);
    if (this.#inflightTotal > 0) {
      await new Promise<void>((resolve) => (this.#onDrained = resolve));
    }
    this.#traces.clear();
    this.#ended.clear();
    this.#order.clear();
    this.#orderTaken = 0;
    this.#untracedStreams.clear();
  }

  /** Adds a middleware; it sees events emitted from now on. */
  addMiddleware(m: Middleware): void {
    this.#middlewares.push(m);
    this.#eventsOn = true;
  }

  // ------------------------------------------------------------------ ingress

  /**
   * Emits `msg` from OpenSea to the ingress nodes (or `to`). Resolves once the
   * message sits on every target edge; awaits while an edge is full.
   *
   * @throws FlowStoppedError after `stop`.
   * @throws the signal's reason when `signal` aborts while waiting (nothing is emitted to the edges still full).
   * @throws TraceCancelled when the trace is cancelled while waiting.
   */
  async emit(msg: unknown, opts: EmitOptions = {}): Promise<void> {
    if (this.#stopped) throw new FlowStoppedError();
    opts.signal?.throwIfAborted();
    const traceId = opts.traceId ?? (isMessage(msg) ? msg.traceId : undefined);
    const trace = traceId === undefined ? undefined : this.#startTrace(traceId);
    const item: Item = { value: msg, trace };
    const targets = opts.to === undefined ? this.graph.ingress : Array.isArray(opts.to) ? opts.to : [opts.to];
    if (targets.length === 0) throw new Error('emit needs at least one target node');
    for (const target of targets) {
      const runner = this.#runnerOf.get(target);
      if (!runner) throw new Error(`node ${target.name} is not part of this flow`);
      const edge = this.#openSeaEdge(runner);
      const wait = this.#put(edge, runner, item, opts.signal);
      if (wait !== undefined) await wait;
    }
  }

  /**
   * Emits `msg` like {@link emit} when that needs no waiting, synchronously:
   * the flow has a single target (its only ingress node, or `to`) whose
   * edge has room or whose node has an idle worker. Returns false and emits
   * nothing otherwise (a full edge, several targets); `emit` then waits for
   * room. Lets a caller that usually finds room skip a promise per message.
   *
   * @throws FlowStoppedError after `stop`.
   * @throws TraceCancelled while the trace's cancellation is in progress.
   * @throws Error when `to` is not part of this flow.
   */
  tryEmit(msg: unknown, opts: { traceId?: string; to?: Node } = {}): boolean {
    if (this.#stopped) throw new FlowStoppedError();
    const ingress = this.graph.ingress;
    const target = opts.to ?? (ingress.length === 1 ? ingress[0]! : undefined);
    if (target === undefined) return false;
    const runner = this.#runnerOf.get(target);
    if (!runner) throw new Error(`node ${target.name} is not part of this flow`);
    const edge = this.#openSeaEdge(runner);
    if (!(this.#running && runner.active < runner.max) && !edge.hasRoom()) return false;
    const traceId = opts.traceId ?? (isMessage(msg) ? msg.traceId : undefined);
    const trace = traceId === undefined ? undefined : this.#startTrace(traceId);
    const wait = this.#put(edge, runner, { value: msg, trace });
    if (wait !== undefined) {
      // Room was checked just above and nothing ran in between; never expected.
      wait.catch(noop);
      throw new Error('tryEmit: the edge was unexpectedly full');
    }
    return true;
  }

  /**
   * Emits a {@link StreamChunk} for `parent` from outside the graph, numbered
   * like {@link Context.emitChunk}; goes to the ingress nodes (or `to`).
   */
  async emitChunk(args: EmitChunkArgs): Promise<StreamChunk> {
    if (this.#stopped) throw new FlowStoppedError();
    const trace = this.#startTrace(args.parent.traceId);
    const { chunk, message } = this.#makeChunk(trace, args);
    await this.emit(message, { traceId: trace.id, ...(args.to === undefined ? {} : { to: args.to }) });
    return chunk;
  }

  /**
   * The next output: of trace `traceId`, or the oldest of any trace.
   *
   * A trace-scoped fetch never hangs on a trace that is over: once the trace
   * has no pending work and no buffered output it rejects with
   * `TraceEndedError` (status COMPLETED, FAILED or DEADLINE_EXCEEDED) or
   * `TraceCancelled`. A fetch for a trace not emitted yet waits for it.
   * Concurrent fetches of one trace are served in call order.
   *
   * @throws FlowStoppedError when the flow stops.
   */
  fetch(opts: FetchOptions = {}): Promise<unknown> {
    if (this.#stopped) return Promise.reject(new FlowStoppedError());
    if (opts.signal?.aborted) return Promise.reject(opts.signal.reason as Error);
    if (opts.traceId === undefined) return this.#fetchAny(opts.signal);
    let trace = this.#traces.get(opts.traceId);
    if (trace === undefined) {
      const ended = this.#ended.get(opts.traceId);
      if (ended) return Promise.reject(this.#endedError(opts.traceId, ended));
      trace = new TraceState(opts.traceId, this.queueMaxsize);
      this.#traces.set(trace.id, trace);
    }
    const entry = trace.outputs.takeEntry();
    if (entry !== undefined) {
      this.#noteTaken(entry);
      this.#afterTake(trace);
      return Promise.resolve(entry.value);
    }
    if (trace.cancelled) return Promise.reject(new TraceCancelled(trace.id));
    if (trace.ended) {
      this.#finalize(trace);
      return Promise.reject(this.#endedError(trace.id, endedRecord(trace)));
    }
    return this.#wait(trace.outputs.waiters, opts.signal, trace);
  }

  /**
   * How trace `traceId` ended, when it is over and none of its outputs is
   * left to fetch: exactly when a `fetch` for it would reject at once
   * (`TraceCancelled` reads as status CANCELLED). Undefined while the trace
   * runs or still holds outputs, and for ids never emitted or already
   * forgotten (the ended-trace cache is bounded). Reads only: nothing is
   * consumed, and no error is built, so a consumer that loops over `fetch`
   * can stop without paying for a rejection per trace.
   */
  traceOutcome(traceId: string): { readonly status: TraceStatus; readonly error: FlowError | undefined } | undefined {
    const trace = this.#traces.get(traceId);
    if (trace === undefined) return this.#ended.get(traceId);
    if (trace.outputs.live > 0) return undefined;
    if (trace.cancelled) return PLAIN_ENDINGS.CANCELLED;
    return trace.ended ? endedRecord(trace) : undefined;
  }

  /**
   * Emits `msg` and fetches the trace's next output as one round trip.
   * Concurrent calls on the same trace are serialized: each gets the output
   * of its own message.
   */
  async call(msg: unknown, opts: { traceId?: string; signal?: AbortSignal; to?: Node | Node[] } = {}): Promise<unknown> {
    const traceId = opts.traceId ?? (isMessage(msg) ? msg.traceId : undefined);
    if (traceId === undefined) throw new TypeError('call needs a Message or a traceId');
    const trace = this.#traces.get(traceId);
    const previous = trace?.roundTrip;
    const run = async (): Promise<unknown> => {
      if (previous) await previous.then(noop, noop);
      await this.emit(msg, { ...opts, traceId });
      return this.fetch({ traceId, ...(opts.signal ? { signal: opts.signal } : {}) });
    };
    const p = run();
    const state = this.#traces.get(traceId);
    if (state) {
      state.roundTrip = p;
      const clear = (): void => {
        if (state.roundTrip === p) state.roundTrip = undefined;
      };
      p.then(clear, clear);
    }
    return p;
  }

  /**
   * Cancels a trace: drops its queued messages from every edge and output
   * buffer, aborts its in-flight invocations, rejects its waiting emitters
   * and fetchers with `TraceCancelled`, and emits one `trace_cancel_start`
   * … `trace_cancel_finish` pair. Other traces are untouched.
   *
   * @returns false for an unknown, already ended or already cancelling trace; true once cancelled.
   */
  async cancel(traceId: string): Promise<boolean> {
    const trace = this.#traces.get(traceId);
    if (trace === undefined || !trace.started || trace.ended) return false;
    if (trace.cancelled) {
      await trace.cancelDone;
      return false;
    }
    trace.cancelled = true;
    let finish!: () => void;
    trace.cancelDone = new Promise<void>((r) => (finish = r));
    this.#event('trace_cancel_start', undefined, trace, 0, undefined);
    const reason = new TraceCancelled(trace.id);

    for (const edge of this.#edges) this.#dropFromEdge(edge, trace, reason);
    for (const r of this.#runners) {
      if (r.openSea) this.#dropFromEdge(r.openSea, trace, reason);
      if (r.loop) this.#dropFromEdge(r.loop, trace, reason);
    }
    trace.outputs.dropAll();
    for (let p = trace.outputs.putters.shift(); p; p = trace.outputs.putters.shift()) p.reject(reason);
    for (let w = trace.outputs.waiters.shift(); w; w = trace.outputs.waiters.shift()) w.reject(reason);
    for (const inv of [...trace.invocations]) inv.abort(reason);
    this.#notifyTraceEnd(trace.id);

    if (trace.pending > 0) await new Promise<void>((resolve) => (trace.onIdle = resolve));
    trace.onIdle = undefined;
    this.#event('trace_cancel_finish', undefined, trace, 0, undefined);
    trace.ended = true;
    this.#finalize(trace);
    finish();
    return true;
  }

  /** The stored events of a trace, in order. @throws Error when no `stateStore` is configured. */
  loadHistory(traceId: string): Promise<StoredEvent[]> {
    if (!this.#store) return Promise.reject(new Error('loadHistory needs a stateStore'));
    return this.#store.loadHistory(traceId);
  }

  /** A snapshot of the per-trace bookkeeping, for leak tests and diagnostics. */
  stats(): FlowStats {
    let pending = 0;
    let blocked = 0;
    let buffered = this.#untraced.live;
    let waiters = this.#anyWaiters.length + this.#untraced.waiters.length;
    let streams = this.#untracedStreams.size;
    for (const t of this.#traces.values()) {
      pending += t.pending;
      buffered += t.outputs.live;
      waiters += t.outputs.waiters.length;
      blocked += t.outputs.putters.length;
      streams += t.streams?.size ?? 0;
    }
    let queued = 0;
    const nodes: Record<string, Record<string, number>> = {};
    for (const r of this.#runners) {
      for (const e of this.#allInEdges(r)) {
        queued += e.buffer.length;
        blocked += e.putters.length;
      }
      const s = r.node.hooks?.stats?.();
      if (s) nodes[r.node.name] = s;
    }
    return {
      running: this.#running,
      traces: this.#traces.size,
      pending,
      inflight: this.#inflightTotal,
      queued,
      blockedEmits: blocked + this.#untraced.putters.length,
      bufferedOutputs: buffered,
      fetchWaiters: waiters,
      openStreams: streams,
      endedTraces: this.#ended.size,
      nodes,
    };
  }

  // ------------------------------------------------------------------ edges and dispatch

  #openSeaEdge(runner: Runner): Edge {
    if (!runner.openSea) {
      runner.openSea = new Edge(undefined, runner.index, this.queueMaxsize);
      runner.inEdges.push(runner.openSea);
    }
    return runner.openSea;
  }

  *#allInEdges(r: Runner): Iterable<Edge> {
    yield* r.inEdges;
    if (r.loop) yield r.loop;
  }

  /**
   * Puts an item on an edge: straight to a free worker of the target when it
   * has one (its buffers are then empty, so FIFO holds), else into the buffer,
   * else waits for room. Returns undefined when no wait is needed, so the hot
   * path allocates no promise.
   */
  #put(edge: Edge, target: Runner, item: Item, signal?: AbortSignal): Promise<void> | undefined {
    const trace = item.trace;
    if (trace !== undefined) {
      if (trace.cancelled) return Promise.reject(new TraceCancelled(trace.id));
      trace.pending++;
    }
    if (target.takers.length > 0 && this.#giveToTaker(target, edge, item)) return undefined;
    if (this.#running && target.active < target.max) {
      this.#dispatch(target, item);
      return undefined;
    }
    if (edge.hasRoom()) {
      edge.buffer.push(item);
      return undefined;
    }
    return new Promise<void>((resolve, reject) => {
      if (signal === undefined) {
        edge.putters.push({ item, resolve, reject });
        return;
      }
      const onAbort = (): void => {
        const removed = edge.putters.removeWhere((p) => p.item === item && p.resolve === done);
        if (removed.length > 0) {
          this.#release(trace);
          reject(signal.reason);
        }
      };
      const done = (): void => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      };
      edge.putters.push({
        item,
        resolve: done,
        reject: (r) => {
          signal.removeEventListener('abort', onAbort);
          reject(r);
        },
      });
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  #giveToTaker(target: Runner, edge: Edge, item: Item): boolean {
    const kept = new Deque<Taker>();
    let given = false;
    for (let t = target.takers.shift(); t; t = target.takers.shift()) {
      if (!given && (t.edges === undefined || t.edges.has(edge))) {
        given = true;
        this.#release(item.trace);
        t.resolve(item.value);
      } else kept.push(t);
    }
    for (const t of kept) target.takers.push(t);
    return given;
  }

  /** Round-robin over the runner's incoming edges, the controller loop edge first. */
  #pull(r: Runner): Item | undefined {
    if (r.loop !== undefined && r.loop.buffer.length > 0) return r.loop.take();
    const edges = r.inEdges;
    const n = edges.length;
    for (let i = 0; i < n; i++) {
      const idx = (r.rr + i) % n;
      const edge = edges[idx]!;
      if (edge.buffer.length > 0) {
        r.rr = (idx + 1) % n;
        return edge.take();
      }
    }
    return undefined;
  }

  #drain(r: Runner): void {
    while (this.#running && r.active < r.max) {
      const item = this.#pull(r);
      if (item === undefined) return;
      this.#dispatch(r, item);
    }
  }

  #dispatch(r: Runner, item: Item): void {
    r.active++;
    this.#inflightTotal++;
    this.#execute(r, item);
  }

  /** Marks one unit of a trace's pending work done; ends the trace when none is left. */
  #release(trace: TraceState | undefined): void {
    if (trace === undefined) return;
    if (--trace.pending > 0 || !trace.started) return;
    if (trace.cancelled) trace.onIdle?.();
    else this.#endTrace(trace);
  }

  // ------------------------------------------------------------------ execution

  #execute(r: Runner, item: Item): void {
    const staged: unknown[] = [];
    let pending: Promise<void> | undefined;
    try {
      pending = this.#invoke(r, item, staged);
    } catch (err) {
      this.#executeFailed(r, err);
    }
    // Completion always runs in a later microtask, also for a hop that
    // finished synchronously: whoever dispatched (an emit putting a message
    // on several ingress edges, a node routing to several successors) has
    // then placed all its work before any of it is accounted as done.
    if (pending === undefined) {
      queueMicrotask(() => this.#complete(r, item.trace, staged));
      return;
    }
    pending.then(
      () => this.#complete(r, item.trace, staged),
      (err: unknown) => {
        this.#executeFailed(r, err);
        this.#complete(r, item.trace, staged);
      },
    );
  }

  #executeFailed(r: Runner, err: unknown): void {
    if (!(err instanceof TraceCancelled) && !(err instanceof FlowStoppedError)) {
      this.#log().error({ err: describeError(err), node: r.node.name }, 'unexpected runtime error');
    }
  }

  /** The end of one item's execution: bookkeeping, staged outputs, the runner's next item. */
  #complete(r: Runner, trace: TraceState | undefined, staged: unknown[]): void {
    r.active--;
    this.#inflightTotal--;
    // Final outputs become visible only now, together with the bookkeeping,
    // so whoever fetches the last output finds the trace already ended.
    if (staged.length > 0 && !trace?.cancelled && !this.#stopped) {
      const bucket = trace === undefined ? this.#untraced : trace.outputs;
      for (const value of staged) this.#buffer(bucket, value);
    }
    this.#release(trace);
    this.#serve(trace);
    if (this.#inflightTotal === 0 && this.#onDrained) this.#onDrained();
    this.#drain(r);
  }

  /**
   * Runs one item through its node: checks, attempts with retries, routing.
   * Returns undefined when everything finished synchronously (a node whose
   * code returned a plain value and whose successors had room): most hops,
   * which then cost no promise or suspended frame of their own.
   */
  #invoke(r: Runner, item: Item, staged: unknown[]): Promise<void> | undefined {
    const node = r.node;
    const trace = item.trace;
    if (trace?.cancelled) {
      this.#event('trace_cancel_drop', node, trace, 0, undefined);
      return undefined;
    }
    let value = item.value;
    const deadline = isMessage(value) ? value.deadline : undefined;
    if (deadline !== undefined && deadline <= Date.now()) {
      this.#event('deadline_skip', node, trace, 0, undefined, { deadline });
      if (trace) trace.deadlineHit = true;
      return this.#toRookery(trace, this.#finalMessage(value as Message, DEADLINE_TEXT), staged);
    }
    const schemas = this.#registry?.get(node.name);
    const validate = node.policy.validate;
    if (schemas && (validate === 'both' || validate === 'in')) {
      const parsed = schemas.in.safeParse(value);
      if (!parsed.success) {
        const error = this.#flowError(node, trace, FlowErrorCode.NODE_EXCEPTION, `input validation failed: ${parsed.error.message}`, parsed.error);
        this.#event('node_failed', node, trace, 0, undefined, { code: error.code, exception: error.message, exceptionType: 'ZodError' });
        return this.#fail(trace, error, staged);
      }
      value = parsed.data;
    }
    return this.#attempt({ r, trace, value, deadline, outSchema: schemas && (validate === 'both' || validate === 'out') ? schemas.out : undefined, staged }, 0);
  }

  /** One attempt of an invocation: synchronous to the end when the node's code returns a plain value. */
  #attempt(a: AttemptArgs, attempt: number): Promise<void> | undefined {
    const { r, trace, deadline } = a;
    const node = r.node;
    const policy = node.policy;
    const inv = new Invocation(this, node, trace, r.index);
    trace?.invocations.add(inv);
    let timeoutMs = policy.timeoutMs;
    let byDeadline = false;
    if (deadline !== undefined) {
      const left = deadline - Date.now();
      if (timeoutMs === undefined || left < timeoutMs) {
        timeoutMs = left;
        byDeadline = true;
      }
    }
    this.#event('node_start', node, trace, attempt, undefined);
    const t0 = performance.now();
    let result: unknown;
    try {
      result = (node.fn as unknown as (msg: unknown, ctx: Invocation) => unknown)(a.value, inv);
      if (isPromiseLike(result)) {
        // The timer is armed only once the code is known to wait: a
        // synchronous node returns before any timer could fire, and a
        // timer per hop (with a distinct duration per deadline) is a
        // measurable share of a hop's cost.
        if (timeoutMs !== undefined) {
          const ms = timeoutMs;
          inv.armTimer(ms - (performance.now() - t0), byDeadline ? () => new DeadlineExceededError(trace?.id) : () => new NodeTimeoutError(node.name, ms));
        }
        return this.#settleAttempt(a, attempt, inv, t0, inv.race(result));
      }
      if (inv.aborted) throw inv.reason;
      if (a.outSchema !== undefined) result = a.outSchema.parse(result);
    } catch (err) {
      inv.dispose();
      trace?.invocations.delete(inv);
      return this.#afterFailure(a, attempt, performance.now() - t0, inv.aborted ? inv.reason : err);
    }
    inv.dispose();
    trace?.invocations.delete(inv);
    this.#event('node_success', node, trace, attempt, performance.now() - t0);
    return this.#route(r, trace, result, a.staged);
  }

  /** The rest of an attempt whose node code returned a promise. */
  async #settleAttempt(a: AttemptArgs, attempt: number, inv: Invocation, t0: number, pending: Promise<unknown>): Promise<void> {
    let result: unknown;
    let failure: unknown;
    let failed = false;
    try {
      result = await pending;
      if (inv.aborted) throw inv.reason;
      if (a.outSchema !== undefined) result = a.outSchema.parse(result);
    } catch (err) {
      failed = true;
      failure = inv.aborted ? inv.reason : err;
    }
    // Disposed before anything else happens, so the events that follow count
    // the trace's in-flight invocations without this one.
    inv.dispose();
    a.trace?.invocations.delete(inv);
    const latencyMs = performance.now() - t0;
    if (failed) return this.#afterFailure(a, attempt, latencyMs, failure);
    this.#event('node_success', a.r.node, a.trace, attempt, latencyMs);
    await this.#route(a.r, a.trace, result, a.staged);
  }

  /** A failed attempt: cancelled, stopped, out of time, retried or failed for good. */
  async #afterFailure(a: AttemptArgs, attempt: number, latencyMs: number, failure: unknown): Promise<void> {
    const { r, trace, deadline, value, staged } = a;
    const node = r.node;
    const policy = node.policy;
    if (trace?.cancelled || failure instanceof TraceCancelled) {
      this.#event('node_trace_cancelled', node, trace, attempt, latencyMs);
      return;
    }
    if (failure instanceof FlowStoppedError || this.#stopped) return;
    if (failure instanceof DeadlineExceededError) {
      // The message's time ran out, not the node: a time-bound abort (node_timeout
      // tagged DEADLINE_EXCEEDED), never retried, answered like a deadline skip.
      this.#event('node_timeout', node, trace, attempt, latencyMs, { code: FlowErrorCode.DEADLINE_EXCEEDED, deadline, exception: failure.message, exceptionType: failure.name });
      if (trace) trace.deadlineHit = true;
      await this.#toRookery(trace, this.#finalMessage(isMessage(value) ? value : undefined, DEADLINE_TEXT, trace), staged);
      return;
    }
    const timedOut = failure instanceof NodeTimeoutError;
    const info = describeError(failure);
    this.#event(timedOut ? 'node_timeout' : 'node_error', node, trace, attempt, latencyMs, { exception: info.message, exceptionType: info.type });
    if (attempt < policy.maxRetries) {
      const sleepMs = backoffMs(policy, attempt);
      this.#event('node_retry', node, trace, attempt, latencyMs, { sleepMs });
      if (sleepMs > 0 && !(await this.#backoff(node, trace, r.index, sleepMs))) {
        this.#event('node_trace_cancelled', node, trace, attempt, undefined);
        return;
      }
      await this.#attempt(a, attempt + 1);
      return;
    }
    const code = timedOut ? FlowErrorCode.NODE_TIMEOUT : FlowErrorCode.NODE_EXCEPTION;
    const error = this.#flowError(node, trace, code, info.message, failure, { attempts: attempt + 1 });
    this.#event('node_failed', node, trace, attempt, latencyMs, { code, exception: info.message, exceptionType: info.type });
    await this.#fail(trace, error, staged);
  }

  /** Sleeps before a retry; false when the trace was cancelled or the flow stopped meanwhile. */
  async #backoff(node: Node, trace: TraceState | undefined, runnerIndex: number, ms: number): Promise<boolean> {
    const inv = new Invocation(this, node, trace, runnerIndex);
    trace?.invocations.add(inv);
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await inv.race(new Promise<void>((resolve) => (timer = setTimeout(resolve, ms))));
      return !this.#stopped && !trace?.cancelled;
    } catch {
      return false;
    } finally {
      clearTimeout(timer);
      inv.dispose();
      trace?.invocations.delete(inv);
    }
  }

  #flowError(node: Node, trace: TraceState | undefined, code: FlowErrorCode, message: string, cause: unknown, metadata: Record<string, unknown> = {}): FlowError {
    return new FlowError({ code, message, traceId: trace?.id, nodeName: node.name, nodeId: node.id, metadata, cause });
  }

  async #fail(trace: TraceState | undefined, error: FlowError, staged: unknown[]): Promise<void> {
    if (trace) trace.failure = error;
    if (this.emitErrorsToRookery) await this.#toRookery(trace, error, staged);
  }

  /** Sends a node's result onward: controller loop, Rookery, or every successor. Undefined when nothing had to wait. */
  #route(r: Runner, trace: TraceState | undefined, result: unknown, staged: unknown[]): Promise<void> | undefined {
    if (result === undefined || result === null) return undefined;
    if (isMessage(result) && isWM(result.payload)) return this.#controllerStep(r, trace, result as Message<WM>, staged);
    if (r.egress) return this.#toRookery(trace, result, staged);
    const item: Item = { value: result, trace };
    const edges = r.outEdges;
    for (let i = 0; i < edges.length; i++) {
      const edge = edges[i]!;
      const wait = this.#put(edge, this.#runners[edge.targetIndex]!, item);
      if (wait !== undefined) return this.#routeRest(wait, item, edges, i + 1);
    }
    return undefined;
  }

  /** The rest of a route that had to wait for room on an edge. */
  async #routeRest(wait: Promise<void>, item: Item, edges: readonly Edge[], from: number): Promise<void> {
    await wait;
    for (let i = from; i < edges.length; i++) {
      const edge = edges[i]!;
      const next = this.#put(edge, this.#runners[edge.targetIndex]!, item);
      if (next !== undefined) await next;
    }
  }

  async #controllerStep(r: Runner, trace: TraceState | undefined, msg: Message<WM>, staged: unknown[]): Promise<void> {
    const wm = msg.payload;
    let stop: string | undefined;
    if (msg.deadline !== undefined && msg.deadline <= Date.now()) {
      stop = DEADLINE_TEXT;
      if (trace) trace.deadlineHit = true;
    } else if (wm.budgetTokens != null && wm.tokensUsed >= wm.budgetTokens) stop = TOKEN_BUDGET_TEXT;
    else if (wm.budgetHops != null && wm.hops + 1 >= wm.budgetHops) stop = HOP_BUDGET_TEXT;
    if (stop !== undefined) {
      await this.#toRookery(trace, this.#finalMessage(msg, stop, trace), staged);
      return;
    }
    r.loop ??= new Edge(r.node.name, r.index, 0);
    // Unbounded on purpose: a node blocking on its own full input would deadlock itself.
    const wait = this.#put(r.loop, r, { value: { ...msg, payload: { ...wm, hops: wm.hops + 1 } }, trace });
    if (wait !== undefined) await wait;
  }

  #finalMessage(parent: Message | undefined, text: string, trace?: TraceState): Message {
    return {
      payload: finalAnswer(text),
      headers: parent?.headers ?? { tenant: 'default' },
      traceId: parent?.traceId ?? trace?.id ?? '',
      ts: Date.now(),
      meta: parent ? { ...parent.meta } : {},
    };
  }

  // ------------------------------------------------------------------ Rookery

  /**
   * Delivers an output to a waiting fetch, or buffers it (waiting while the
   * trace's buffer is full). With `staged` (an invocation's last act) the
   * output is held back and `#execute` publishes it together with the trace's
   * bookkeeping, so a caller that got the final output finds the trace ended.
   */
  #toRookery(trace: TraceState | undefined, value: unknown, staged?: unknown[]): Promise<void> | undefined {
    if (trace?.cancelled) return Promise.reject(new TraceCancelled(trace.id));
    const bucket = trace === undefined ? this.#untraced : trace.outputs;
    if (staged === undefined) {
      const waiter = bucket.waiters.shift() ?? this.#anyWaiters.shift();
      if (waiter !== undefined) {
        waiter.resolve(value);
        return undefined;
      }
    } else {
      if (!bucket.hasRoom()) this.#serve(trace);
      if (bucket.hasRoom()) {
        staged.push(value);
        return undefined;
      }
    }
    if (bucket.hasRoom()) {
      this.#buffer(bucket, value);
      return undefined;
    }
    return new Promise<void>((resolve, reject) => bucket.putters.push({ value, resolve, reject }));
  }

  /** Hands buffered outputs to waiting fetches: the trace's own first, then unscoped ones. */
  #serve(trace: TraceState | undefined): void {
    const bucket = trace === undefined ? this.#untraced : trace.outputs;
    if (bucket.live === 0) return;
    let served = false;
    while (bucket.live > 0) {
      const waiter = bucket.waiters.shift() ?? this.#anyWaiters.shift();
      if (waiter === undefined) break;
      const entry = bucket.takeEntry()!;
      this.#noteTaken(entry);
      served = true;
      waiter.resolve(entry.value);
    }
    if (served) this.#afterTake(trace);
  }

  #buffer(bucket: OutputBucket, value: unknown): void {
    const entry: OutputEntry = { value, bucket, taken: false };
    bucket.entries.push(entry);
    bucket.live++;
    this.#order.push(entry);
  }

  /** Keeps the arrival-order index small: drop it whole once every entry in it was taken. */
  #noteTaken(_entry: OutputEntry): void {
    this.#orderTaken++;
    if (this.#orderTaken >= this.#order.length) {
      this.#order.clear();
      this.#orderTaken = 0;
    } else if (this.#orderTaken > 1024 && this.#orderTaken * 2 > this.#order.length) {
      this.#order.removeWhere((e) => e.taken);
      this.#orderTaken = 0;
    }
  }

  /** After a take: admit a blocked producer; finalize an ended trace whose buffer is drained. */
  #afterTake(trace: TraceState | undefined): void {
    const bucket = trace === undefined ? this.#untraced : trace.outputs;
    while (bucket.putters.length > 0 && bucket.hasRoom()) {
      const p = bucket.putters.shift()!;
      this.#buffer(bucket, p.value);
      p.resolve();
    }
    if (trace !== undefined && trace.ended && bucket.live === 0 && bucket.waiters.length === 0) this.#finalize(trace);
  }

  #fetchAny(signal: AbortSignal | undefined): Promise<unknown> {
    for (let e = this.#order.shift(); e; e = this.#order.shift()) {
      if (e.taken) {
        this.#orderTaken--;
        continue;
      }
      // Remove from its bucket: the bucket deque skips it lazily, its live count drops now.
      e.taken = true;
      e.bucket.live--;
      this.#afterTake(e.bucket.trace);
      return Promise.resolve(e.value);
    }
    return this.#wait(this.#anyWaiters, signal, undefined);
  }

  #wait(queue: Deque<Waiter>, signal: AbortSignal | undefined, trace: TraceState | undefined): Promise<unknown> {
    return waitInQueue<unknown>(
      signal,
      (w) => queue.push(w),
      (w) => queue.removeWhere((q) => q === w).length > 0,
      () => {
        if (trace !== undefined && !trace.started && trace.outputs.waiters.length === 0) this.#traces.delete(trace.id);
        else if (trace?.ended) this.#afterTake(trace);
      },
    );
  }

  // ------------------------------------------------------------------ traces

  #startTrace(traceId: string): TraceState {
    let trace = this.#traces.get(traceId);
    if (trace === undefined) {
      this.#ended.delete(traceId);
      trace = new TraceState(traceId, this.queueMaxsize);
      this.#traces.set(traceId, trace);
      trace.started = true;
    } else if (trace.cancelled) {
      throw new TraceCancelled(traceId);
    } else if (!trace.started || trace.ended) {
      trace.restart();
    }
    return trace;
  }

  #endTrace(trace: TraceState): void {
    trace.ended = true;
    // Stream counters stay until the trace is forgotten: a trace that goes
    // idle between two chunks (a fast consumer of chunks emitted from
    // outside) keeps numbering its streams where they were.
    this.#notifyTraceEnd(trace.id);
    this.#serve(trace);
    if (this.#traces.get(trace.id) !== trace) return;
    const waiters = trace.outputs.waiters;
    if (waiters.length > 0) {
      const err = this.#endedError(trace.id, endedRecord(trace));
      for (let w = waiters.shift(); w; w = waiters.shift()) w.reject(err);
    }
    if (trace.outputs.live === 0) this.#finalize(trace);
  }

  /** Forgets a trace, keeping only its final status in the bounded cache. */
  #finalize(trace: TraceState): void {
    if (this.#traces.get(trace.id) !== trace) return;
    this.#traces.delete(trace.id);
    trace.outputs.dropAll();
    if (this.#endedCap === 0) return;
    this.#ended.delete(trace.id);
    this.#ended.set(trace.id, endedRecord(trace));
    while (this.#ended.size > this.#endedCap) {
      const oldest = this.#oldestEnded.next();
      if (oldest === undefined) break;
      this.#ended.delete(oldest);
    }
  }

  #endedError(traceId: string, rec: EndedRecord): Error {
    // Every trace a server consumes ends with one of these; a stack trace would
    // cost more than the trace's own hops and says nothing (the cause is data).
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      return rec.status === 'CANCELLED' ? new TraceCancelled(traceId) : new TraceEndedError(traceId, rec.status, rec.error);
    } finally {
      Error.stackTraceLimit = limit;
    }
  }

  #notifyTraceEnd(traceId: string): void {
    for (const r of this.#runners) {
      const hook = r.node.hooks?.onTraceEnd;
      if (hook) {
        try {
          hook(traceId);
        } catch (err) {
          this.#log().error({ err: describeError(err), node: r.node.name }, 'onTraceEnd hook failed');
        }
      }
    }
  }

  #dropFromEdge(edge: Edge, trace: TraceState, reason: TraceCancelled): void {
    const target = this.#runners[edge.targetIndex]!.node;
    const dropped = edge.buffer.removeWhere((i) => i.trace === trace);
    for (let i = 0; i < dropped.length; i++) {
      trace.pending--;
      this.#event('trace_cancel_drop', target, trace, 0, undefined);
    }
    const blocked = edge.putters.removeWhere((p) => p.item.trace === trace);
    for (const p of blocked) {
      trace.pending--;
      this.#event('trace_cancel_drop', target, trace, 0, undefined);
      p.reject(reason);
    }
    if (dropped.length > 0) edge.admitWaiting();
  }

  // ------------------------------------------------------------------ Context host

  /** @internal */
  successorsOf(inv: Invocation): readonly Node[] {
    return this.graph.successors.get(this.#runners[inv.runnerIndex]!.node) ?? [];
  }

  /** @internal */
  emitFrom(inv: Invocation, msg: unknown, to: Node | Node[] | undefined): Promise<void> {
    if (this.#stopped) return Promise.reject(new FlowStoppedError());
    const trace = inv.trace;
    if (trace?.cancelled) return Promise.reject(new TraceCancelled(trace.id));
    const r = this.#runners[inv.runnerIndex]!;
    if (to === undefined && r.egress) return this.#toRookery(trace, msg) ?? Promise.resolve();
    const targets = to === undefined ? [...r.edgeTo.keys()] : Array.isArray(to) ? to : [to];
    const item: Item = { value: msg, trace };
    const edges: Edge[] = [];
    for (const t of targets) {
      const edge = r.edgeTo.get(t);
      if (edge === undefined) {
        return Promise.reject(new Error(`node ${t.name} is not a successor of ${r.node.name}`));
      }
      edges.push(edge);
    }
    return (async () => {
      for (const edge of edges) {
        const wait = this.#put(edge, this.#runners[edge.targetIndex]!, item);
        if (wait !== undefined) await wait;
      }
    })();
  }

  /** @internal */
  async emitChunkFrom(inv: Invocation, args: EmitChunkArgs): Promise<StreamChunk> {
    const { chunk, message } = this.#makeChunk(inv.trace, args);
    await this.emitFrom(inv, message, args.to);
    return chunk;
  }

  #makeChunk(trace: TraceState | undefined, args: EmitChunkArgs): { chunk: StreamChunk; message: Message<StreamChunk> } {
    const streamId = args.streamId ?? args.parent.traceId;
    const done = args.done ?? false;
    let seq: number;
    if (trace !== undefined) seq = trace.nextSeq(streamId, args.seq, done);
    else {
      seq = args.seq ?? this.#untracedStreams.get(streamId) ?? 0;
      if (done) this.#untracedStreams.delete(streamId);
      else this.#untracedStreams.set(streamId, seq + 1);
    }
    const chunk: StreamChunk = { streamId, seq, text: args.text, done, meta: args.meta ?? {} };
    const message: Message<StreamChunk> = {
      payload: chunk,
      headers: args.parent.headers,
      traceId: args.parent.traceId,
      ts: Date.now(),
      meta: { ...args.parent.meta },
    };
    if (args.parent.deadline !== undefined) message.deadline = args.parent.deadline;
    return { chunk, message };
  }

  /** @internal */
  fetchFor(inv: Invocation, from: Node | Node[] | undefined): Promise<unknown> {
    const r = this.#runners[inv.runnerIndex]!;
    let edges: Set<Edge> | undefined;
    if (from !== undefined) {
      edges = new Set();
      for (const f of Array.isArray(from) ? from : [from]) {
        const edge = this.#runnerOf.get(f)?.edgeTo.get(r.node);
        if (edge === undefined) return Promise.reject(new Error(`node ${f.name} is not a predecessor of ${r.node.name}`));
        edges.add(edge);
      }
    }
    for (const edge of edges ?? r.inEdges) {
      if (edge.buffer.length > 0) {
        const item = edge.take()!;
        this.#release(item.trace);
        return Promise.resolve(item.value);
      }
    }
    return new Promise((resolve, reject) => r.takers.push({ edges, resolve, reject }));
  }

  /** @internal */
  callPlaybookFor(inv: Invocation, factory: PlaybookFactory, parent: Message, opts: { timeoutMs?: number } | undefined): Promise<unknown> {
    return callPlaybook(factory, parent, { ...opts, runtime: this, signal: inv.signal });
  }

  // ------------------------------------------------------------------ events

  #event(type: FlowEventType, node: Node | undefined, trace: TraceState | undefined, attempt: number, latencyMs: number | undefined, extra: Record<string, unknown> = {}): void {
    if (!this.#eventsOn) return;
    let qin = 0;
    let qout = 0;
    let outgoing = 0;
    if (node !== undefined) {
      const r = this.#runnerOf.get(node)!;
      // Plain loops: this runs for every event, and an iterator per event shows up under load.
      const ins = r.inEdges;
      for (let i = 0; i < ins.length; i++) qin += ins[i]!.buffer.length;
      if (r.loop !== undefined) qin += r.loop.buffer.length;
      const outs = r.outEdges;
      for (let i = 0; i < outs.length; i++) qout += outs[i]!.buffer.length;
      outgoing = r.outEdges.length;
    }
    // The constructor copies its init, so one scratch init serves every
    // event (several per hop) instead of an object literal each.
    const init = this.#eventInit;
    init.eventType = type;
    init.ts = Date.now();
    init.nodeName = node?.name;
    init.nodeId = node?.id;
    init.traceId = trace?.id;
    init.attempt = attempt;
    init.latencyMs = latencyMs;
    init.queueDepthIn = qin;
    init.queueDepthOut = qout;
    init.outgoingEdges = outgoing;
    init.queueMaxsize = this.queueMaxsize;
    init.tracePending = trace?.pending;
    init.traceInflight = trace?.invocations.size;
    init.traceCancelled = trace?.cancelled ?? false;
    init.extra = extra;
    const event = new FlowEvent(init);
    init.extra = NO_EXTRA;
    for (const m of this.#middlewares) {
      try {
        const ret = m(event);
        if (isPromiseLike(ret)) ret.then(undefined, (err: unknown) => this.#middlewareFailed(err, event));
      } catch (err) {
        this.#middlewareFailed(err, event);
      }
    }
    if (this.#store !== undefined) {
      const stored = toStoredEvent(`${this.id}-${++this.#eventSeq}`, event);
      try {
        this.#store.saveEvent(stored).then(undefined, (err: unknown) => this.#storeFailed(err, event));
      } catch (err) {
        this.#storeFailed(err, event);
      }
    }
  }

  #middlewareFailed(err: unknown, event: FlowEvent): void {
    this.#log().error({ err: describeError(err), event: event.eventType, node: event.nodeName }, 'middleware failed; event skipped for it');
  }

  #storeFailed(err: unknown, event: FlowEvent): void {
    this.#log().error({ err: describeError(err), event: event.eventType, node: event.nodeName }, 'state store saveEvent failed');
  }

  #log(): Logger {
    return this.#logger ?? runtimeLogger();
  }
}

function noop(): void {}

/**
 * Builds a {@link Flow} from adjacencies (`a.to(b, c)`, `c.to()`).
 *
 * @throws CycleError on a forbidden cycle; Error on duplicate node names.
 */
export function create(adjacencies: Adjacency[], options?: FlowOptions): Flow {
  return new Flow(adjacencies, options);
}
