/**
 * FlowService.ListFlows.
 */
import { create } from '@bufbuild/protobuf';
import { ListFlowsResponseSchema, type ListFlowsRequest, type ListFlowsResponse } from '../../gen/penguiflow/v1/flow_service_pb.js';
import type { UnaryHandler } from '../grpc/grpc-binding.js';
import { identityOf } from '../../rpc/call.js';
import { flowInfo } from '../codec/flow-info.js';
import type { HandlerContext } from './handler-context.js';

/** ListFlows: every hosted flow with its nodes, edges, ingress and egress, sorted by name. */
export function listFlowsHandler(ctx: HandlerContext): UnaryHandler<ListFlowsRequest, ListFlowsResponse> {
  return (call) => {
    identityOf(call);
    return Promise.resolve(create(ListFlowsResponseSchema, { flows: ctx.catalog.list().map((f) => flowInfo(f.info)) }));
  };
}
