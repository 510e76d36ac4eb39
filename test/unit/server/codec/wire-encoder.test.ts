/**
 * encodeResponse is a hand-written replacement for protobuf-es `toBinary`
 * on the hot response types; its only contract is byte-for-byte equality
 * with `toBinary`, and declining (undefined) whatever it cannot mirror.
 */
import { create, fromBinary, toBinary, type DescMessage, type JsonObject, type JsonValue, type MessageShape } from '@bufbuild/protobuf';
import { ListValueSchema, NullValue, StructSchema, TimestampSchema, ValueSchema, type Timestamp, type Value } from '@bufbuild/protobuf/wkt';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CallResponseSchema,
  CallStreamResponseSchema,
  EmitResponseSchema,
  FetchResponseSchema,
  GetHistoryResponseSchema,
  ListFlowsResponseSchema,
  StreamTraceResponseSchema,
} from '../../../../src/gen/penguiflow/v1/flow_service_pb.js';
import {
  FlowErrorCode,
  FlowErrorSchema,
  HeadersSchema,
  MessageSchema,
  StreamChunkSchema,
  TraceEndSchema,
  TraceStatus,
  TraceUpdateSchema,
  type Message,
} from '../../../../src/gen/penguiflow/v1/messages_pb.js';
import { encodeResponse, SUPPORTED_TYPE_NAMES } from '../../../../src/server/codec/wire-encoder.js';

// ------------------------------------------------------------ arbitraries

/**
 * Strings: ASCII, BMP, astral (surrogate pairs) and, when `lone` is set, lone
 * surrogates. protobuf-es encodes with TextEncoder, which writes a lone
 * surrogate as U+FFFD; the encoder must match that byte for byte, but such a
 * string cannot survive a decode, so round-trip properties exclude them.
 */
function arbString(lone: boolean): fc.Arbitrary<string> {
  const units: fc.Arbitrary<string>[] = [
    fc.string({ unit: 'binary-ascii', maxLength: 40 }),
    fc.string({ unit: 'binary', maxLength: 12 }),
    fc.string({ unit: fc.constantFrom('a', 'é', '€', '😀', '\u0000', '\u007f', '\u0080', '\u07ff', '\u0800', '\uffff'), maxLength: 12 }),
    // Long enough to take the native Buffer#write paths.
    fc.string({ unit: 'binary-ascii', minLength: 24, maxLength: 300 }),
    fc.constant('abcdef0123456789abcdef0123456789'),
    fc.constant(''),
  ];
  if (lone) units.push(fc.string({ unit: fc.constantFrom('\ud800', '\udbff', '\udc00', '\udfff', 'x', '😀'), maxLength: 8 }));
  return fc.oneof(...units);
}

// '__proto__' would become the prototype when protobuf-es decodes a Struct
// into a JsonObject, so it is kept out of the round-trip properties only.
function arbKey(lone: boolean): fc.Arbitrary<string> {
  return fc.oneof(fc.constantFrom('', '0', '1', '10', '4294967295', 'n', 'a b', 'tenant'), arbString(lone)).filter((k) => lone || k !== '__proto__');
}

const arbInt32 = fc.oneof(fc.constant(0), fc.integer({ min: -3, max: 300 }), fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }));
const arbInt64 = fc.oneof(
  fc.constant(0n),
  fc.bigInt({ min: -300n, max: 300n }),
  fc.constantFrom(-(2n ** 63n), 2n ** 63n - 1n, 2n ** 53n, -(2n ** 53n), 2n ** 53n - 1n, 2n ** 32n, 2n ** 31n, -1n),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
);
// fc.double covers -0, NaN, ±Infinity and subnormals.
const arbDouble = fc.oneof(fc.constantFrom(0, -0, 1, NaN, Infinity, -Infinity, Number.MIN_VALUE), fc.double());

interface Options {
  /** Allow lone surrogates (byte-equality only). */
  lone: boolean;
}

