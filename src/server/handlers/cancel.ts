/**
 * FlowService.Cancel.
 */
import { create } from '@bufbuild/protobuf';
import { CancelResponseSchema, type CancelRequest, type CancelResponse } from '../../gen/penguiflow/v1/flow_service_pb.js';
import type { UnaryHandler } from '../grpc/grpc-binding.js';
import type { HandlerContext } from './handler-context.js';
import { findTrace } from './trace-lookup.js';

/**
 * Cancel: cancels a running trace of the caller. `cancelled` is false when
 * the trace already ended or is already being cancelled; an unknown,
 * forgotten or another tenant's trace is NOT_FOUND.
 */
export function cancelHandler(ctx: HandlerContext): UnaryHandler<CancelRequest, CancelResponse> {
  return async (call) => {
    const { hosted, record } = findTrace(ctx, call);
    return create(CancelResponseSchema, { cancelled: await hosted.cancel(record) });
  };
}
