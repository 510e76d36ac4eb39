/**
 * Encodes logged runtime events as wire `FlowEvent`s.
 */
import { create } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { FlowEventSchema, type FlowEvent as WireFlowEvent } from '../../gen/penguiflow/v1/events_pb.js';
import type { LoggedEvent } from '../../host/event-log.js';
import { toJsonObject } from './json-value.js';
import { traceKey } from '../../host/trace-key.js';

/** Clamps a count into int32, the wire type of queue depths. */
function int32(n: number | undefined): number {
  if (n === undefined || !Number.isFinite(n)) return 0;
  return Math.max(-2147483648, Math.min(2147483647, Math.trunc(n)));
}

/** Event types whose `latency_ms` the contract defines; the field is unset on all others. */
const TIMED_EVENTS: ReadonlySet<string> = new Set(['node_success', 'node_error', 'node_timeout', 'node_failed']);

/**
 * Encodes one logged event. `trace_id` is the client's trace id; string
 * values of `extra` (error messages) have the runtime's internal trace key
 * replaced by it, so no event reveals how the server keys traces.
 * `latency_ms` is set only on the event types the contract names (the
 * runtime also times retries and cancelled invocations).
 */
export function encodeEvent(logged: LoggedEvent): WireFlowEvent {
  const e = logged.event;
  const key = traceKey(logged.tenant, logged.traceId);
  const extra = toJsonObject(e.extra);
  for (const [k, v] of Object.entries(extra)) {
    if (typeof v === 'string' && v.includes(key)) extra[k] = v.split(key).join(logged.traceId);
  }
  const wire = create(FlowEventSchema, {
    eventType: e.eventType,
    ts: timestampFromMs(Math.trunc(e.ts)),
    nodeName: e.nodeName ?? '',
    nodeId: e.nodeId ?? '',
    traceId: logged.traceId,
    attempt: int32(e.attempt),
    queueDepthIn: int32(e.queueDepthIn),
    queueDepthOut: int32(e.queueDepthOut),
    outgoingEdges: int32(e.outgoingEdges),
    queueMaxsize: int32(e.queueMaxsize),
    traceCancelled: e.traceCancelled,
    extra,
    flow: logged.flow,
    tenant: logged.tenant,
    seq: BigInt(logged.seq),
  });
  if (e.latencyMs !== undefined && Number.isFinite(e.latencyMs) && TIMED_EVENTS.has(e.eventType)) wire.latencyMs = e.latencyMs;
  if (e.tracePending !== undefined) wire.tracePending = int32(e.tracePending);
  if (e.traceInflight !== undefined) wire.traceInflight = int32(e.traceInflight);
  return wire;
}