function arbitraries({ lone }: Options) {
  const str = arbString(lone);
  const key = arbKey(lone);

  const { value } = fc.letrec<{ value: Value; struct: MessageShape<typeof StructSchema>; list: MessageShape<typeof ListValueSchema> }>((tie) => ({
    value: fc
      .oneof(
        { maxDepth: 3, depthIdentifier: 'value' },
        fc.constant({ case: undefined }),
        fc.constant({ case: 'nullValue' as const, value: NullValue.NULL_VALUE }),
        arbDouble.map((v) => ({ case: 'numberValue' as const, value: v })),
        str.map((v) => ({ case: 'stringValue' as const, value: v })),
        fc.boolean().map((v) => ({ case: 'boolValue' as const, value: v })),
        tie('struct').map((v) => ({ case: 'structValue' as const, value: v })),
        tie('list').map((v) => ({ case: 'listValue' as const, value: v })),
      )
      .map((kind) => create(ValueSchema, { kind })),
    struct: fc.dictionary(key, tie('value'), { maxKeys: 4, depthIdentifier: 'value' }).map((fields) => create(StructSchema, { fields })),
    list: fc.array(tie('value'), { maxLength: 4, depthIdentifier: 'value' }).map((values) => create(ListValueSchema, { values })),
  }));

  const { json } = fc.letrec<{ json: JsonValue }>((tie) => ({
    json: fc.oneof(
      { maxDepth: 3, depthIdentifier: 'json' },
      fc.constant(null),
      fc.boolean(),
      arbDouble,
      str,
      fc.array(tie('json'), { maxLength: 4, depthIdentifier: 'json' }),
      fc.dictionary(key, tie('json'), { maxKeys: 4, depthIdentifier: 'json' }),
    ),
  }));
  const jsonObject: fc.Arbitrary<JsonObject> = fc.dictionary(key, json, { maxKeys: 5 });
  const maybe = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined, freq: 3 });

  const timestamp: fc.Arbitrary<Timestamp> = fc.record({ seconds: arbInt64, nanos: arbInt32 }).map((t) => create(TimestampSchema, t));
  const headers = fc.record({ tenant: str, topic: str, priority: arbInt32 }).map((h) => create(HeadersSchema, h));
  const message = fc
    .record({
      payload: maybe(value),
      binary: fc.oneof(fc.constant(new Uint8Array(0)), fc.uint8Array({ maxLength: 200 })),
      headers: maybe(headers),
      traceId: str,
      ts: maybe(timestamp),
      deadline: maybe(timestamp),
      meta: maybe(jsonObject),
    })
    .map((m) => create(MessageSchema, m));
  const chunk = fc
    .record({ streamId: str, seq: arbInt64, text: str, done: fc.boolean(), meta: maybe(jsonObject) })
    .map((c) => create(StreamChunkSchema, c));
  // Open enums: any int32 is a valid value, including negative ones.
  const code = fc.oneof(fc.constantFrom(...(Object.values(FlowErrorCode).filter((v) => typeof v === 'number') as FlowErrorCode[])), arbInt32);
  const flowError = fc
    .record({ code, message: str, traceId: str, nodeName: str, nodeId: str, metadata: maybe(jsonObject), exceptionType: str })
    .map((e) => create(FlowErrorSchema, e));
  const status = fc.oneof(fc.constantFrom(...(Object.values(TraceStatus).filter((v) => typeof v === 'number') as TraceStatus[])), arbInt32);
  const traceEnd = fc.record({ status, error: maybe(flowError) }).map((e) => create(TraceEndSchema, e));
  const traceUpdate = fc
    .oneof(
      fc.constant({ case: undefined }),
      chunk.map((value) => ({ case: 'chunk' as const, value })),
      message.map((value) => ({ case: 'output' as const, value })),
      flowError.map((value) => ({ case: 'error' as const, value })),
      traceEnd.map((value) => ({ case: 'end' as const, value })),
    )
    .map((update) => create(TraceUpdateSchema, { update }));

  const callResponse = fc
    .record({
      traceId: str,
      result: fc.oneof(
        fc.constant({ case: undefined }),
        message.map((value) => ({ case: 'output' as const, value })),
        flowError.map((value) => ({ case: 'error' as const, value })),
      ),
    })
    .map((r) => create(CallResponseSchema, r));
  const fetchResponse = fc
    .oneof(
      fc.constant({ case: undefined }),
      message.map((value) => ({ case: 'output' as const, value })),
      flowError.map((value) => ({ case: 'error' as const, value })),
      chunk.map((value) => ({ case: 'chunk' as const, value })),
      traceEnd.map((value) => ({ case: 'end' as const, value })),
    )
    .map((result) => create(FetchResponseSchema, { result }));
  const emitResponse = fc.record({ traceId: str, deduplicated: fc.boolean() }).map((r) => create(EmitResponseSchema, r));
  const callStreamResponse = fc
    .record({ traceId: str, update: maybe(traceUpdate) })
    .map((r) => create(CallStreamResponseSchema, r));
  const streamTraceResponse = fc
    .record({ traceId: str, update: maybe(traceUpdate) })
    .map((r) => create(StreamTraceResponseSchema, r));

  return {
    value,
    timestamp,
    headers,
    message,
    chunk,
    flowError,
    traceEnd,
    traceUpdate,
    callResponse,
    fetchResponse,
    emitResponse,
    callStreamResponse,
    streamTraceResponse,
    jsonObject,
  };
}

