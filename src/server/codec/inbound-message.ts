/**
 * Turns the `Message` of Emit/Call/CallStream into the runtime message node
 * code receives, enforcing the server's limits.
 */
import type { JsonValue } from '@bufbuild/protobuf';
import { timestampMs } from '@bufbuild/protobuf/wkt';
import type { Message as WireMessage } from '../../gen/penguiflow/v1/messages_pb.js';
import { newTraceId, type Headers, type Message } from '../../runtime/index.js';
import { checkJsonDepth, JsonShapeError, valueToJson } from './json-value.js';
import { checkTraceId, type Violations } from '../../rpc/request-validation.js';

/** The limits an inbound message must respect. */
export interface MessageLimits {
  /** Largest request in bytes. */
  maxMessageBytes: number;
  /** Deepest JSON nesting in payload and meta. */
  maxPayloadDepth: number;
  /** Most top-level keys in meta. */
  maxMetaKeys: number;
}

/** What {@link decodeInboundMessage} needs besides the message. */
export interface InboundContext {
  readonly limits: MessageLimits;
  /** Encoded size of the whole request. */
  readonly requestBytes: number;
  /** The call's gRPC deadline (epoch ms), merged into the message deadline. */
  readonly callDeadline: number | undefined;
  /** Tenant of the caller; fills an empty `headers.tenant`. */
  readonly tenant: string;
  /** Path of the message field in the request, for violations; default `message`. */
  readonly field?: string;
}

/** A decoded inbound message. */
export interface InboundMessage {
  /** The runtime message; `traceId` is the client's (or a generated) trace id. */
  readonly message: Message;
  /** `headers.tenant` as sent (empty when the caller left it to the server). */
  readonly requestedTenant: string;
}

function under(base: string, path: string): string {
  if (path === '') return base;
  return path.startsWith('[') ? base + path : `${base}.${path}`;
}

/**
 * Validates and converts an inbound message. Adds every problem to `v` and
 * returns undefined when there is any; the caller throws them together.
 *
 * Rules: the message is required; the request must fit `maxMessageBytes`;
 * `payload` and `binary` are exclusive; payload and meta nest at most
 * `maxPayloadDepth` deep and meta has at most `maxMetaKeys` keys; numbers
 * must be finite; a set trace id must match the trace id charset (an empty
 * one is generated: 32 hex characters); the deadline becomes the earlier of
 * `message.deadline` and the call's deadline; an unset `ts` becomes now.
 * The tenant is not checked here (that is PERMISSION_DENIED, not
 * INVALID_ARGUMENT).
 */
export function decodeInboundMessage(wire: WireMessage | undefined, ctx: InboundContext, v: Violations): InboundMessage | undefined {
  const field = ctx.field ?? 'message';
  const before = v.length;
  if (wire === undefined) {
    v.add(field, 'required');
    return undefined;
  }
  const { limits } = ctx;
  if (ctx.requestBytes > limits.maxMessageBytes) {
    v.add(field, `request is ${ctx.requestBytes} bytes; the limit is ${limits.maxMessageBytes}`);
  }
  let payload: unknown = null;
  const hasBinary = wire.binary.byteLength > 0;
  if (hasBinary && wire.payload !== undefined) {
    v.add(`${field}.binary`, 'set either payload or binary, not both');
  } else if (hasBinary) {
    payload = wire.binary;
  } else if (wire.payload !== undefined) {
    try {
      payload = valueToJson(wire.payload, limits.maxPayloadDepth);
    } catch (err) {
      if (!(err instanceof JsonShapeError)) throw err;
      v.add(under(`${field}.payload`, err.path), err.message);
    }
  }
  const meta: Record<string, JsonValue> = wire.meta ?? {};
  const metaKeys = Object.keys(meta).length;
  if (metaKeys > limits.maxMetaKeys) v.add(`${field}.meta`, `has ${metaKeys} keys; the limit is ${limits.maxMetaKeys}`);
  try {
    checkJsonDepth(meta, limits.maxPayloadDepth);
  } catch (err) {
    if (!(err instanceof JsonShapeError)) throw err;
    v.add(under(`${field}.meta`, err.path), err.message);
  }
  checkTraceId(v, wire.traceId, `${field}.trace_id`, true);
  const requestedTenant = wire.headers?.tenant ?? '';
  if (v.length > before) return undefined;

  const headers: Headers = { tenant: requestedTenant === '' ? ctx.tenant : requestedTenant };
  if (wire.headers !== undefined && wire.headers.topic !== '') headers.topic = wire.headers.topic;
  if (wire.headers !== undefined && wire.headers.priority !== 0) headers.priority = wire.headers.priority;
  const message: Message = {
    payload,
    headers,
    traceId: wire.traceId === '' ? newTraceId() : wire.traceId,
    ts: wire.ts === undefined ? Date.now() : timestampMs(wire.ts),
    meta: { ...meta },
  };
  const own = wire.deadline === undefined ? undefined : timestampMs(wire.deadline);
  const deadline = own === undefined ? ctx.callDeadline : ctx.callDeadline === undefined ? own : Math.min(own, ctx.callDeadline);
  if (deadline !== undefined) message.deadline = deadline;
  return { message, requestedTenant };
}
