/**
 * How the host turns messages, updates and errors into text for a durable
 * store, and back.
 *
 * JSON, with two additions JSON lacks: byte arrays (a message's binary
 * payload) and big integers survive the round trip. Everything else follows
 * `JSON.stringify` (undefined fields vanish, non-finite numbers become
 * null), which is also what reaches the wire: a value read back from the
 * store encodes to the same protobuf as the value the node returned.
 */
import type { ValueCodec } from '../state/cluster/trace-store.js';

/** Marks an object that stands for a non-JSON value. Not a valid tenant, flow or node name, so never a real key. */
const TAG = '$penguiflow';

function replacer(this: unknown, _key: string, value: unknown): unknown {
  if (value instanceof Uint8Array) return { [TAG]: 'bytes', base64: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') };
  if (typeof value === 'bigint') return { [TAG]: 'bigint', value: value.toString() };
  // Buffer#toJSON runs before the replacer sees it: catch its output too.
  if (typeof value === 'object' && value !== null && (value as { type?: unknown }).type === 'Buffer' && Array.isArray((value as { data?: unknown }).data)) {
    const holder = this as Record<string, unknown>;
    const original = holder[_key];
    if (original instanceof Uint8Array) return { [TAG]: 'bytes', base64: Buffer.from(original.buffer, original.byteOffset, original.byteLength).toString('base64') };
  }
  return value;
}

function reviver(_key: string, value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value;
  const tag = (value as Record<string, unknown>)[TAG];
  if (tag === 'bytes') {
    const base64 = (value as { base64?: unknown }).base64;
    return new Uint8Array(Buffer.from(typeof base64 === 'string' ? base64 : '', 'base64'));
  }
  if (tag === 'bigint') {
    const digits = (value as { value?: unknown }).value;
    return BigInt(typeof digits === 'string' && /^-?\d+$/.test(digits) ? digits : '0');
  }
  return value;
}

/** The codec the host gives durable stores. */
export const storedValueCodec: ValueCodec = {
  encode(value: unknown): string {
    return JSON.stringify(value === undefined ? null : value, replacer) ?? 'null';
  },
  decode(text: string): unknown {
    return JSON.parse(text, reviver) as unknown;
  },
};
