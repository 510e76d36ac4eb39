/**
 * FlowService.GetHistory.
 */
import { create } from '@bufbuild/protobuf';
import { GetHistoryResponseSchema, type GetHistoryRequest, type GetHistoryResponse } from '../../gen/penguiflow/v1/flow_service_pb.js';
import { encodeEvent } from '../codec/event-encoding.js';
import type { UnaryHandler } from '../grpc/grpc-binding.js';
import { checkFlowName, checkTraceId, Violations } from '../../rpc/request-validation.js';
import { identityOf } from '../../rpc/call.js';
import { ServiceError } from '../../rpc/service-error.js';
import type { HandlerContext } from './handler-context.js';

/**
 * GetHistory: the stored events of one of the caller's traces in the named
 * flow, in seq order. NOT_FOUND when the flow hosts no such trace of the
 * caller's tenant and the event log has none of its events (unknown,
 * forgotten or another tenant's trace).
 */
export function getHistoryHandler(ctx: HandlerContext): UnaryHandler<GetHistoryRequest, GetHistoryResponse> {
  return async (call) => {
    const { tenant } = identityOf(call);
    const v = new Violations();
    checkFlowName(v, call.request.flow);
    checkTraceId(v, call.request.traceId);
    v.throwIfAny();
    const hosted = ctx.catalog.get(call.request.flow);
    const stored = await ctx.eventLog.history(tenant, call.request.traceId);
    const events = (stored ?? []).filter((e) => e.flow === hosted.name);
    if (events.length === 0 && hosted.record(tenant, call.request.traceId) === undefined) {
      throw ServiceError.traceNotFound(call.request.traceId);
    }
    return create(GetHistoryResponseSchema, { events: events.map(encodeEvent) });
  };
}
