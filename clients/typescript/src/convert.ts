/**
 * Conversions between the client's plain-data types ({@link ./types.ts})
 * and the generated protobuf messages. Pure functions, no I/O.
 *
 * Input validation happens here, before anything is sent: values JSON
 * cannot represent (NaN, ±Infinity, bigint, functions, symbols, cycles,
 * `undefined` as a whole payload, `Uint8Array` nested inside JSON, the
 * object key `"__proto__"`, which protobuf-es cannot carry in a Struct) are
 * rejected with a client-side `INVALID_ARGUMENT` {@link FlowClientError}
 * whose field violation names the offending path (e.g.
 * `message.payload.items[2]`). Like `JSON.stringify`, object properties
 * whose value is `undefined` are omitted, `undefined` array elements become
 * `null`, and objects with a `toJSON()` method (e.g. `Date`) are replaced
 * by its result.
 *
 * @packageDocumentation
 */
import { create } from '@bufbuild/protobuf';
import type { MessageInitShape } from '@bufbuild/protobuf';
import { NullValue, ValueSchema, timestampFromMs, timestampMs } from '@bufbuild/protobuf/wkt';
import type { Timestamp, Value } from '@bufbuild/protobuf/wkt';
import type { FlowEvent as PbFlowEvent } from './gen/penguiflow/v1/events_pb.js';
import type { FlowInfo as PbFlowInfo } from './gen/penguiflow/v1/flow_info_pb.js';
import type { CallResponse, FetchResponse } from './gen/penguiflow/v1/flow_service_pb.js';
import {
  FlowErrorCode as PbFlowErrorCode,
  TraceStatus as PbTraceStatus,
  type FlowError as PbFlowError,
  type Message as PbMessage,
  type MessageSchema,
  type StreamChunk as PbStreamChunk,
  type TraceEnd as PbTraceEnd,
  type TraceUpdate as PbTraceUpdate,
} from './gen/penguiflow/v1/messages_pb.js';
import { FlowClientError } from './errors.js';
import type {
  CallResult,
  FetchResult,
  FlowError,
  FlowErrorCode,
  FlowEvent,
  FlowInfo,
  FlowMessage,
  JsonObject,
  JsonValue,
  MessageBody,
  SendOptions,
  StreamChunk,
  TraceEnd,
  TraceStatus,
  TraceUpdate,
} from './types.js';

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;
const UINT64_MAX = 2n ** 64n - 1n;

/** A client-side INVALID_ARGUMENT with one field violation. */
export function invalidArgument(field: string, description: string): FlowClientError {
  return new FlowClientError('INVALID_ARGUMENT', `${field}: ${description}`, {
    clientSide: true,
    details: { fieldViolations: [{ field, description }] },
  });
}

// --- JSON <-> google.protobuf.Value ---------------------------------------

/**
 * Validate and normalize a JS value to JSON with `JSON.stringify`
 * semantics (see the module description). Returns `undefined` only for
 * values `JSON.stringify` would omit (undefined, functions, symbols), so
 * that callers can drop object properties.
 *
 * @param path - field path used in the error, e.g. `message.payload`.
 * @throws FlowClientError `INVALID_ARGUMENT` (clientSide) for values JSON cannot represent.
 */
function normalize(value: unknown, path: string, ancestors: Set<object>): JsonValue | undefined {
  switch (typeof value) {
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      if (!Number.isFinite(value)) throw invalidArgument(path, `${String(value)} is not a JSON number`);
      return value;
    case 'bigint':
      throw invalidArgument(path, 'bigint is not a JSON value; convert it to a number or string');
    case 'object':
      break;
  }
  if (value === null) return null;
  const obj = value;
  if (ArrayBuffer.isView(obj) || obj instanceof ArrayBuffer) {
    throw invalidArgument(path, 'binary data is only allowed as the whole message body');
  }
  if (ancestors.has(obj)) throw invalidArgument(path, 'circular reference');
  const toJSON = (obj as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === 'function') {
    ancestors.add(obj);
    try {
      return normalize((toJSON as () => unknown).call(obj), path, ancestors);
    } finally {
      ancestors.delete(obj);
    }
  }
  ancestors.add(obj);
  try {
    if (Array.isArray(obj)) {
      return obj.map((item: unknown, i) => normalize(item, `${path}[${i}]`, ancestors) ?? null);
    }
    const out: JsonObject = {};
    for (const key of Object.keys(obj)) {
      if (key === '__proto__') {
        // protobuf-es stores Struct fields in a plain object by assignment,
        // which would turn this key into a prototype and silently drop it.
        throw invalidArgument(`${path}.${key}`, 'the key "__proto__" cannot be sent in a google.protobuf.Struct');
      }
      const v = normalize((obj as Record<string, unknown>)[key], `${path}.${key}`, ancestors);
      if (v !== undefined) defineKey(out, key, v);
    }
    return out;
  } finally {
    ancestors.delete(obj);
  }
}

