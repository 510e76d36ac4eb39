/**
 * The FlowService implementation: every RPC bound to its handler.
 */
import type { UntypedServiceImplementation } from '@grpc/grpc-js';
import { bindServerStream, bindUnary, type BindingContext } from './grpc-binding.js';
import { callHandler } from '../handlers/call.js';
import { callStreamHandler } from '../handlers/call-stream.js';
import { cancelHandler } from '../handlers/cancel.js';
import { emitHandler } from '../handlers/emit.js';
import { fetchHandler } from '../handlers/fetch.js';
import { getHistoryHandler } from '../handlers/get-history.js';
import type { HandlerContext } from '../handlers/handler-context.js';
import { listFlowsHandler } from '../handlers/list-flows.js';
import { streamTraceHandler } from '../handlers/stream-trace.js';
import { subscribeEventsHandler } from '../handlers/subscribe-events.js';

/**
 * The grpc-js implementation object for `flowServiceServerDefinition()`,
 * keyed by proto method name.
 */
export function flowServiceImplementation(ctx: HandlerContext, binding: BindingContext): UntypedServiceImplementation {
  return {
    Emit: bindUnary('Emit', emitHandler(ctx), binding),
    Fetch: bindUnary('Fetch', fetchHandler(ctx), binding),
    Call: bindUnary('Call', callHandler(ctx), binding),
    CallStream: bindServerStream('CallStream', callStreamHandler(ctx), binding),
    StreamTrace: bindServerStream('StreamTrace', streamTraceHandler(ctx), binding),
    Cancel: bindUnary('Cancel', cancelHandler(ctx), binding),
    SubscribeEvents: bindServerStream('SubscribeEvents', subscribeEventsHandler(ctx), binding, { endOnDrain: true }),
    GetHistory: bindUnary('GetHistory', getHistoryHandler(ctx), binding),
    ListFlows: bindUnary('ListFlows', listFlowsHandler(ctx), binding),
  };
}
