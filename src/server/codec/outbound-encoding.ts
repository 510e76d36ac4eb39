/**
 * Encodes what a trace produced (outputs, chunks, FlowErrors, its end) into
 * wire messages.
 *
 * Node code may return anything, and the runtime's own strings mention its
 * internal trace key (tenant + trace id); this module always reports the
 * client's trace id and the owning tenant, and never throws on odd values.
 */
import { create, type JsonObject } from '@bufbuild/protobuf';
import type { Timestamp } from '@bufbuild/protobuf/wkt';
import {
  FlowErrorCode as WireFlowErrorCode,
  FlowErrorSchema,
  TraceEndSchema,
  TraceStatus as WireTraceStatus,
  TraceUpdateSchema,
  type FlowError as WireFlowError,
  type Message as WireMessage,
  type StreamChunk as WireStreamChunk,
  type TraceEnd as WireTraceEnd,
  type TraceUpdate,
} from '../../gen/penguiflow/v1/messages_pb.js';
import { isMessage, type FlowError, type StreamChunk } from '../../runtime/index.js';
import { toJsonObject, toProtoValue } from './json-value.js';
import type { TraceEndStatus, TraceItem, TraceOutcome } from '../../host/trace-record.js';

/** A trace status that is reported as a `TraceEnd` (UNAVAILABLE is a call failure instead). */
export type FinalStatus = Exclude<TraceEndStatus, 'UNAVAILABLE'>;

/** An outcome that can be sent as a `TraceEnd`. */
export type FinalOutcome = TraceOutcome & { readonly status: FinalStatus };

/** True when `outcome` can be sent as a `TraceEnd` (anything but UNAVAILABLE). */
export function isFinalOutcome(outcome: TraceOutcome): outcome is FinalOutcome {
  return outcome.status !== 'UNAVAILABLE';
}

/** Whose trace an update belongs to. */
export interface TraceOwner {
  /** Runtime trace key; replaced by `traceId` wherever it shows up in text. */
  readonly key: string;
  readonly tenant: string;
  /** The client's trace id. */
  readonly traceId: string;
}

/** Replaces the runtime key in runtime-made text (e.g. "deadline exceeded for trace <key>"). */
function scrub(text: string, owner: TraceOwner): string {
  return text.includes(owner.key) ? text.split(owner.key).join(owner.traceId) : text;
}

function finiteOr(value: unknown, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : fallback;
}

const EMPTY_BYTES = new Uint8Array(0);

/** A Timestamp from epoch ms, built directly (hot path; see `toProtoValue`). */
export function timestampOf(ms: number): Timestamp {
  const whole = Math.trunc(ms);
  const seconds = Math.floor(whole / 1000);
  return { $typeName: 'google.protobuf.Timestamp', seconds: BigInt(seconds), nanos: (whole - seconds * 1000) * 1_000_000 };
}

/**
 * Encodes an output. A runtime `Message` keeps its payload, headers
 * (tenant forced to the owner's), timestamps and meta; any other value is
 * wrapped as the payload of a new message. A `Uint8Array` payload goes to
 * `binary`. `trace_id` is always the client's.
 */
export function encodeOutput(value: unknown, owner: TraceOwner): WireMessage {
  const msg = isMessage(value) ? value : undefined;
  const payload = msg === undefined ? value : msg.payload;
  const binary = payload instanceof Uint8Array;
  const topic = msg?.headers.topic;
  const priority = msg?.headers.priority;
  // Built as plain objects rather than with `create`: outputs are the hot path.
  return {
    $typeName: 'penguiflow.v1.Message',
    payload: binary ? undefined : toProtoValue(payload),
    binary: binary ? payload : EMPTY_BYTES,
    headers: {
      $typeName: 'penguiflow.v1.Headers',
      tenant: owner.tenant,
      topic: typeof topic === 'string' ? topic : '',
      priority: typeof priority === 'number' && Number.isInteger(priority) ? priority : 0,
    },
    traceId: owner.traceId,
    ts: timestampOf(finiteOr(msg?.ts, Date.now())),
    deadline: msg?.deadline !== undefined && Number.isFinite(msg.deadline) ? timestampOf(msg.deadline) : undefined,
    meta: structOrUnset(msg?.meta),
  };
}

