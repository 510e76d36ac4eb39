import { waitInQueue } from '../../internal/abortable-wait.js';
import { Deque } from '../../internal/deque.js';
import { TraceCancelled } from '../errors.js';
import { isMessage, isWM, type Message, type WM } from '../message.js';
import type { Node } from '../node.js';
import { Edge, type Item, type Putter } from './edge.js';
import type { Engine } from './engine.js';
import type { Lifecycle } from './lifecycle.js';
import { DEADLINE_TEXT, finalMessage, HOP_BUDGET_TEXT, TOKEN_BUDGET_TEXT } from './final-answers.js';
import type { TraceLifecycle } from './trace-lifecycle.js';
import type { TraceState } from './trace-state.js';

/** One node of a running flow: its edges, its concurrency slots and the `ctx.fetch` calls waiting on it. */
export interface Runner {
  readonly index: number;
  readonly node: Node;
  /** Edges into the node: from its predecessors, then from OpenSea. */
  readonly inEdges: Edge[];
  /** Edges to successors, in declaration order (a self-loop included). */
  readonly outEdges: Edge[];
  readonly edgeTo: Map<Node, Edge>;
  /** Its results go to Rookery. */
  readonly egress: boolean;
  /** `maxConcurrency`. */
  readonly max: number;
  /** Invocations running now. */
  active: number;
  /** Round-robin cursor over `inEdges`. */
  rr: number;
  openSea: Edge | undefined;
  /** Unbounded edge carrying controller-loop re-entries. */
  loop: Edge | undefined;
  readonly takers: Deque<Taker>;
}

/** A `ctx.fetch` waiting for a message on some of its node's incoming edges. */
interface Taker {
  /** The edges it takes from; undefined: any incoming edge. */
  readonly edges: ReadonlySet<Edge> | undefined;
  resolve(value: unknown): void;
  reject(reason: unknown): void;
}

/**
 * Edges and dispatch: every edge is a bounded FIFO into one node; a message
 * put on an edge goes straight to an idle worker of its node when there is
 * one (its edges are then empty, so order holds), else into the buffer, else
 * its emitter waits for room. Each node takes from its incoming edges round
 * robin (the controller-loop edge first) while it has a free slot.
 */
export class Scheduler {
  readonly runners: Runner[] = [];
  readonly #runnerOf = new Map<Node, Runner>();
  readonly #e: Engine;
  readonly #life: Lifecycle;
  readonly #traces: TraceLifecycle;

