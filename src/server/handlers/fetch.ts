/**
 * FlowService.Fetch.
 */
import { create } from '@bufbuild/protobuf';
import { FetchResponseSchema, type FetchRequest, type FetchResponse } from '../../gen/penguiflow/v1/flow_service_pb.js';
import type { UnaryHandler } from '../grpc/grpc-binding.js';
import { encodeChunk, encodeFlowError, encodeOutput, encodeTraceEnd } from '../codec/outbound-encoding.js';
import { ServiceError } from '../../rpc/service-error.js';
import type { HandlerContext } from './handler-context.js';
import { findTrace } from './trace-lookup.js';
import { takeForCall } from './take-for-call.js';

/**
 * Fetch: the trace's next update (output, error or chunk), waiting up to
 * the call's deadline; once the trace ended and everything was taken, its
 * end, immediately and on every later Fetch. A cancelled trace answers
 * CANCELLED, a stopped flow UNAVAILABLE. Timing out does not cancel the
 * trace, and an update that arrives as the deadline passes is kept for the
 * next Fetch.
 */
export function fetchHandler(ctx: HandlerContext): UnaryHandler<FetchRequest, FetchResponse> {
  return async (call) => {
    const { record } = findTrace(ctx, call);
    const delivery = await takeForCall(record, call);
    switch (delivery.kind) {
      case 'output':
        return create(FetchResponseSchema, { result: { case: 'output', value: encodeOutput(delivery.value, record) } });
      case 'error':
        return create(FetchResponseSchema, { result: { case: 'error', value: encodeFlowError(delivery.error, record) } });
      case 'chunk':
        return create(FetchResponseSchema, { result: { case: 'chunk', value: encodeChunk(delivery.chunk, record) } });
      case 'end':
        if (delivery.status === 'CANCELLED') throw ServiceError.traceCancelled(record.traceId);
        if (delivery.status === 'UNAVAILABLE') throw ServiceError.unavailable();
        return create(FetchResponseSchema, { result: { case: 'end', value: encodeTraceEnd({ ...delivery, status: delivery.status }, record) } });
    }
  };
}
