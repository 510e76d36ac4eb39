import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { EmitChunkArgs } from './context.js';
import { Engine } from './engine/engine.js';
import type { Item } from './engine/edge.js';
import { FlowStoppedError, type FlowError, type TraceStatus } from './errors.js';
import type { Middleware } from './events.js';
import { buildGraph, type Graph } from './graph.js';
import { isMessage, type StreamChunk } from './message.js';
import type { Adjacency, Node } from './node.js';
import type { ModelRegistry } from './registry.js';
import type { StateStore, StoredEvent } from './state-store.js';

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

function noop(): void {}

/**
 * A running graph of nodes: PenguiFlow's `PenguiFlow` object.
 *
 * Every edge is a bounded FIFO; results of egress nodes go to Rookery, where
 * `fetch` reads them, per trace or in arrival order. The flow tracks every
 * trace's pending work, so a trace-scoped fetch on a trace that is over
 * rejects at once instead of hanging.
 *
 * This class is the public facade; the machinery lives in `./engine/`
 * (see `Engine`), one concept per file.
 */
export class Flow {
  /** Random id of this flow instance; prefixes stored event ids. */
  readonly id = randomUUID().replaceAll('-', '').slice(0, 12);
  /** The validated graph: nodes, successors, predecessors, ingress and egress nodes. */
  readonly graph: Graph;
  /** Capacity of every edge and of each trace's output buffer (`<= 0`: unbounded). */
  readonly queueMaxsize: number;
  /** Whether a node's final `FlowError` is delivered to Rookery as its trace's output. */
  readonly emitErrorsToRookery: boolean;
  readonly #e: Engine;

  constructor(adjacencies: readonly Adjacency[], options: FlowOptions = {}) {
    this.graph = buildGraph(adjacencies, options.allowCycles ?? false);
    this.#e = new Engine(this, this.graph, options);
    this.queueMaxsize = this.#e.queueMaxsize;
    this.emitErrorsToRookery = this.#e.emitErrorsToRookery;
  }

  /** Starts processing. Messages emitted before `run` wait on their edges. Idempotent. */
  run(): void {
    this.#e.life.run();
  }

  /** True between `run` and `stop`. */
  get running(): boolean {
    return this.#e.life.running;
  }

  /**
   * Stops the flow: new emits are refused, every in-flight invocation is
   * aborted (`FlowStoppedError` as the signal's reason), waiting emitters and
   * fetchers reject with `FlowStoppedError`, and all bookkeeping is cleared.
   * Resolves once no invocation is running. Idempotent.
   */
  stop(): Promise<void> {
    return this.#e.life.stop();
  }

  /** Adds a middleware; it sees events emitted from now on. */
  addMiddleware(m: Middleware): void {
    this.#e.bus.add(m);
  }