const exact = arbitraries({ lone: true });
const typical = arbitraries({ lone: false });

interface Case {
  schema: DescMessage;
  arb: fc.Arbitrary<MessageShape<DescMessage>>;
  roundTrip: fc.Arbitrary<MessageShape<DescMessage>>;
}

const CASES: readonly Case[] = [
  { schema: CallResponseSchema, arb: exact.callResponse, roundTrip: typical.callResponse },
  { schema: CallStreamResponseSchema, arb: exact.callStreamResponse, roundTrip: typical.callStreamResponse },
  { schema: StreamTraceResponseSchema, arb: exact.streamTraceResponse, roundTrip: typical.streamTraceResponse },
  { schema: FetchResponseSchema, arb: exact.fetchResponse, roundTrip: typical.fetchResponse },
  { schema: EmitResponseSchema, arb: exact.emitResponse, roundTrip: typical.emitResponse },
  { schema: TraceUpdateSchema, arb: exact.traceUpdate, roundTrip: typical.traceUpdate },
  { schema: MessageSchema, arb: exact.message, roundTrip: typical.message },
  { schema: HeadersSchema, arb: exact.headers, roundTrip: typical.headers },
  { schema: StreamChunkSchema, arb: exact.chunk, roundTrip: typical.chunk },
  { schema: FlowErrorSchema, arb: exact.flowError, roundTrip: typical.flowError },
  { schema: TraceEndSchema, arb: exact.traceEnd, roundTrip: typical.traceEnd },
  { schema: ValueSchema, arb: exact.value, roundTrip: typical.value },
  {
    schema: StructSchema,
    arb: exact.value.map((v) => create(StructSchema, { fields: { a: v, '': v, '7': v } })),
    roundTrip: typical.value.map((v) => create(StructSchema, { fields: { a: v, b: v } })),
  },
  {
    schema: ListValueSchema,
    arb: fc.array(exact.value, { maxLength: 5 }).map((values) => create(ListValueSchema, { values })),
    roundTrip: fc.array(typical.value, { maxLength: 5 }).map((values) => create(ListValueSchema, { values })),
  },
  { schema: TimestampSchema, arb: exact.timestamp, roundTrip: typical.timestamp },
];