/** Own-property assignment that keeps keys like `__proto__` plain data. */
function defineKey(obj: JsonObject, key: string, value: JsonValue): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

/**
 * Validate a JSON value for sending and return its normalized copy.
 *
 * @throws FlowClientError `INVALID_ARGUMENT` (clientSide) when the value is
 *   not representable as JSON, or is `undefined` as a whole.
 */
export function normalizeJson(value: unknown, path: string): JsonValue {
  const v = normalize(value, path, new Set());
  if (v === undefined) throw invalidArgument(path, `${typeof value} is not a JSON value`);
  return v;
}

/**
 * Validate a JSON object (meta) for sending and return its normalized copy.
 *
 * @throws FlowClientError `INVALID_ARGUMENT` (clientSide) when it is not a
 *   plain JSON object.
 */
export function normalizeJsonObject(value: unknown, path: string): JsonObject {
  const v = normalizeJson(value, path);
  if (v === null || typeof v !== 'object' || Array.isArray(v)) {
    throw invalidArgument(path, 'must be a JSON object');
  }
  return v;
}

/** Convert an already-normalized JSON value to `google.protobuf.Value`. */
function toValueInit(v: JsonValue): MessageInitShape<typeof ValueSchema> {
  if (v === null) return { kind: { case: 'nullValue', value: NullValue.NULL_VALUE } };
  switch (typeof v) {
    case 'number':
      return { kind: { case: 'numberValue', value: v } };
    case 'string':
      return { kind: { case: 'stringValue', value: v } };
    case 'boolean':
      return { kind: { case: 'boolValue', value: v } };
  }
  if (Array.isArray(v)) {
    return { kind: { case: 'listValue', value: { values: v.map(toValueInit) } } };
  }
  const fields: Record<string, MessageInitShape<typeof ValueSchema>> = {};
  for (const [key, item] of Object.entries(v)) {
    Object.defineProperty(fields, key, { value: toValueInit(item), enumerable: true, writable: true, configurable: true });
  }
  return { kind: { case: 'structValue', value: { fields } } };
}

/**
 * Convert a JS value to `google.protobuf.Value` (validating it first).
 *
 * @throws FlowClientError `INVALID_ARGUMENT` (clientSide), see {@link normalizeJson}.
 */
export function jsonToValue(value: unknown, path = 'message.payload'): Value {
  return create(ValueSchema, toValueInit(normalizeJson(value, path)));
}

/**
 * Convert a `google.protobuf.Value` to a plain JS value. A Value with no
 * kind set (not valid JSON mapping) becomes `null`; `undefined` stays
 * `undefined`.
 */
export function valueToJson(value: Value | undefined): JsonValue | undefined {
  if (value === undefined) return undefined;
  return toJson(value);
}

function toJson(value: Value): JsonValue {
  const k = value.kind;
  switch (k.case) {
    case 'numberValue':
    case 'stringValue':
    case 'boolValue':
      return k.value;
    case 'listValue':
      return k.value.values.map(toJson);
    case 'structValue': {
      const out: JsonObject = {};
      for (const [key, item] of Object.entries(k.value.fields)) defineKey(out, key, toJson(item));
      return out;
    }
    default:
      return null;
  }
}

// --- scalars ----------------------------------------------------------------

/** Epoch ms → Timestamp, validating the number. */
export function msToTimestamp(ms: number, path: string): Timestamp {
  if (typeof ms !== 'number' || !Number.isFinite(ms)) throw invalidArgument(path, 'must be a finite epoch-ms number');
  return timestampFromMs(Math.trunc(ms));
}

/** Timestamp → epoch ms (`undefined` stays `undefined`). */
export function timestampToMs(ts: Timestamp | undefined): number | undefined {
  return ts === undefined ? undefined : timestampMs(ts);
}

/**
 * Convert a 64-bit protobuf integer to a number. Exact up to
 * `Number.MAX_SAFE_INTEGER`; sequence numbers never get near it.
 */
export function int64ToNumber(v: bigint): number {
  return Number(v);
}

