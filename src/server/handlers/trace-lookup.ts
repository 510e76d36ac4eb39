/**
 * Request checks and lookup shared by the RPCs that name an existing trace.
 */
import type { HostedFlow } from '../../host/hosted-flow.js';
import { checkFlowName, checkTraceId, Violations } from '../../rpc/request-validation.js';
import { identityOf, type RpcCall } from '../../rpc/call.js';
import { ServiceError } from '../../rpc/service-error.js';
import type { TraceRecord } from '../../host/trace-record.js';
import type { HandlerContext } from './handler-context.js';

/** Requests with a flow and a trace id. */
export interface TraceRequest {
  readonly flow: string;
  readonly traceId: string;
}

/** A located trace. */
export interface FoundTrace {
  readonly hosted: HostedFlow;
  readonly record: TraceRecord;
  readonly tenant: string;
}

/**
 * Validates `flow` and `trace_id` and finds the caller's trace.
 *
 * @throws ServiceError INVALID_ARGUMENT (empty flow, empty or malformed
 *   trace id), NOT_FOUND (unknown flow; unknown, forgotten or another
 *   tenant's trace: one answer for all three).
 */
export function findTrace(ctx: HandlerContext, call: RpcCall<TraceRequest>): FoundTrace {
  const { tenant } = identityOf(call);
  const v = new Violations();
  checkFlowName(v, call.request.flow);
  checkTraceId(v, call.request.traceId);
  v.throwIfAny();
  const hosted = ctx.catalog.get(call.request.flow);
  const record = hosted.record(tenant, call.request.traceId);
  if (record === undefined) throw ServiceError.traceNotFound(call.request.traceId);
  return { hosted, record, tenant };
}
