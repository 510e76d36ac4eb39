/**
 * A hosted flow's description as the wire's `FlowInfo`.
 */
import { create } from '@bufbuild/protobuf';
import { FlowInfoSchema, type FlowInfo } from '../../gen/penguiflow/v1/flow_info_pb.js';
import type { FlowDescription } from '../../host/flow-description.js';

/** Encodes `description` as ListFlows sends it: nodes with their effective policies, edges, ingress and egress. */
export function flowInfo(description: FlowDescription): FlowInfo {
  return create(FlowInfoSchema, {
    name: description.name,
    description: description.description,
    nodes: description.nodes.map((n) => ({ name: n.name, id: n.id, policy: { ...n.policy } })),
    edges: description.edges.map((e) => ({ ...e })),
    ingress: [...description.ingress],
    egress: [...description.egress],
  });
}