/**
 * Validate `afterSeq` (number or bigint) and convert it to the uint64 the
 * request carries. `undefined` becomes `0n`.
 *
 * @throws FlowClientError `INVALID_ARGUMENT` (clientSide) unless it is a
 *   non-negative integer within uint64.
 */
export function toAfterSeq(v: number | bigint | undefined): bigint {
  if (v === undefined) return 0n;
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v) || v < 0) throw invalidArgument('after_seq', 'must be a non-negative integer');
    return BigInt(v);
  }
  if (typeof v !== 'bigint' || v < 0n || v > UINT64_MAX) {
    throw invalidArgument('after_seq', 'must be a non-negative integer within uint64');
  }
  return v;
}

// --- outgoing message ---------------------------------------------------------

/**
 * Build the `Message` of emit / call / callStream from a body and options.
 * A `Uint8Array` body goes to `binary`, anything else to `payload`.
 *
 * @throws FlowClientError `INVALID_ARGUMENT` (clientSide) for invalid body,
 *   meta, deadline, priority or non-string trace id / topic / tenant.
 */
export function buildMessage(body: MessageBody, opts: SendOptions = {}): MessageInitShape<typeof MessageSchema> {
  const msg: MessageInitShape<typeof MessageSchema> = {};
  if (body instanceof Uint8Array) msg.binary = body;
  else msg.payload = jsonToValue(body, 'message.payload');
  for (const key of ['traceId', 'topic', 'tenant'] as const) {
    const v: unknown = opts[key];
    if (v !== undefined && typeof v !== 'string') throw invalidArgument(`message.${key}`, 'must be a string');
  }
  if (opts.traceId !== undefined) msg.traceId = opts.traceId;
  if (opts.deadline !== undefined) msg.deadline = msToTimestamp(opts.deadline, 'message.deadline');
  if (opts.meta !== undefined) msg.meta = normalizeJsonObject(opts.meta, 'message.meta');
  const { topic, tenant, priority } = opts;
  if (priority !== undefined && (!Number.isInteger(priority) || priority < INT32_MIN || priority > INT32_MAX)) {
    throw invalidArgument('message.headers.priority', 'must be an int32');
  }
  if (topic !== undefined || tenant !== undefined || priority !== undefined) {
    msg.headers = { topic: topic ?? '', tenant: tenant ?? '', priority: priority ?? 0 };
  }
  return msg;
}

// --- incoming messages ----------------------------------------------------------

/** Generated Message → {@link FlowMessage}. */
export function fromMessage(m: PbMessage): FlowMessage {
  const isBinary = m.binary.length > 0;
  return {
    payload: isBinary ? undefined : valueToJson(m.payload),
    binary: isBinary ? m.binary : undefined,
    headers: { tenant: m.headers?.tenant ?? '', topic: m.headers?.topic ?? '', priority: m.headers?.priority ?? 0 },
    traceId: m.traceId,
    ts: timestampToMs(m.ts),
    deadline: timestampToMs(m.deadline),
    meta: m.meta ?? {},
  };
}

/** Generated StreamChunk → {@link StreamChunk}. */
export function fromChunk(c: PbStreamChunk): StreamChunk {
  return { streamId: c.streamId, seq: int64ToNumber(c.seq), text: c.text, done: c.done, meta: c.meta ?? {} };
}

/** Proto FlowErrorCode → string code; UNSPECIFIED and unknown values → `NODE_EXCEPTION`. */
export function flowErrorCodeName(code: PbFlowErrorCode): FlowErrorCode {
  switch (code) {
    case PbFlowErrorCode.NODE_TIMEOUT:
      return 'NODE_TIMEOUT';
    case PbFlowErrorCode.TRACE_CANCELLED:
      return 'TRACE_CANCELLED';
    case PbFlowErrorCode.DEADLINE_EXCEEDED:
      return 'DEADLINE_EXCEEDED';
    case PbFlowErrorCode.HOP_BUDGET_EXHAUSTED:
      return 'HOP_BUDGET_EXHAUSTED';
    case PbFlowErrorCode.TOKEN_BUDGET_EXHAUSTED:
      return 'TOKEN_BUDGET_EXHAUSTED';
    default:
      return 'NODE_EXCEPTION';
  }
}

/** Proto TraceStatus → string status; unknown values → `UNSPECIFIED`. */
export function traceStatusName(status: PbTraceStatus): TraceStatus {
  switch (status) {
    case PbTraceStatus.COMPLETED:
      return 'COMPLETED';
    case PbTraceStatus.FAILED:
      return 'FAILED';
    case PbTraceStatus.CANCELLED:
      return 'CANCELLED';
    case PbTraceStatus.DEADLINE_EXCEEDED:
      return 'DEADLINE_EXCEEDED';
    default:
      return 'UNSPECIFIED';
  }
}

