import type { EmitChunkArgs } from '../context.js';
import { FlowStoppedError, TraceCancelled } from '../errors.js';
import type { Message, StreamChunk } from '../message.js';
import type { Node } from '../node.js';
import { callPlaybook, type PlaybookFactory } from '../playbook.js';
import type { Edge } from './edge.js';
import type { Engine } from './engine.js';
import type { Invocation, InvocationHost } from './invocation.js';

function asList(nodes: Node | Node[]): Node[] {
  return Array.isArray(nodes) ? nodes : [nodes];
}

/**
 * What a node's {@link Context} does on the flow it runs in: `ctx.emit` and
 * `ctx.emitChunk` to its successors (Rookery for an egress node),
 * `ctx.fetch` from its incoming edges, `ctx.callPlaybook` under its signal.
 */
export class ContextHost implements InvocationHost {
  readonly #e: Engine;

  constructor(engine: Engine) {
    this.#e = engine;
  }

  successorsOf(inv: Invocation): readonly Node[] {
    return this.#e.graph.successors.get(inv.node) ?? [];
  }

  emitFrom(inv: Invocation, msg: unknown, to: Node | Node[] | undefined): Promise<void> {
    const e = this.#e;
    if (e.life.stopped) return Promise.reject(new FlowStoppedError());
    const trace = inv.trace;
    if (trace?.cancelled) return Promise.reject(new TraceCancelled(trace.id));
    const r = e.scheduler.runners[inv.runnerIndex]!;
    if (to === undefined && r.egress) return e.rookery.deliver(trace, msg) ?? Promise.resolve();
    const edges: Edge[] = [];
    for (const t of to === undefined ? [...r.edgeTo.keys()] : asList(to)) {
      const edge = r.edgeTo.get(t);
      if (edge === undefined) return Promise.reject(new Error(`node ${t.name} is not a successor of ${r.node.name}`));
      edges.push(edge);
    }
    return e.scheduler.putEach({ value: msg, trace }, edges) ?? Promise.resolve();
  }

  async emitChunkFrom(inv: Invocation, args: EmitChunkArgs): Promise<StreamChunk> {
    const { chunk, message } = this.#e.chunks.make(inv.trace, args);
    await this.emitFrom(inv, message, args.to);
    return chunk;
  }

  fetchFor(inv: Invocation, from: Node | Node[] | undefined): Promise<unknown> {
    const scheduler = this.#e.scheduler;
    const r = scheduler.runners[inv.runnerIndex]!;
    let edges: Set<Edge> | undefined;
    if (from !== undefined) {
      edges = new Set();
      for (const f of asList(from)) {
        const edge = scheduler.runnerOf(f)?.edgeTo.get(r.node);
        if (edge === undefined) return Promise.reject(new Error(`node ${f.name} is not a predecessor of ${r.node.name}`));
        edges.add(edge);
      }
    }
    return scheduler.take(r, edges);
  }

  callPlaybookFor(inv: Invocation, factory: PlaybookFactory, parent: Message, opts: { timeoutMs?: number } | undefined): Promise<unknown> {
    return callPlaybook(factory, parent, { ...opts, runtime: this.#e.flow, signal: inv.signal });
  }
}
