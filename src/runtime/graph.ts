import { CycleError } from './errors.js';
import type { Adjacency, Node } from './node.js';

/** The validated shape of a flow. */
export interface Graph {
  readonly nodes: readonly Node[];
  readonly successors: ReadonlyMap<Node, readonly Node[]>;
  readonly predecessors: ReadonlyMap<Node, readonly Node[]>;
  /** Nodes fed from OpenSea: no parents other than themselves. */
  readonly ingress: readonly Node[];
  /** Nodes feeding Rookery: no successors other than themselves. */
  readonly egress: readonly Node[];
}

/**
 * Merges adjacencies into a graph and checks it.
 *
 * @throws Error on an empty graph or two distinct nodes sharing a name.
 * @throws CycleError on a cycle, unless `allowCycles`, or unless the cycle is
 *   a self-loop of a node built with `allowCycle`.
 */
export function buildGraph(adjacencies: readonly Adjacency[], allowCycles: boolean): Graph {
  const successors = new Map<Node, Node[]>();
  const predecessors = new Map<Node, Node[]>();
  const byName = new Map<string, Node>();
  const add = (node: Node): void => {
    const existing = byName.get(node.name);
    if (existing && existing !== node) throw new Error(`two different nodes are named ${JSON.stringify(node.name)}`);
    if (!existing) {
      byName.set(node.name, node);
      successors.set(node, []);
      predecessors.set(node, []);
    }
  };
  for (const adj of adjacencies) {
    add(adj.node);
    for (const s of adj.successors) {
      add(s);
      const out = successors.get(adj.node)!;
      if (!out.includes(s)) {
        out.push(s);
        predecessors.get(s)!.push(adj.node);
      }
    }
  }
  const nodes = [...successors.keys()];
  if (nodes.length === 0) throw new Error('a flow needs at least one node');

  if (!allowCycles) detectCycles(nodes, successors);

  const ingress = nodes.filter((n) => predecessors.get(n)!.every((p) => p === n));
  const egress = nodes.filter((n) => successors.get(n)!.every((s) => s === n));
  if (ingress.length === 0) throw new CycleError('the graph has no ingress node (every node has a parent)');
  return { nodes, successors, predecessors, ingress, egress };
}

function detectCycles(nodes: readonly Node[], successors: ReadonlyMap<Node, readonly Node[]>): void {
  const WHITE = 0;
  const GREY = 1;
  const BLACK = 2;
  const colour = new Map<Node, number>(nodes.map((n) => [n, WHITE]));
  // Iterative DFS: a deep chain must not overflow the stack.
  for (const root of nodes) {
    if (colour.get(root) !== WHITE) continue;
    const stack: { node: Node; next: number }[] = [{ node: root, next: 0 }];
    colour.set(root, GREY);
    while (stack.length > 0) {
      const frame = stack[stack.length - 1]!;
      const outs = successors.get(frame.node)!;
      if (frame.next >= outs.length) {
        colour.set(frame.node, BLACK);
        stack.pop();
        continue;
      }
      const next = outs[frame.next++]!;
      if (next === frame.node) {
        if (!next.allowCycle) throw new CycleError(`node ${next.name} loops to itself without allowCycle`);
        continue;
      }
      const c = colour.get(next);
      if (c === GREY) {
        const path = stack.map((f) => f.node.name);
        path.push(next.name);
        throw new CycleError(`cycle detected: ${path.slice(path.indexOf(next.name)).join(' -> ')}`);
      }
      if (c === WHITE) {
        colour.set(next, GREY);
        stack.push({ node: next, next: 0 });
      }
    }
  }
}
