/**
 * FlowService.Emit.
 */
import { create } from '@bufbuild/protobuf';
import { EmitResponseSchema, type EmitRequest, type EmitResponse } from '../../gen/penguiflow/v1/flow_service_pb.js';
import type { UnaryHandler } from '../grpc/grpc-binding.js';
import { admit } from './admit.js';
import type { HandlerContext } from './handler-context.js';

/**
 * Emit: admits the message and returns its trace id at once; the server
 * starts collecting the trace's outputs immediately, so a later Fetch or
 * StreamTrace loses nothing. Cancelling Emit after it returned does not
 * affect the trace.
 */
export function emitHandler(ctx: HandlerContext): UnaryHandler<EmitRequest, EmitResponse> {
  return async (call) => {
    const admitted = await admit(ctx, call);
    return create(EmitResponseSchema, { traceId: admitted.traceId, deduplicated: admitted.deduplicated });
  };
}
