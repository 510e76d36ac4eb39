/**
 * FlowService.StreamTrace.
 */
import { create } from '@bufbuild/protobuf';
import { StreamTraceResponseSchema, type StreamTraceRequest, type StreamTraceResponse } from '../../gen/penguiflow/v1/flow_service_pb.js';
import type { ServerStreamHandler } from '../grpc/grpc-binding.js';
import type { HandlerContext } from './handler-context.js';
import { streamUpdates } from './stream-updates.js';
import { findTrace } from './trace-lookup.js';

/**
 * StreamTrace: the not-yet-delivered updates of an emitted trace, then its
 * end. For a trace that already ended, the remaining updates and the end
 * are sent at once. Ending this stream never cancels the trace.
 */
export function streamTraceHandler(ctx: HandlerContext): ServerStreamHandler<StreamTraceRequest, StreamTraceResponse> {
  return async (call, sink) => {
    const { record } = findTrace(ctx, call);
    await streamUpdates(record, call, sink, (update) => create(StreamTraceResponseSchema, { traceId: record.traceId, update }));
  };
}