/** Generated FlowError → {@link FlowError}. */
export function fromFlowError(e: PbFlowError): FlowError {
  return {
    code: flowErrorCodeName(e.code),
    message: e.message,
    traceId: e.traceId,
    nodeName: e.nodeName,
    nodeId: e.nodeId,
    metadata: e.metadata ?? {},
    exceptionType: e.exceptionType,
  };
}

/** Generated TraceEnd → {@link TraceEnd}. */
export function fromTraceEnd(e: PbTraceEnd): TraceEnd {
  return { status: traceStatusName(e.status), error: e.error === undefined ? undefined : fromFlowError(e.error) };
}

/**
 * Generated TraceUpdate → {@link TraceUpdate}. Returns `undefined` for an
 * update with no case set (e.g. a kind added to the contract later), which
 * the streams skip.
 */
export function fromTraceUpdate(traceId: string, u: PbTraceUpdate | undefined): TraceUpdate | undefined {
  const x = u?.update;
  switch (x?.case) {
    case 'chunk':
      return { kind: 'chunk', traceId, chunk: fromChunk(x.value) };
    case 'output':
      return { kind: 'output', traceId, message: fromMessage(x.value) };
    case 'error':
      return { kind: 'error', traceId, error: fromFlowError(x.value) };
    case 'end':
      return { kind: 'end', traceId, end: fromTraceEnd(x.value) };
    default:
      return undefined;
  }
}

/**
 * Generated FetchResponse → {@link FetchResult}.
 *
 * @throws FlowClientError `INTERNAL` when the server set no result (the
 *   contract says exactly one is set).
 */
export function fromFetchResponse(r: FetchResponse): FetchResult {
  const x = r.result;
  switch (x.case) {
    case 'output':
      return { kind: 'output', message: fromMessage(x.value) };
    case 'error':
      return { kind: 'error', error: fromFlowError(x.value) };
    case 'chunk':
      return { kind: 'chunk', chunk: fromChunk(x.value) };
    case 'end':
      return { kind: 'end', end: fromTraceEnd(x.value) };
    default:
      throw new FlowClientError('INTERNAL', 'FetchResponse without a result (protocol violation by the server)');
  }
}

/** Generated CallResponse → {@link CallResult} (`none` when no result is set). */
export function fromCallResponse(r: CallResponse): CallResult {
  const x = r.result;
  switch (x.case) {
    case 'output':
      return { kind: 'output', traceId: r.traceId, message: fromMessage(x.value) };
    case 'error':
      return { kind: 'error', traceId: r.traceId, error: fromFlowError(x.value) };
    default:
      return { kind: 'none', traceId: r.traceId };
  }
}

/** Generated FlowEvent → {@link FlowEvent}. */
export function fromFlowEvent(e: PbFlowEvent): FlowEvent {
  return {
    eventType: e.eventType,
    ts: timestampToMs(e.ts),
    nodeName: e.nodeName,
    nodeId: e.nodeId,
    traceId: e.traceId,
    attempt: e.attempt,
    latencyMs: e.latencyMs,
    queueDepthIn: e.queueDepthIn,
    queueDepthOut: e.queueDepthOut,
    outgoingEdges: e.outgoingEdges,
    queueMaxsize: e.queueMaxsize,
    tracePending: e.tracePending,
    traceInflight: e.traceInflight,
    traceCancelled: e.traceCancelled,
    extra: e.extra ?? {},
    flow: e.flow,
    tenant: e.tenant,
    seq: int64ToNumber(e.seq),
  };
}

/** Generated FlowInfo → {@link FlowInfo}. */
export function fromFlowInfo(f: PbFlowInfo): FlowInfo {
  return {
    name: f.name,
    description: f.description,
    nodes: f.nodes.map((n) => ({
      name: n.name,
      id: n.id,
      policy:
        n.policy === undefined
          ? undefined
          : {
              validate: n.policy.validate,
              timeoutMs: n.policy.timeoutMs,
              maxRetries: n.policy.maxRetries,
              backoffBaseMs: n.policy.backoffBaseMs,
              backoffMult: n.policy.backoffMult,
              maxBackoffMs: n.policy.maxBackoffMs,
              maxConcurrency: n.policy.maxConcurrency,
            },
    })),
    edges: f.edges.map((e) => ({ source: e.source, target: e.target })),
    ingress: [...f.ingress],
    egress: [...f.egress],
  };
}