/** A Struct field's value, or unset when empty: an empty Struct costs encoding time and says nothing. */
function structOrUnset(value: unknown): JsonObject | undefined {
  if (value === undefined || value === null) return undefined;
  const json = toJsonObject(value);
  for (const _ in json) return json;
  return undefined;
}

/** Encodes a stream chunk. */
export function encodeChunk(chunk: StreamChunk, owner: TraceOwner): WireStreamChunk {
  return {
    $typeName: 'penguiflow.v1.StreamChunk',
    streamId: scrub(String(chunk.streamId), owner),
    seq: BigInt(Math.trunc(finiteOr(chunk.seq, 0))),
    text: String(chunk.text),
    done: chunk.done === true,
    meta: structOrUnset(chunk.meta),
  };
}

const FLOW_ERROR_CODES: Readonly<Record<string, WireFlowErrorCode>> = {
  NODE_TIMEOUT: WireFlowErrorCode.NODE_TIMEOUT,
  NODE_EXCEPTION: WireFlowErrorCode.NODE_EXCEPTION,
  TRACE_CANCELLED: WireFlowErrorCode.TRACE_CANCELLED,
  DEADLINE_EXCEEDED: WireFlowErrorCode.DEADLINE_EXCEEDED,
  HOP_BUDGET_EXHAUSTED: WireFlowErrorCode.HOP_BUDGET_EXHAUSTED,
  TOKEN_BUDGET_EXHAUSTED: WireFlowErrorCode.TOKEN_BUDGET_EXHAUSTED,
};

/** Encodes a FlowError; an unknown code reads as NODE_EXCEPTION (the proto never sends UNSPECIFIED). */
export function encodeFlowError(error: FlowError, owner: TraceOwner): WireFlowError {
  return create(FlowErrorSchema, {
    code: FLOW_ERROR_CODES[error.code] ?? WireFlowErrorCode.NODE_EXCEPTION,
    message: scrub(error.message, owner),
    traceId: owner.traceId,
    nodeName: error.nodeName ?? '',
    nodeId: error.nodeId ?? '',
    metadata: toJsonObject(error.metadata),
    exceptionType: error.exceptionType ?? '',
  });
}

const TRACE_STATUS: Readonly<Record<FinalStatus, WireTraceStatus>> = {
  COMPLETED: WireTraceStatus.COMPLETED,
  FAILED: WireTraceStatus.FAILED,
  CANCELLED: WireTraceStatus.CANCELLED,
  DEADLINE_EXCEEDED: WireTraceStatus.DEADLINE_EXCEEDED,
};

/**
 * Encodes a trace's end. `error` is set only for FAILED. The caller handles
 * UNAVAILABLE (a stopped flow is a call failure, not a trace status).
 */
export function encodeTraceEnd(outcome: FinalOutcome, owner: TraceOwner): WireTraceEnd {
  const end = create(TraceEndSchema, { status: TRACE_STATUS[outcome.status] });
  if (outcome.status === 'FAILED' && outcome.error !== undefined) end.error = encodeFlowError(outcome.error, owner);
  return end;
}

/** Encodes an update or a final outcome as a stream's `TraceUpdate`. */
export function encodeTraceUpdate(delivery: TraceItem | FinalOutcome, owner: TraceOwner): TraceUpdate {
  switch (delivery.kind) {
    case 'chunk':
      return create(TraceUpdateSchema, { update: { case: 'chunk', value: encodeChunk(delivery.chunk, owner) } });
    case 'output':
      return create(TraceUpdateSchema, { update: { case: 'output', value: encodeOutput(delivery.value, owner) } });
    case 'error':
      return create(TraceUpdateSchema, { update: { case: 'error', value: encodeFlowError(delivery.error, owner) } });
    case 'end':
      return create(TraceUpdateSchema, { update: { case: 'end', value: encodeTraceEnd(delivery, owner) } });
  }
}
