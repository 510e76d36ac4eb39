import { describe, expect, it } from 'vitest';
import { create } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import {
  buildMessage,
  flowErrorCodeName,
  fromCallResponse,
  fromFetchResponse,
  fromFlowEvent,
  fromFlowInfo,
  fromMessage,
  fromTraceUpdate,
  jsonToValue,
  normalizeJson,
  toAfterSeq,
  traceStatusName,
  valueToJson,
} from '../src/convert.js';
import { FlowClientError } from '../src/index.js';
import type { JsonValue } from '../src/index.js';
import { FlowEventSchema } from '../src/gen/penguiflow/v1/events_pb.js';
import { FlowInfoSchema } from '../src/gen/penguiflow/v1/flow_info_pb.js';
import {
  CallResponseSchema,
  FetchResponseSchema,
} from '../src/gen/penguiflow/v1/flow_service_pb.js';
import {
  FlowErrorCode,
  MessageSchema,
  TraceStatus,
  TraceUpdateSchema,
} from '../src/gen/penguiflow/v1/messages_pb.js';

function clientError(fn: () => unknown): FlowClientError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(FlowClientError);
    return err as FlowClientError;
  }
  throw new Error('expected a FlowClientError');
}

describe('JSON <-> google.protobuf.Value', () => {
  const samples: JsonValue[] = [
    null,
    true,
    false,
    0,
    -1.5,
    1e300,
    '',
    'héllo ✓ 😀',
    [],
    {},
    [1, 'two', null, [3], { four: 4 }],
    { a: { b: { c: [true, false, null] } }, 'key with spaces': '', '': 'empty key' },
  ];
  for (const sample of samples) {
    it(`round-trips ${JSON.stringify(sample)}`, () => {
      expect(valueToJson(jsonToValue(sample))).toStrictEqual(sample);
    });
  }

  it('rejects a "__proto__" key instead of silently dropping it (protobuf-es cannot carry it)', () => {
    const input = JSON.parse('{"a": {"__proto__": {"polluted": true}}}') as JsonValue;
    const err = clientError(() => jsonToValue(input));
    expect(err.details.fieldViolations[0]?.field).toBe('message.payload.a.__proto__');
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });

  it('follows JSON.stringify for undefined, functions and toJSON', () => {
    const date = new Date(Date.UTC(2024, 0, 2, 3, 4, 5));
    const input = { a: undefined, f: () => 1, list: [undefined, () => 1, 2], when: date } as unknown as JsonValue;
    expect(valueToJson(jsonToValue(input))).toStrictEqual({ list: [null, null, 2], when: date.toISOString() });
  });

  it.each([
    ['NaN', { deep: [1, Number.NaN] }, 'message.payload.deep[1]'],
    ['Infinity', Number.POSITIVE_INFINITY, 'message.payload'],
    ['bigint', { n: 1n }, 'message.payload.n'],
    ['nested bytes', { img: new Uint8Array([1]) }, 'message.payload.img'],
    ['undefined body', undefined, 'message.payload'],
  ])('rejects %s client-side with the field path', (_name, value, path) => {
    const err = clientError(() => jsonToValue(value));
    expect(err.code).toBe('INVALID_ARGUMENT');
    expect(err.clientSide).toBe(true);
    expect(err.details.fieldViolations[0]?.field).toBe(path);
  });

  it('rejects cycles but accepts shared (non-cyclic) references', () => {
    const shared = { v: 1 };
    expect(normalizeJson({ a: shared, b: shared }, 'p')).toStrictEqual({ a: { v: 1 }, b: { v: 1 } });
    const cyclic: Record<string, unknown> = { x: 1 };
    cyclic['self'] = cyclic;
    expect(clientError(() => normalizeJson(cyclic, 'p')).details.fieldViolations[0]?.field).toBe('p.self');
  });

  it('maps a Value with no kind to null and undefined to undefined', () => {
    expect(valueToJson(create(MessageSchema).payload)).toBeUndefined();
    expect(valueToJson(jsonToValue(null))).toBeNull();
  });
});

describe('buildMessage', () => {
  it('sends a Uint8Array body as binary and JSON as payload', () => {
    const bin = buildMessage(new Uint8Array([1, 2, 3]));
    expect(bin.binary).toEqual(new Uint8Array([1, 2, 3]));
    expect(bin.payload).toBeUndefined();
    const json = buildMessage({ q: 1 });
    expect(json.binary).toBeUndefined();
    expect(valueToJson(create(MessageSchema, json).payload)).toStrictEqual({ q: 1 });
  });

  it('converts the envelope options', () => {
    const deadline = Date.UTC(2030, 0, 1);
    const m = create(
      MessageSchema,
      buildMessage('x', { traceId: 't1', deadline, meta: { k: [1] }, topic: 'news', priority: 3 }),
    );
    expect(m.traceId).toBe('t1');
    expect(Number(m.deadline?.seconds) * 1000).toBe(deadline);
    expect(m.meta).toStrictEqual({ k: [1] });
    expect(m.headers).toMatchObject({ topic: 'news', priority: 3, tenant: '' });
  });

  it('omits headers when no header option is given', () => {
    expect(buildMessage(1).headers).toBeUndefined();
  });

  it.each([
    [{ priority: 1.5 }, 'message.headers.priority'],
    [{ priority: 2 ** 31 }, 'message.headers.priority'],
    [{ deadline: Number.NaN }, 'message.deadline'],
    [{ meta: [1] as unknown as Record<string, JsonValue> }, 'message.meta'],
    [{ traceId: 5 as unknown as string }, 'message.traceId'],
  ])('rejects invalid options %o', (opts, field) => {
    expect(clientError(() => buildMessage(null, opts)).details.fieldViolations[0]?.field).toBe(field);
  });
});