function hex(bytes: Uint8Array | undefined): string | undefined {
  return bytes === undefined ? undefined : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/** True when some object inside `value` has an own `__proto__` key (left to toBinary on purpose). */
function hasOwnProtoKey(value: unknown, seen = new Set<object>()): boolean {
  if (typeof value !== 'object' || value === null || seen.has(value) || ArrayBuffer.isView(value)) return false;
  seen.add(value);
  if (Object.hasOwn(value, '__proto__')) return true;
  return Object.values(value).some((v) => hasOwnProtoKey(v, seen));
}

function expectSameAsToBinary<D extends DescMessage>(schema: D, message: MessageShape<D>): void {
  const fast = encodeResponse(schema.typeName, message);
  // What the server sends is the fast encoding, or toBinary's when it declines.
  if (fast === undefined && hasOwnProtoKey(message)) return;
  expect(hex(fast)).toBe(hex(toBinary(schema, message)));
}

// ------------------------------------------------------------------ tests

describe('encodeResponse', () => {
  it('declines (falls back to toBinary) a JSON object with an own "__proto__" key', () => {
    const meta = JSON.parse('{"__proto__": false, "a": 1}') as Record<string, unknown>;
    const message = { ...create(MessageSchema), meta };
    expect(encodeResponse(MessageSchema.typeName, message)).toBeUndefined();
    expect(encodeResponse(MessageSchema.typeName, { ...create(MessageSchema), meta: { a: 1 } })).toBeDefined();
  });

  it('supports exactly the hot response types and what they nest', () => {
    expect([...SUPPORTED_TYPE_NAMES].sort()).toEqual(CASES.map((c) => c.schema.typeName).sort());
  });

  for (const { schema, arb } of CASES) {
    it(`encodes random ${schema.typeName} messages byte for byte like toBinary (property)`, () => {
      fc.assert(
        fc.property(arb, (message) => expectSameAsToBinary(schema, message)),
        { numRuns: 300 },
      );
    });
  }

  for (const { schema, roundTrip } of CASES) {
    it(`encodes ${schema.typeName} so that fromBinary gives the message back (property)`, () => {
      fc.assert(
        fc.property(roundTrip, (message) => {
          const bytes = encodeResponse(schema.typeName, message);
          expect(bytes).toBeDefined();
          // A plain copy: decoding a Buffer would give Buffer-typed bytes fields.
          const decoded = fromBinary(schema, new Uint8Array(bytes!));
          expect(decoded).toEqual(message);
          // Messages decoded by protobuf-es (e.g. an echoed request message)
          // encode identically too.
          expectSameAsToBinary(schema, decoded);
        }),
        { numRuns: 200 },
      );
    });
  }

  it('encodes the server-typical Call output like toBinary', () => {
    const trace = 'abcdef0123456789abcdef0123456789';
    const output: Message = {
      $typeName: 'penguiflow.v1.Message',
      payload: { $typeName: 'google.protobuf.Value', kind: { case: 'structValue', value: { $typeName: 'google.protobuf.Struct', fields: { n: { $typeName: 'google.protobuf.Value', kind: { case: 'numberValue', value: 1 } } } } } },
      binary: new Uint8Array(0),
      headers: { $typeName: 'penguiflow.v1.Headers', tenant: 'default', topic: '', priority: 0 },
      traceId: trace,
      ts: { $typeName: 'google.protobuf.Timestamp', seconds: 1_760_000_000n, nanos: 123_000_000 },
      deadline: { $typeName: 'google.protobuf.Timestamp', seconds: 1_760_000_010n, nanos: 0 },
      meta: undefined,
    };
    expectSameAsToBinary(CallResponseSchema, { $typeName: 'penguiflow.v1.CallResponse', traceId: trace, result: { case: 'output', value: output } });
  });

  it('writes doubles -0, NaN and ±Infinity (even in JsonObject meta) like toBinary', () => {
    for (const v of [-0, 0, NaN, Infinity, -Infinity, 5e-324, 1.5]) {
      expectSameAsToBinary(ValueSchema, create(ValueSchema, { kind: { case: 'numberValue', value: v } }));
      expectSameAsToBinary(MessageSchema, create(MessageSchema, { meta: { v } }));
    }
  });

  it('writes negative int32 and enum values as 10-byte varints', () => {
    const headers = create(HeadersSchema, { priority: -1 });
    expect(hex(encodeResponse(HeadersSchema.typeName, headers))).toBe('18ffffffffffffffffff01');
    expectSameAsToBinary(FlowErrorSchema, create(FlowErrorSchema, { code: -(2 ** 31) as FlowErrorCode }));
    expectSameAsToBinary(TraceEndSchema, create(TraceEndSchema, { status: -7 as TraceStatus }));
    expectSameAsToBinary(ValueSchema, create(ValueSchema, { kind: { case: 'nullValue', value: -1 as NullValue } }));
  });

  it('writes int64 extremes as two’s complement varints', () => {
    for (const seq of [1n, -1n, 2n ** 63n - 1n, -(2n ** 63n), 2n ** 53n + 1n, -(2n ** 53n) - 1n, 2n ** 35n, 2n ** 32n - 1n]) {
      expectSameAsToBinary(StreamChunkSchema, create(StreamChunkSchema, { seq }));
      expectSameAsToBinary(TimestampSchema, create(TimestampSchema, { seconds: seq }));
    }
  });

  it('writes an empty-but-set Struct and a Value without kind as empty messages, and omits unset ones', () => {
    expect(hex(encodeResponse(MessageSchema.typeName, create(MessageSchema, { meta: {} })))).toBe('3a00');
    expect(hex(encodeResponse(MessageSchema.typeName, create(MessageSchema, { payload: create(ValueSchema) })))).toBe('0a00');
    expect(hex(encodeResponse(MessageSchema.typeName, create(MessageSchema)))).toBe('');
    expect(hex(encodeResponse(CallResponseSchema.typeName, create(CallResponseSchema)))).toBe('');
    expectSameAsToBinary(ValueSchema, create(ValueSchema, { kind: { case: 'structValue', value: create(StructSchema) } }));
    expectSameAsToBinary(ValueSchema, create(ValueSchema, { kind: { case: 'listValue', value: create(ListValueSchema) } }));
  });

  it('converts non-JSON values in JsonObject fields like toBinary (empty Value)', () => {
    const meta = { u: undefined, b: 1n, f: () => 1, d: new Date(0), bytes: new Uint8Array([7, 8]), nested: [undefined, null] } as unknown as JsonObject;
    expectSameAsToBinary(MessageSchema, create(MessageSchema, { meta }));
    expectSameAsToBinary(StreamChunkSchema, { ...create(StreamChunkSchema), meta });
    expectSameAsToBinary(FlowErrorSchema, { ...create(FlowErrorSchema), metadata: meta });
  });

  it('orders Struct entries like protobuf-es: integer-like keys first, then insertion order', () => {
    const meta = { b: 1, '2': 2, a: 3, '1': 4, '': 5 };
    expectSameAsToBinary(MessageSchema, create(MessageSchema, { meta }));
    const fields = Object.fromEntries(Object.entries(meta).map(([k, v]) => [k, create(ValueSchema, { kind: { case: 'numberValue', value: v } })]));
    expectSameAsToBinary(StructSchema, create(StructSchema, { fields }));
  });

  it('replaces lone surrogates with U+FFFD like TextEncoder', () => {
    const headers = create(HeadersSchema, { tenant: 'a\ud800b', topic: '\udfff'.repeat(30) });
    expect(hex(encodeResponse(HeadersSchema.typeName, headers))?.slice(0, 14)).toBe('0a0561efbfbd62');
    expectSameAsToBinary(HeadersSchema, headers);
  });

  it('encodes large messages whose length prefixes need several bytes', () => {
    const fields: Record<string, Value> = {};
    for (let i = 0; i < 2000; i++) fields[`k${i}`] = create(ValueSchema, { kind: { case: 'stringValue', value: 'é'.repeat(i % 50) } });
    const payload = create(ValueSchema, { kind: { case: 'structValue', value: create(StructSchema, { fields }) } });
    const big = create(CallResponseSchema, { traceId: 't', result: { case: 'output', value: create(MessageSchema, { payload, binary: new Uint8Array(70_000).fill(9) }) } });
    expectSameAsToBinary(CallResponseSchema, big);
  });

  it('returns independent buffers: a later encoding does not change an earlier result', () => {
    const a = encodeResponse(EmitResponseSchema.typeName, create(EmitResponseSchema, { traceId: 'first', deduplicated: true }));
    const before = hex(a);
    encodeResponse(EmitResponseSchema.typeName, create(EmitResponseSchema, { traceId: 'second-and-longer', deduplicated: false }));
    expect(hex(a)).toBe(before);
  });

  it('returns undefined for types it does not support', () => {
    expect(encodeResponse(ListFlowsResponseSchema.typeName, create(ListFlowsResponseSchema))).toBeUndefined();
    expect(encodeResponse(GetHistoryResponseSchema.typeName, create(GetHistoryResponseSchema))).toBeUndefined();
    expect(encodeResponse('penguiflow.v1.FlowEvent', { $typeName: 'penguiflow.v1.FlowEvent' })).toBeUndefined();
    expect(encodeResponse('google.protobuf.Duration', { $typeName: 'google.protobuf.Duration' })).toBeUndefined();
  });

  it('returns undefined, without throwing, for messages it cannot mirror with certainty', () => {
    const call = (m: object) => encodeResponse(CallResponseSchema.typeName, m);
    // $typeName of the message differs from the type name asked for.
    expect(encodeResponse(CallResponseSchema.typeName, create(EmitResponseSchema))).toBeUndefined();
    // Unknown fields.
    expect(call({ ...create(CallResponseSchema), $unknown: [{ no: 9, wireType: 0, data: new Uint8Array([1]) }] })).toBeUndefined();
    // Missing oneof object / ill-typed scalars / oneof case without value.
    expect(call({ $typeName: 'penguiflow.v1.CallResponse', traceId: 'x' })).toBeUndefined();
    expect(call({ $typeName: 'penguiflow.v1.CallResponse', traceId: 7, result: { case: undefined } })).toBeUndefined();
    expect(call({ $typeName: 'penguiflow.v1.CallResponse', traceId: '', result: { case: 'output' } })).toBeUndefined();
    expect(call({ $typeName: 'penguiflow.v1.CallResponse', traceId: '', result: { case: 'bogus', value: 1 } })).toBeUndefined();
    // Nested message of a foreign type.
    expect(call({ $typeName: 'penguiflow.v1.CallResponse', traceId: '', result: { case: 'output', value: create(EmitResponseSchema) } })).toBeUndefined();
    // Integers toBinary rejects.
    expect(encodeResponse(HeadersSchema.typeName, create(HeadersSchema, { priority: 2 ** 31 }))).toBeUndefined();
    expect(encodeResponse(HeadersSchema.typeName, create(HeadersSchema, { priority: 1.5 }))).toBeUndefined();
    expect(encodeResponse(StreamChunkSchema.typeName, { ...create(StreamChunkSchema), seq: 2n ** 63n })).toBeUndefined();
    expect(encodeResponse(StreamChunkSchema.typeName, { ...create(StreamChunkSchema), seq: 5 })).toBeUndefined();
    // null message field; Struct meta that is not an object.
    expect(encodeResponse(MessageSchema.typeName, { ...create(MessageSchema), headers: null })).toBeUndefined();
    expect(encodeResponse(MessageSchema.typeName, { ...create(MessageSchema), meta: [1] })).toBeUndefined();
    // A cyclic JsonObject overflows the stack; that is caught too.
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(encodeResponse(MessageSchema.typeName, { ...create(MessageSchema), meta: cyclic })).toBeUndefined();
    expect(encodeResponse(MessageSchema.typeName, create(MessageSchema, { traceId: 'still works' }))).toBeDefined();
  });
});
