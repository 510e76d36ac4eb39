import { randomUUID } from 'node:crypto';
import type { Context } from './context.js';
import { resolvePolicy, type NodePolicy, type ResolvedPolicy } from './policy.js';

/**
 * A node's function. It receives the message (or plain payload) delivered on
 * one of its incoming edges and its {@link Context}. Its return value goes to
 * every successor (Rookery for an egress node); `undefined` and `null` send
 * nothing. The parameter is typed `never` so any one-argument function fits.
 */
export type NodeFn = (msg: never, ctx: Context) => unknown;

/** A node and the nodes it feeds; built by {@link Node.to}. */
export interface Adjacency {
  readonly node: Node;
  readonly successors: readonly Node[];
}

/**
 * Hooks a built-in pattern (such as `joinK`) uses to keep its per-trace state
 * in step with the runtime.
 */
export interface NodeHooks {
  /** Called once when a trace has no pending work left, and on cancellation. */
  onTraceEnd?: (traceId: string) => void;
  /** Size of the node's per-trace state, reported by `Flow.stats()`. */
  stats?: () => Record<string, number>;
}

/** Options of {@link Node}. */
export interface NodeOptions {
  /** Unique within a flow; defaults to the function name or `node-<id>`. */
  name?: string;
  policy?: NodePolicy;
  /** Allows this node's own self-loop (`node.to(node)`) past cycle detection. */
  allowCycle?: boolean;
  hooks?: NodeHooks;
}

/** A unit of work in a flow graph. Immutable once built. */
export class Node {
  readonly name: string;
  readonly id: string;
  readonly policy: ResolvedPolicy;
  readonly allowCycle: boolean;
  readonly fn: NodeFn;
  readonly hooks: NodeHooks | undefined;

  /** @throws RangeError when the policy is invalid. */
  constructor(fn: NodeFn, opts: NodeOptions = {}) {
    if (typeof fn !== 'function') throw new TypeError('Node requires a function');
    this.id = randomUUID().replaceAll('-', '');
    this.name = opts.name ?? (fn.name && fn.name !== 'anonymous' ? fn.name : `node-${this.id.slice(0, 8)}`);
    this.policy = resolvePolicy(opts.policy);
    this.allowCycle = opts.allowCycle ?? false;
    this.fn = fn;
    this.hooks = opts.hooks;
  }

  /** Declares this node's successors; `node.to()` declares an egress node. */
  to(...successors: Node[]): Adjacency {
    return { node: this, successors };
  }
}
