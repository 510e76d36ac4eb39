/**
 * The emit step shared by Emit, Call and CallStream.
 */
import type { Message as WireMessage } from '../../gen/penguiflow/v1/messages_pb.js';
import type { HostedEmitResult, HostedFlow } from '../../host/hosted-flow.js';
import { decodeInboundMessage } from '../codec/inbound-message.js';
import { checkFlowName, checkIdempotencyKey, Violations } from '../../rpc/request-validation.js';
import { identityOf, type RpcCall } from '../../rpc/call.js';
import { ServiceError } from '../../rpc/service-error.js';
import type { QuotaLease } from '../../host/tenant-quota.js';
import type { HandlerContext } from './handler-context.js';

/** The fields Emit, Call and CallStream requests share. */
export interface AdmitRequest {
  readonly flow: string;
  readonly message?: WireMessage | undefined;
  readonly idempotencyKey?: string | undefined;
}

/** An admitted (or deduplicated) emit. */
export interface Admitted extends HostedEmitResult {
  readonly hosted: HostedFlow;
  readonly tenant: string;
}

/** Suggested wait before retrying a saturated flow. */
const ADMISSION_RETRY_MS = 1000;

/**
 * Validates the request, resolves flow and tenant, and emits the message,
 * waiting at most `admissionWaitMs` for room in the ingress queues.
 *
 * Order of checks: INVALID_ARGUMENT (all field violations at once), then
 * NOT_FOUND (unknown flow), then PERMISSION_DENIED (`headers.tenant` set to
 * another tenant).
 *
 * @throws ServiceError RESOURCE_EXHAUSTED (with RetryInfo and QuotaFailure)
 *   when the tenant stayed at its in-flight quota, or the ingress stayed
 *   full, for the whole admission wait; the call's
 *   abort reason (CANCELLED, DEADLINE_EXCEEDED, UNAVAILABLE) when it ended
 *   first; CANCELLED when the trace id is being cancelled right now.
 */
export async function admit(ctx: HandlerContext, call: RpcCall<AdmitRequest>): Promise<Admitted> {
  const { tenant } = identityOf(call);
  const req = call.request;
  const v = new Violations();
  checkFlowName(v, req.flow);
  checkIdempotencyKey(v, req.idempotencyKey);
  const inbound = decodeInboundMessage(
    req.message,
    { limits: ctx.limits, requestBytes: call.requestBytes, callDeadline: call.deadline, tenant },
    v,
  );
  v.throwIfAny();
  if (inbound === undefined) throw new ServiceError('INVALID_ARGUMENT', 'message: required', { fieldViolations: [{ field: 'message', description: 'required' }] });
  call.traceId = inbound.message.traceId;
  // The caller's W3C trace context (gRPC metadata) rides in the message meta.
  if (call.traceparent !== undefined) inbound.message.meta.traceparent = call.traceparent;
  const hosted = ctx.catalog.get(req.flow);
  if (inbound.requestedTenant !== '' && inbound.requestedTenant !== tenant) {
    throw new ServiceError('PERMISSION_DENIED', 'message.headers.tenant differs from the caller\'s tenant', { reason: 'TENANT_MISMATCH' });
  }

  // A call whose deadline already passed (e.g. it queued behind a busy
  // event loop) must not start work nobody will receive.
  call.throwIfOver();
  // Admission timing out gives up on the whole call, so it reuses the
  // call's own signal rather than allocating another per request. The
  // wait covers both stages: the tenant's quota, then the flow's ingress.
  let stage: 'quota' | 'ingress' = 'quota';
  const timer = ctx.admissionTimers.schedule(() => {
    call.abort(stage === 'quota' ? quotaExhausted(tenant, ctx) : ingressExhausted(hosted.name, ctx.admissionWaitMs));
  });
  let lease: QuotaLease | undefined;
  try {
    // A message for a trace of the caller that is running now joins that
    // trace: it starts nothing new, so it takes no slot.
    const generatedTraceId = (req.message?.traceId ?? '') === '';
    const joins = (): boolean => {
      // An id the server just generated cannot name a running trace.
      if (generatedTraceId) return false;
      const running = hosted.record(tenant, inbound.message.traceId);
      return running !== undefined && !running.ended;
    };
    if (ctx.tenantQuota !== undefined && !joins()) {
      lease = await ctx.tenantQuota.acquire(tenant, call);
      if (joins()) {
        lease.release();
        lease = undefined;
      }
    }
    stage = 'ingress';
    const result = await hosted.emit(tenant, inbound.message, {
      idempotencyKey: req.idempotencyKey,
      abortable: call,
      generatedTraceId,
    });
    if (lease !== undefined) {
      const held = lease;
      lease = undefined;
      // The slot is held until the trace's run ends.
      if (result.deduplicated || result.record === undefined) held.release();
      else result.record.onceEnded(() => held.release());
    }
    call.traceId = result.traceId;
    return { ...result, hosted, tenant };
  } finally {
    timer.cancel();
    lease?.release();
  }
}

function quotaExhausted(tenant: string, ctx: HandlerContext): ServiceError {
  const max = ctx.tenantQuota?.maxInflight ?? 0;
  return new ServiceError('RESOURCE_EXHAUSTED', `tenant ${tenant} has ${max} traces in flight (its quota) for the whole admission wait of ${ctx.admissionWaitMs} ms`, {
    reason: 'TENANT_QUOTA_EXCEEDED',
    retryDelayMs: ADMISSION_RETRY_MS,
    quotaViolations: [{ subject: `tenant:${tenant}`, description: `at most ${max} in-flight traces per tenant (PENGUIFLOW_TENANT_MAX_INFLIGHT)` }],
  });
}

function ingressExhausted(flow: string, waitMs: number): ServiceError {
  return new ServiceError('RESOURCE_EXHAUSTED', `flow ${flow} is saturated: its ingress queue stayed full for ${waitMs} ms`, {
    reason: 'ADMISSION_TIMEOUT',
    retryDelayMs: ADMISSION_RETRY_MS,
    quotaViolations: [{ subject: `flow:${flow}`, description: 'ingress queue full past the admission wait' }],
  });
}
