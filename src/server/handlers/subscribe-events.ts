/**
 * FlowService.SubscribeEvents.
 */
import { create } from '@bufbuild/protobuf';
import {
  SubscribeEventsResponseSchema,
  type SubscribeEventsRequest,
  type SubscribeEventsResponse,
} from '../../gen/penguiflow/v1/flow_service_pb.js';
import { encodeEvent } from '../codec/event-encoding.js';
import type { LoggedEvent } from '../../host/event-log.js';
import { Deque } from '../../internal/deque.js';
import type { ServerStreamHandler } from '../grpc/grpc-binding.js';
import { checkEventTypes, checkTraceId, MAX_TRACE_FILTER, Violations } from '../../rpc/request-validation.js';
import { identityOf } from '../../rpc/call.js';
import { ServiceError } from '../../rpc/service-error.js';
import type { HandlerContext } from './handler-context.js';

/** Events queued for one subscriber before it is cut off as too slow. */
export const MAX_PENDING_EVENTS = 10_000;

function waitFor(register: (wake: () => void) => void, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<void>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    register(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    });
  });
}

/**
 * SubscribeEvents: the caller's tenant's events, filtered by flow, trace
 * ids and event types (AND), with `seq > after_seq`.
 *
 * With trace ids, each trace's stored history is replayed first, then the
 * stream continues live without gap or duplicate: the live listener is
 * registered before the history is read and events already replayed are
 * skipped by seq. Without trace ids the stream is live only. It stays open
 * until the client ends it, its deadline passes, the server drains
 * (UNAVAILABLE) or it falls {@link MAX_PENDING_EVENTS} behind
 * (RESOURCE_EXHAUSTED; resume with after_seq).
 */
export function subscribeEventsHandler(ctx: HandlerContext): ServerStreamHandler<SubscribeEventsRequest, SubscribeEventsResponse> {
  return async (call, sink) => {
    const { tenant } = identityOf(call);
    const req = call.request;
    const v = new Violations();
    if (req.flow.length > 128) v.add('flow', 'longer than 128 characters');
    if (req.traceIds.length > MAX_TRACE_FILTER) v.add('trace_ids', `more than ${MAX_TRACE_FILTER} trace ids`);
    else req.traceIds.forEach((id, i) => checkTraceId(v, id, `trace_ids[${i}]`));
    checkEventTypes(v, req.eventTypes);
    v.throwIfAny();
    const flow = req.flow === '' ? undefined : ctx.catalog.get(req.flow).name;
    const afterSeq = req.afterSeq > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(req.afterSeq);
    const traces = req.traceIds.length > 0 ? new Set(req.traceIds) : undefined;
    const types = req.eventTypes.length > 0 ? new Set(req.eventTypes) : undefined;
    const matches = (e: LoggedEvent): boolean =>
      e.seq > afterSeq &&
      (flow === undefined || e.flow === flow) &&
      (traces === undefined || traces.has(e.traceId)) &&
      (types === undefined || types.has(e.event.eventType));

    const queue = new Deque<LoggedEvent>();
    let overflow = false;
    let wake: (() => void) | undefined;
    const unsubscribe = ctx.eventLog.subscribe(tenant, (e) => {
      if (!matches(e)) return;
      if (queue.length >= MAX_PENDING_EVENTS) overflow = true;
      else queue.push(e);
      const w = wake;
      wake = undefined;
      w?.();
    });
    // Highest seq sent per filtered trace: drops live events the replay already covered.
    const sent = new Map<string, number>();
    const send = async (e: LoggedEvent): Promise<void> => {
      if (traces !== undefined) {
        if (e.seq <= (sent.get(e.traceId) ?? 0)) return;
        sent.set(e.traceId, e.seq);
      }
      await sink.send(create(SubscribeEventsResponseSchema, { event: encodeEvent(e) }));
    };
    try {
      for (const traceId of traces ?? []) {
        const history = (await ctx.eventLog.history(tenant, traceId, afterSeq)) ?? [];
        for (const e of history) if (matches(e)) await send(e);
      }
      for (;;) {
        if (overflow) {
          throw new ServiceError('RESOURCE_EXHAUSTED', `subscriber fell more than ${MAX_PENDING_EVENTS} events behind; resume with after_seq`, {
            reason: 'SUBSCRIBER_TOO_SLOW',
            retryDelayMs: 0,
          });
        }
        const e = queue.shift();
        if (e === undefined) {
          await waitFor((w) => (wake = w), call.signal);
          continue;
        }
        await send(e);
      }
    } finally {
      unsubscribe();
    }
  };
}
