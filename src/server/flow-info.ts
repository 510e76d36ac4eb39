/**
 * Describes a hosted flow's graph for ListFlows.
 */
import { create } from '@bufbuild/protobuf';
import { FlowInfoSchema, type FlowInfo } from '../gen/penguiflow/v1/flow_info_pb.js';
import type { Flow } from '../runtime/index.js';

/**
 * The wire description of a flow: every node with its effective policy,
 * every edge (self-loops included) by node name, and the ingress and egress
 * node names, all in the graph's declaration order.
 */
export function describeFlow(name: string, description: string, flow: Flow): FlowInfo {
  const { graph } = flow;
  return create(FlowInfoSchema, {
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
  });
}
