/**
 * FlowService.CallStream.
 */
import { create } from '@bufbuild/protobuf';
import { CallStreamResponseSchema, type CallStreamRequest, type CallStreamResponse } from '../../gen/penguiflow/v1/flow_service_pb.js';
import type { ServerStreamHandler } from '../grpc/grpc-binding.js';
import { ServiceError } from '../../rpc/service-error.js';
import { admit } from './admit.js';
import { cancelAbandoned } from './call.js';
import type { HandlerContext } from './handler-context.js';
import { streamUpdates } from './stream-updates.js';

/**
 * CallStream: Emit, then every chunk and output of the trace in order, then
 * exactly one end. If the client cancels or its deadline passes before the
 * end, the trace is cancelled (configurable). A duplicate idempotency key
 * attaches to the original trace like StreamTrace (and never cancels it).
 */
export function callStreamHandler(ctx: HandlerContext): ServerStreamHandler<CallStreamRequest, CallStreamResponse> {
  return async (call, sink) => {
    const admitted = await admit(ctx, call);
    const record = admitted.record;
    if (record === undefined) throw ServiceError.traceNotFound(admitted.traceId);
    try {
      await streamUpdates(record, call, sink, (update) => create(CallStreamResponseSchema, { traceId: record.traceId, update }));
    } catch (err) {
      cancelAbandoned(ctx, admitted, call);
      throw err;
    }
  };
}
