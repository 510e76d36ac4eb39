/**
 * Describes a hosted flow's graph (ListFlows encodes it on the wire).
 */
import type { Flow, NodePolicy } from '../runtime/index.js';

/** One node of a {@link FlowDescription}. */
export interface NodeDescription {
  readonly name: string;
  readonly id: string;
  /** The effective policy (defaults applied); optional limits absent when unset. */
  readonly policy: Required<Pick<NodePolicy, 'validate' | 'maxRetries' | 'backoffBaseMs' | 'backoffMult' | 'maxConcurrency'>> &
    Pick<NodePolicy, 'timeoutMs' | 'maxBackoffMs'>;
}

/** A hosted flow's graph, as ListFlows reports it. */
export interface FlowDescription {
  readonly name: string;
  readonly description: string;
  readonly nodes: readonly NodeDescription[];
  readonly edges: readonly { readonly source: string; readonly target: string }[];
  readonly ingress: readonly string[];
  readonly egress: readonly string[];
}

/**
 * The description of a flow: every node with its effective policy,
 * every edge (self-loops included) by node name, and the ingress and egress
 * node names, all in the graph's declaration order.
 */
export function describeFlow(name: string, description: string, flow: Flow): FlowDescription {
  const { graph } = flow;
  return {
    name,
    description,
    nodes: graph.nodes.map((node) => {
      const p = node.policy;
      return {
        name: node.name,
        id: node.id,
        policy: {
          validate: p.validate,
          ...(p.timeoutMs === undefined ? {} : { timeoutMs: p.timeoutMs }),
          maxRetries: p.maxRetries,
          backoffBaseMs: p.backoffBaseMs,
          backoffMult: p.backoffMult,
          ...(p.maxBackoffMs === undefined ? {} : { maxBackoffMs: p.maxBackoffMs }),
          maxConcurrency: p.maxConcurrency,
        },
      };
    }),
    edges: graph.nodes.flatMap((node) => (graph.successors.get(node) ?? []).map((succ) => ({ source: node.name, target: succ.name }))),
    ingress: graph.ingress.map((n) => n.name),
    egress: graph.egress.map((n) => n.name),
  };
}
