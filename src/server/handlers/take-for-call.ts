/**
 * Reading a trace's next update on behalf of an RPC.
 */
import type { RpcCall } from '../../rpc/call.js';
import type { TraceDelivery, TraceRecord } from '../../host/trace-record.js';

/**
 * The record's next update for `call`, waiting as long as the call lasts.
 *
 * An update (not the end) taken when the call can no longer answer — the
 * client left or the deadline passed while it waited — goes back to the
 * head of the record, so the next reader gets it and nothing is lost, and
 * the call's reason is thrown instead.
 *
 * @throws the call's abort reason, or DEADLINE_EXCEEDED.
 */
export function takeForCall(record: TraceRecord, call: RpcCall): Promise<TraceDelivery> {
  return record.take(call).then((delivery) => {
    if (delivery.kind !== 'end' && call.isOver()) {
      record.putBack(delivery);
      call.throwIfOver();
    }
    return delivery;
  });
}
