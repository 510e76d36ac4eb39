/**
 * FlowService.Call.
 */
import { create } from '@bufbuild/protobuf';
import { CallResponseSchema, type CallRequest, type CallResponse } from '../../gen/penguiflow/v1/flow_service_pb.js';
import type { UnaryHandler } from '../grpc/grpc-binding.js';
import type { RpcCall } from '../../rpc/call.js';
import { encodeFlowError, encodeOutput } from '../codec/outbound-encoding.js';
import { ServiceError } from '../../rpc/service-error.js';
import type { Admitted } from './admit.js';
import { admit } from './admit.js';
import type { HandlerContext } from './handler-context.js';
import { takeForCall } from './take-for-call.js';

/**
 * Cancels the trace of a Call/CallStream whose client went away, when the
 * server is configured to. Only the request that emitted owns the trace:
 * a deduplicated one merely attached to it.
 */
export function cancelAbandoned(ctx: HandlerContext, admitted: Admitted, call: RpcCall): void {
  if (!call.isOver() || !ctx.cancelOnDisconnect || admitted.deduplicated || admitted.record === undefined) return;
  const record = admitted.record;
  admitted.hosted.cancel(record).then(
    (cancelled) => ctx.logger.debug({ flow: admitted.hosted.name, cancelled }, 'cancelled the trace of an abandoned call'),
    (err: unknown) => ctx.logger.warn({ flow: admitted.hosted.name, err: { type: err instanceof Error ? err.name : typeof err } }, 'cancelling an abandoned trace failed'),
  );
}

/**
 * Call: Emit, then the trace's first output or FlowError (chunks before it
 * are consumed, not returned). A trace that ends without output answers at
 * once: `result` unset (COMPLETED, DEADLINE_EXCEEDED), the FlowError
 * (FAILED), CANCELLED or UNAVAILABLE. If the client cancels or its deadline
 * passes first, the trace is cancelled (configurable). A duplicate
 * idempotency key waits for the original trace's next output.
 */
export function callHandler(ctx: HandlerContext): UnaryHandler<CallRequest, CallResponse> {
  return async (call) => {
    const admitted = await admit(ctx, call);
    const record = admitted.record;
    if (record === undefined) throw ServiceError.traceNotFound(admitted.traceId);
    try {
      for (;;) {
        const delivery = await takeForCall(record, call);
        switch (delivery.kind) {
          case 'chunk':
            continue;
          case 'output':
            // A plain object, not `create`: this is the hot path of every Call.
            return { $typeName: 'penguiflow.v1.CallResponse', traceId: record.traceId, result: { case: 'output', value: encodeOutput(delivery.value, record) } };
          case 'error':
            return create(CallResponseSchema, { traceId: record.traceId, result: { case: 'error', value: encodeFlowError(delivery.error, record) } });
          case 'end':
            if (delivery.status === 'CANCELLED') throw ServiceError.traceCancelled(record.traceId);
            if (delivery.status === 'UNAVAILABLE') throw ServiceError.unavailable();
            if (delivery.status === 'FAILED' && delivery.error !== undefined) {
              return create(CallResponseSchema, { traceId: record.traceId, result: { case: 'error', value: encodeFlowError(delivery.error, record) } });
            }
            return create(CallResponseSchema, { traceId: record.traceId });
        }
      }
    } catch (err) {
      cancelAbandoned(ctx, admitted, call);
      throw err;
    }
  };
}
