/**
 * Streams a trace record to a server stream: the core of CallStream and
 * StreamTrace.
 */
import type { TraceUpdate } from '../../gen/penguiflow/v1/messages_pb.js';
import type { StreamSink } from '../grpc/grpc-binding.js';
import { encodeTraceUpdate, isFinalOutcome } from '../codec/outbound-encoding.js';
import type { RpcCall } from '../../rpc/call.js';
import { ServiceError } from '../../rpc/service-error.js';
import type { TraceRecord } from '../../host/trace-record.js';
import { takeForCall } from './take-for-call.js';

/**
 * Sends every not-yet-delivered update of `record` in order, then exactly
 * one end, then returns (the stream closes with OK).
 *
 * A cancelled trace ends with `TraceEnd{CANCELLED}`; a flow stopped by
 * shutdown fails the stream with UNAVAILABLE instead (the trace did not
 * end). An update taken after the call ended is put back for the next
 * reader.
 *
 * @throws the call's abort reason when the client goes away or the deadline passes.
 */
export async function streamUpdates<Res>(record: TraceRecord, call: RpcCall, sink: StreamSink<Res>, wrap: (update: TraceUpdate) => Res): Promise<void> {
  for (;;) {
    const delivery = await takeForCall(record, call);
    if (delivery.kind === 'end') {
      if (!isFinalOutcome(delivery)) throw ServiceError.unavailable();
      await sink.send(wrap(encodeTraceUpdate(delivery, record)));
      return;
    }
    await sink.send(wrap(encodeTraceUpdate(delivery, record)));
  }
}