  /**
   * Emits `msg` from OpenSea to the ingress nodes (or `to`). Resolves once the
   * message sits on every target edge; awaits while an edge is full.
   *
   * @throws FlowStoppedError after `stop`.
   * @throws the signal's reason when `signal` aborts while waiting (nothing is emitted to the edges still full).
   * @throws TraceCancelled when the trace is cancelled while waiting.
   */
  async emit(msg: unknown, opts: EmitOptions = {}): Promise<void> {
    const e = this.#e;
    if (e.life.stopped) throw new FlowStoppedError();
    opts.signal?.throwIfAborted();
    const traceId = opts.traceId ?? (isMessage(msg) ? msg.traceId : undefined);
    const trace = traceId === undefined ? undefined : e.traces.start(traceId);
    const item: Item = { value: msg, trace };
    const targets = opts.to === undefined ? this.graph.ingress : Array.isArray(opts.to) ? opts.to : [opts.to];
    if (targets.length === 0) throw new Error('emit needs at least one target node');
    const scheduler = e.scheduler;
    for (const target of targets) {
      const runner = scheduler.runnerOf(target);
      if (!runner) throw new Error(`node ${target.name} is not part of this flow`);
      const wait = scheduler.put(scheduler.openSeaEdge(runner), runner, item, opts.signal);
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
    const e = this.#e;
    if (e.life.stopped) throw new FlowStoppedError();
    const ingress = this.graph.ingress;
    const target = opts.to ?? (ingress.length === 1 ? ingress[0]! : undefined);
    if (target === undefined) return false;
    const scheduler = e.scheduler;
    const runner = scheduler.runnerOf(target);
    if (!runner) throw new Error(`node ${target.name} is not part of this flow`);
    const edge = scheduler.openSeaEdge(runner);
    if (!(e.life.running && runner.active < runner.max) && !edge.hasRoom()) return false;
    const traceId = opts.traceId ?? (isMessage(msg) ? msg.traceId : undefined);
    const trace = traceId === undefined ? undefined : e.traces.start(traceId);
    const wait = scheduler.put(edge, runner, { value: msg, trace });
    if (wait !== undefined) {
      // Room was checked just above and nothing ran in between; never expected.
      wait.catch(noop);
      throw new Error('tryEmit: the edge was unexpectedly full');
    }
    return true;
  }

  /**
   * Emits a {@link StreamChunk} for `parent` from outside the graph, numbered
   * like `Context.emitChunk`; goes to the ingress nodes (or `to`).
   */
  async emitChunk(args: EmitChunkArgs): Promise<StreamChunk> {
    const e = this.#e;
    if (e.life.stopped) throw new FlowStoppedError();
    const trace = e.traces.start(args.parent.traceId);
    const { chunk, message } = e.chunks.make(trace, args);
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
    if (this.#e.life.stopped) return Promise.reject(new FlowStoppedError());
    if (opts.signal?.aborted) return Promise.reject(opts.signal.reason as Error);
    return this.#e.rookery.fetch(opts.traceId, opts.signal);
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
    return this.#e.traces.outcome(traceId);
  }

  /**
   * Emits `msg` and fetches the trace's next output as one round trip.
   * Concurrent calls on the same trace are serialized: each gets the output
   * of its own message.
   */
  async call(msg: unknown, opts: { traceId?: string; signal?: AbortSignal; to?: Node | Node[] } = {}): Promise<unknown> {
    const traceId = opts.traceId ?? (isMessage(msg) ? msg.traceId : undefined);
    if (traceId === undefined) throw new TypeError('call needs a Message or a traceId');
    const traces = this.#e.traces;
    const previous = traces.get(traceId)?.roundTrip;
    const run = async (): Promise<unknown> => {
      if (previous) await previous.then(noop, noop);
      await this.emit(msg, { ...opts, traceId });
      return this.fetch({ traceId, ...(opts.signal ? { signal: opts.signal } : {}) });
    };
    const p = run();
    const state = traces.get(traceId);
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
  cancel(traceId: string): Promise<boolean> {
    return this.#e.traces.cancel(traceId);
  }

  /** The stored events of a trace, in order. @throws Error when no `stateStore` is configured. */
  loadHistory(traceId: string): Promise<StoredEvent[]> {
    return this.#e.bus.loadHistory(traceId);
  }

  /** A snapshot of the per-trace bookkeeping, for leak tests and diagnostics. */
  stats(): FlowStats {
    const e = this.#e;
    const out = e.rookery.counts();
    const edges = e.scheduler.counts();
    let pending = 0;
    let buffered = out.buffered;
    let waiters = out.waiters;
    let blocked = edges.blocked + out.blocked;
    let streams = e.chunks.openUntraced;
    for (const t of e.traces.live()) {
      pending += t.pending;
      buffered += t.outputs.live;
      waiters += t.outputs.waiters.length;
      blocked += t.outputs.putters.length;
      streams += t.streams?.size ?? 0;
    }
    const nodes: Record<string, Record<string, number>> = {};
    for (const node of this.graph.nodes) {
      const s = node.hooks?.stats?.();
      if (s) nodes[node.name] = s;
    }
    return {
      running: e.life.running,
      traces: e.traces.size,
      pending,
      inflight: e.life.inflight,
      queued: edges.queued,
      blockedEmits: blocked,
      bufferedOutputs: buffered,
      fetchWaiters: waiters,
      openStreams: streams,
      endedTraces: e.traces.endedSize,
      nodes,
    };
  }
}

/**
 * Builds a {@link Flow} from adjacencies (`a.to(b, c)`, `c.to()`).
 *
 * @throws CycleError on a forbidden cycle; Error on duplicate node names.
 */
export function create(adjacencies: Adjacency[], options?: FlowOptions): Flow {
  return new Flow(adjacencies, options);
}
