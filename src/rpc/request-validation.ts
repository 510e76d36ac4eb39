/**
 * Request checks shared by the handlers. Every check reports a
 * `google.rpc.BadRequest` field violation; a handler collects them all and
 * fails once, so a client sees every problem of its request at once.
 */
import { FLOW_EVENT_TYPES } from '../runtime/index.js';
import { ServiceError, type FieldViolation } from './service-error.js';

/** Valid trace ids (DESIGN §4 limits): 1–128 characters, no separators or control characters. */
export const TRACE_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

/** Longest idempotency key accepted. */
export const MAX_IDEMPOTENCY_KEY_LENGTH = 256;

/** Most trace ids one SubscribeEvents may filter on. */
export const MAX_TRACE_FILTER = 1000;

/** Collects field violations; {@link throwIfAny} turns them into one INVALID_ARGUMENT. */
export class Violations {
  readonly #list: FieldViolation[] = [];

  /** Number of violations so far. */
  get length(): number {
    return this.#list.length;
  }

  /** Adds a violation of `field` (a request path such as `message.trace_id`). */
  add(field: string, description: string): void {
    this.#list.push({ field, description });
  }

  /** @throws ServiceError INVALID_ARGUMENT listing every violation, when there is any. */
  throwIfAny(): void {
    if (this.#list.length === 0) return;
    const summary = this.#list.map((v) => `${v.field}: ${v.description}`).join('; ');
    throw new ServiceError('INVALID_ARGUMENT', `invalid request: ${summary}`, { fieldViolations: [...this.#list] });
  }
}

/** Checks the `flow` field: required (its existence is checked later, as NOT_FOUND). */
export function checkFlowName(v: Violations, flow: string, field = 'flow'): void {
  if (flow === '') v.add(field, 'required');
  else if (flow.length > 128) v.add(field, 'longer than 128 characters');
}

/** Checks a trace id field: required unless `optional`, then the charset and length of {@link TRACE_ID_PATTERN}. */
export function checkTraceId(v: Violations, traceId: string, field = 'trace_id', optional = false): void {
  if (traceId === '') {
    if (!optional) v.add(field, 'required');
    return;
  }
  if (!TRACE_ID_PATTERN.test(traceId)) v.add(field, 'must be 1-128 characters of [A-Za-z0-9._:-]');
}

/** Checks an optional idempotency key: when set, 1–256 characters. */
export function checkIdempotencyKey(v: Violations, key: string | undefined, field = 'idempotency_key'): void {
  if (key === undefined) return;
  if (key.length === 0) v.add(field, 'must not be empty when set');
  else if (key.length > MAX_IDEMPOTENCY_KEY_LENGTH) v.add(field, `longer than ${MAX_IDEMPOTENCY_KEY_LENGTH} characters`);
}

const KNOWN_EVENT_TYPES: ReadonlySet<string> = new Set(FLOW_EVENT_TYPES);

/** Checks SubscribeEvents' `event_types`: each must be a known FlowEvent type. */
export function checkEventTypes(v: Violations, types: readonly string[], field = 'event_types'): void {
  types.forEach((t, i) => {
    if (!KNOWN_EVENT_TYPES.has(t)) v.add(`${field}[${i}]`, `unknown event type; expected one of ${FLOW_EVENT_TYPES.join(', ')}`);
  });
}