describe('incoming messages', () => {
  it('maps an output message with a JSON payload', () => {
    const m = create(MessageSchema, {
      payload: jsonToValue({ a: 1 }),
      headers: { tenant: 'acme' },
      traceId: 'tr',
      ts: timestampFromMs(1_700_000_000_123),
      meta: { m: true },
    });
    expect(fromMessage(m)).toStrictEqual({
      payload: { a: 1 },
      binary: undefined,
      headers: { tenant: 'acme', topic: '', priority: 0 },
      traceId: 'tr',
      ts: 1_700_000_000_123,
      deadline: undefined,
      meta: { m: true },
    });
  });

  it('maps a binary output and keeps payload undefined', () => {
    const out = fromMessage(create(MessageSchema, { binary: new Uint8Array([9]) }));
    expect(out.binary).toEqual(new Uint8Array([9]));
    expect(out.payload).toBeUndefined();
    expect(out.meta).toStrictEqual({});
  });

  it('maps every FetchResponse case and rejects an empty one', () => {
    const chunk = create(FetchResponseSchema, {
      result: { case: 'chunk', value: { streamId: 's', seq: 4n, text: 'hi', done: true } },
    });
    expect(fromFetchResponse(chunk)).toStrictEqual({
      kind: 'chunk',
      chunk: { streamId: 's', seq: 4, text: 'hi', done: true, meta: {} },
    });
    const end = create(FetchResponseSchema, {
      result: {
        case: 'end',
        value: { status: TraceStatus.FAILED, error: { code: FlowErrorCode.NODE_TIMEOUT, message: 'slow' } },
      },
    });
    const mapped = fromFetchResponse(end);
    expect(mapped.kind === 'end' && mapped.end.status).toBe('FAILED');
    expect(mapped.kind === 'end' && mapped.end.error?.code).toBe('NODE_TIMEOUT');
    const err = create(FetchResponseSchema, { result: { case: 'error', value: { code: FlowErrorCode.UNSPECIFIED } } });
    expect(fromFetchResponse(err)).toMatchObject({ kind: 'error', error: { code: 'NODE_EXCEPTION', metadata: {} } });
    expect(clientError(() => fromFetchResponse(create(FetchResponseSchema))).code).toBe('INTERNAL');
  });

  it('maps CallResponse without a result to kind "none"', () => {
    expect(fromCallResponse(create(CallResponseSchema, { traceId: 'x' }))).toStrictEqual({ kind: 'none', traceId: 'x' });
  });

  it('skips a TraceUpdate with no case', () => {
    expect(fromTraceUpdate('t', create(TraceUpdateSchema))).toBeUndefined();
    expect(fromTraceUpdate('t', undefined)).toBeUndefined();
  });

  it('maps enums, including unknown values', () => {
    expect(flowErrorCodeName(FlowErrorCode.HOP_BUDGET_EXHAUSTED)).toBe('HOP_BUDGET_EXHAUSTED');
    expect(flowErrorCodeName(99 as FlowErrorCode)).toBe('NODE_EXCEPTION');
    expect(traceStatusName(TraceStatus.DEADLINE_EXCEEDED)).toBe('DEADLINE_EXCEEDED');
    expect(traceStatusName(TraceStatus.UNSPECIFIED)).toBe('UNSPECIFIED');
  });

  it('maps a FlowEvent with seq as a number and optional fields', () => {
    const ev = fromFlowEvent(
      create(FlowEventSchema, { eventType: 'node_success', seq: 7n, latencyMs: 1.5, ts: timestampFromMs(5000) }),
    );
    expect(ev).toMatchObject({ eventType: 'node_success', seq: 7, latencyMs: 1.5, ts: 5000, tracePending: undefined, extra: {} });
  });

  it('maps FlowInfo', () => {
    const info = fromFlowInfo(
      create(FlowInfoSchema, {
        name: 'f',
        nodes: [{ name: 'n', id: 'i', policy: { validate: 'none', maxRetries: 2, backoffMult: 2 } }],
        edges: [{ source: 'a', target: 'b' }],
        ingress: ['n'],
        egress: ['n'],
      }),
    );
    expect(info.nodes[0]?.policy).toMatchObject({ maxRetries: 2, timeoutMs: undefined, maxBackoffMs: undefined });
    expect(info.edges).toStrictEqual([{ source: 'a', target: 'b' }]);
  });
});

describe('toAfterSeq', () => {
  it('accepts numbers and bigints', () => {
    expect(toAfterSeq(undefined)).toBe(0n);
    expect(toAfterSeq(12)).toBe(12n);
    expect(toAfterSeq(2n ** 64n - 1n)).toBe(2n ** 64n - 1n);
  });
  it.each([-1, 1.5, Number.NaN, -1n, 2n ** 64n])('rejects %s', (v) => {
    expect(clientError(() => toAfterSeq(v)).details.fieldViolations[0]?.field).toBe('after_seq');
  });
});