  /** Built after the lifecycle, the event bus, the traces and Rookery; reaches the executor through the engine. */
  constructor(engine: Engine) {
    this.#e = engine;
    this.#life = engine.life;
    this.#traces = engine.traces;
    const { graph, queueMaxsize } = engine;
    for (const node of graph.nodes) {
      const runner: Runner = {
        index: this.runners.length,
        node,
        inEdges: [],
        outEdges: [],
        edgeTo: new Map(),
        egress: graph.egress.includes(node),
        max: node.policy.maxConcurrency,
        active: 0,
        rr: 0,
        openSea: undefined,
        loop: undefined,
        takers: new Deque(),
      };
      this.runners.push(runner);
      this.#runnerOf.set(node, runner);
    }
    for (const runner of this.runners) {
      for (const succ of graph.successors.get(runner.node) ?? []) {
        const target = this.#runnerOf.get(succ)!;
        const edge = new Edge(runner.node.name, target.index, queueMaxsize);
        target.inEdges.push(edge);
        runner.outEdges.push(edge);
        runner.edgeTo.set(succ, edge);
      }
    }
    for (const node of graph.ingress) this.openSeaEdge(this.#runnerOf.get(node)!);
  }

  /** The runner of `node`; undefined when the node is not part of this flow. */
  runnerOf(node: Node): Runner | undefined {
    return this.#runnerOf.get(node);
  }

  /** The edge from OpenSea into `r`, created on first use for a node that is not an ingress node. */
  openSeaEdge(r: Runner): Edge {
    if (!r.openSea) {
      r.openSea = new Edge(undefined, r.index, this.#e.queueMaxsize);
      r.inEdges.push(r.openSea);
    }
    return r.openSea;
  }

  /**
   * Puts an item on an edge into `target`: to a waiting `ctx.fetch` or a
   * free worker of the target when there is one, else into the buffer, else
   * waits for room (rejecting with the signal's reason if `signal` aborts
   * first). Returns undefined when no wait is needed, so the hot path
   * allocates no promise.
   */
  put(edge: Edge, target: Runner, item: Item, signal?: AbortSignal): Promise<void> | undefined {
    const trace = item.trace;
    if (trace !== undefined) {
      if (trace.cancelled) return Promise.reject(new TraceCancelled(trace.id));
      trace.pending++;
    }
    if (target.takers.length > 0 && this.#giveToTaker(target, edge, item)) return undefined;
    if (this.#life.running && target.active < target.max) {
      this.#dispatch(target, item);
      return undefined;
    }
    if (edge.hasRoom()) {
      edge.buffer.push(item);
      return undefined;
    }
    let putter: Putter | undefined;
    return waitInQueue<void>(
      signal,
      (w) => edge.putters.push((putter = { item, resolve: w.resolve, reject: w.reject })),
      () => putter !== undefined && edge.putters.remove(putter),
      () => this.#traces.release(trace),
    );
  }

  /** Puts `item` on each of `edges` in order, waiting for room where needed; undefined when nothing had to wait. */
  putEach(item: Item, edges: readonly Edge[]): Promise<void> | undefined {
    for (let i = 0; i < edges.length; i++) {
      const edge = edges[i]!;
      const wait = this.put(edge, this.runners[edge.targetIndex]!, item);
      if (wait !== undefined) return this.#putRest(wait, item, edges, i + 1);
    }
    return undefined;
  }

  async #putRest(wait: Promise<void>, item: Item, edges: readonly Edge[], from: number): Promise<void> {
    await wait;
    for (let i = from; i < edges.length; i++) {
      const edge = edges[i]!;
      const next = this.put(edge, this.runners[edge.targetIndex]!, item);
      if (next !== undefined) await next;
    }
  }

  /**
   * Sends a node's result onward: `undefined`/`null` nowhere, a `WM`
   * message around its controller loop, an egress node's result to Rookery
   * (held in `staged`), anything else to every successor. Undefined when
   * nothing had to wait.
   */
  forward(r: Runner, trace: TraceState | undefined, result: unknown, staged: unknown[]): Promise<void> | undefined {
    if (result === undefined || result === null) return undefined;
    if (isMessage(result) && isWM(result.payload)) return this.#controllerStep(r, trace, result as Message<WM>, staged);
    if (r.egress) return this.#e.rookery.deliver(trace, result, staged);
    return this.putEach({ value: result, trace }, r.outEdges);
  }

  /** One turn of a controller loop: re-enqueued with `hops + 1`, or ended by its deadline or a budget. */
  #controllerStep(r: Runner, trace: TraceState | undefined, msg: Message<WM>, staged: unknown[]): Promise<void> | undefined {
    const wm = msg.payload;
    let stop: string | undefined;
    if (msg.deadline !== undefined && msg.deadline <= Date.now()) {
      stop = DEADLINE_TEXT;
      if (trace) trace.deadlineHit = true;
    } else if (wm.budgetTokens != null && wm.tokensUsed >= wm.budgetTokens) stop = TOKEN_BUDGET_TEXT;
    else if (wm.budgetHops != null && wm.hops + 1 >= wm.budgetHops) stop = HOP_BUDGET_TEXT;
    if (stop !== undefined) return this.#e.rookery.deliver(trace, finalMessage(msg, stop, trace), staged);
    // Unbounded on purpose: a node blocking on its own full input would deadlock itself.
    r.loop ??= new Edge(r.node.name, r.index, 0);
    return this.put(r.loop, r, { value: { ...msg, payload: { ...wm, hops: wm.hops + 1 } }, trace });
  }

  /** `ctx.fetch`: the next item on `edges` (default every incoming edge of `r`), or a wait for one. */
  take(r: Runner, edges: ReadonlySet<Edge> | undefined): Promise<unknown> {
    for (const edge of edges ?? r.inEdges) {
      if (edge.buffer.length > 0) {
        const item = edge.take()!;
        this.#traces.release(item.trace);
        return Promise.resolve(item.value);
      }
    }
    return new Promise((resolve, reject) => r.takers.push({ edges, resolve, reject }));
  }

  #giveToTaker(target: Runner, edge: Edge, item: Item): boolean {
    const kept = new Deque<Taker>();
    let given = false;
    for (let t = target.takers.shift(); t; t = target.takers.shift()) {
      if (!given && (t.edges === undefined || t.edges.has(edge))) {
        given = true;
        this.#traces.release(item.trace);
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

  /** Starts queued items on `r` while it has free slots. */
  drain(r: Runner): void {
    while (this.#life.running && r.active < r.max) {
      const item = this.#pull(r);
      if (item === undefined) return;
      this.#dispatch(r, item);
    }
  }

  drainAll(): void {
    for (const r of this.runners) this.drain(r);
  }

  #dispatch(r: Runner, item: Item): void {
    r.active++;
    this.#life.inflight++;
    this.#e.executor.execute(r, item);
  }

  /** Cancel: drops `trace`'s items from every edge (one `trace_cancel_drop` each) and rejects its blocked emitters. */
  dropTrace(trace: TraceState, reason: TraceCancelled): void {
    for (const r of this.runners) {
      for (const edge of r.inEdges) this.#dropFromEdge(r, edge, trace, reason);
      if (r.loop) this.#dropFromEdge(r, r.loop, trace, reason);
    }
  }

  #dropFromEdge(target: Runner, edge: Edge, trace: TraceState, reason: TraceCancelled): void {
    const bus = this.#e.bus;
    const dropped = edge.buffer.removeWhere((i) => i.trace === trace);
    for (let i = 0; i < dropped.length; i++) {
      trace.pending--;
      bus.emit('trace_cancel_drop', target, trace, 0, undefined);
    }
    const blocked = edge.putters.removeWhere((p) => p.item.trace === trace);
    for (const p of blocked) {
      trace.pending--;
      bus.emit('trace_cancel_drop', target, trace, 0, undefined);
      p.reject(reason);
    }
    if (dropped.length > 0) edge.admitWaiting();
  }

  /** Stop: empties every edge, rejects every blocked emitter and waiting `ctx.fetch` with `reason`. */
  stop(reason: Error): void {
    for (const r of this.runners) {
      const edges = r.loop === undefined ? r.inEdges : [...r.inEdges, r.loop];
      for (const edge of edges) {
        edge.buffer.clear();
        for (let p = edge.putters.shift(); p; p = edge.putters.shift()) p.reject(reason);
      }
      for (let t = r.takers.shift(); t; t = r.takers.shift()) t.reject(reason);
    }
  }

  /** Items buffered on edges, and emitters blocked on full edges. */
  counts(): { queued: number; blocked: number } {
    let queued = 0;
    let blocked = 0;
    for (const r of this.runners) {
      for (const e of r.inEdges) {
        queued += e.buffer.length;
        blocked += e.putters.length;
      }
      if (r.loop) queued += r.loop.buffer.length;
    }
    return { queued, blocked };
  }
}
