/**
 * The emit step shared by Emit, Call and CallStream.
 */
import type { Message as WireMessage } from '../../gen/penguiflow/v1/messages_pb.js';
import type { HostedEmitResult, HostedFlow } from '../hosted-flow.js';
import { decodeInboundMessage } from '../inbound-message.js';
import { checkFlowName, checkIdempotencyKey, Violations } from '../request-validation.js';
import { identityOf, type RpcCall } from '../rpc-call.js';
import { ServiceError } from '../status.js';
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
 *   when the ingress stayed full for the whole admission wait; the call's
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
  const hosted = ctx.host.get(req.flow);
  if (inbound.requestedTenant !== '' && inbound.requestedTenant !== tenant) {
    throw new ServiceError('PERMISSION_DENIED', 'message.headers.tenant differs from the caller\'s tenant', { reason: 'TENANT_MISMATCH' });
  }

  // A call whose deadline already passed (e.g. it queued behind a busy
  // event loop) must not start work nobody will receive.
  call.throwIfOver();
  // Admission timing out gives up on the whole call, so it reuses the
  // call's own signal rather than allocating another per request.
  const timer = setTimeout(() => {
    call.abort(
      new ServiceError('RESOURCE_EXHAUSTED', `flow ${hosted.name} is saturated: its ingress queue stayed full for ${ctx.admissionWaitMs} ms`, {
        reason: 'ADMISSION_TIMEOUT',
        retryDelayMs: ADMISSION_RETRY_MS,
        quotaViolations: [{ subject: `flow:${hosted.name}`, description: 'ingress queue full past the admission wait' }],
      }),
    );
  }, ctx.admissionWaitMs);
  try {
    const result = await hosted.emit(tenant, inbound.message, { idempotencyKey: req.idempotencyKey, signal: call.signal });
    return { ...result, hosted, tenant };
  } finally {
    clearTimeout(timer);
  }
}
