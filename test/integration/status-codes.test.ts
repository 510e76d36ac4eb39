/**
 * The status table of DESIGN §3, row by row, with the google.rpc details
 * each row promises.
 */
import type { JsonValue } from '@bufbuild/protobuf';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorDetails, grpcError, violatedFields } from './helpers/client.js';
import { eventually, recordOf, startHarness, value, type Harness } from './helpers/harness.js';
import { blockingFlow } from './helpers/test-flows.js';

const LIMIT = 64 * 1024;
let h: Harness;
beforeAll(async () => {
  h = await startHarness({ maxMessageBytes: LIMIT, maxPayloadDepth: 8, maxMetaKeys: 4, admissionWaitMs: 100 }, { flows: [blockingFlow] });
});
afterAll(async () => {
  await h.stop();
});

function nested(depth: number): JsonValue {
  let v: JsonValue = 'leaf';
  for (let i = 0; i < depth; i++) v = { d: v };
  return v;
}

/** Sends raw bytes as an Emit request body. */
function rawEmit(body: Buffer): Promise<grpc.ServiceError | undefined> {
  const client = new grpc.Client(h.address, grpc.credentials.createInsecure());
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      '/penguiflow.v1.FlowService/Emit',
      (b: Buffer) => b,
      (b: Buffer) => b,
      body,
      new grpc.Metadata(),
      { deadline: Date.now() + 5000 },
      (err) => {
        client.close();
        resolve(err ?? undefined);
      },
    );
  });
}

function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 127) {
    out.push((n & 127) | 128);
    n >>>= 7;
  }
  out.push(n);
  return out;
}

/** EmitRequest{flow:"echo", message:{payload: [[[[...]]]]}} nested `levels` lists deep, built in O(levels). */
function deepListEmit(levels: number): Buffer {
  const prefixes: number[][] = [];
  let size = 2; // Value{null_value: 0}
  for (let i = 0; i < levels; i++) {
    const list = [0x0a, ...varint(size)]; // ListValue.values
    size += list.length;
    const val = [0x32, ...varint(size)]; // Value.list_value
    size += val.length;
    prefixes.push(val, list);
  }
  const payload = [0x0a, ...varint(size)]; // Message.payload
  size += payload.length;
  const message = [0x12, ...varint(size)]; // EmitRequest.message
  const head = [0x0a, 4, ...Buffer.from('echo'), ...message, ...payload];
  const parts = [Buffer.from(head)];
  for (let i = prefixes.length - 1; i >= 0; i--) parts.push(Buffer.from(prefixes[i]!));
  parts.push(Buffer.from([0x08, 0x00]));
  return Buffer.concat(parts);
}

describe('INVALID_ARGUMENT with field violations', () => {
  it('missing message', async () => {
    const err = await grpcError(h.client.unary('Emit', { flow: 'echo' }));
    expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(violatedFields(err)).toEqual(['message']);
    expect(errorDetails(err).errorInfo).toMatchObject({ reason: 'INVALID_REQUEST', domain: 'penguiflow.dev' });
  });

  it('bad trace ids: charset, length, empty', async () => {
    const charset = await grpcError(h.client.unary('Emit', { flow: 'echo', message: { traceId: 'has space', payload: value(1) } }));
    expect(violatedFields(charset)).toEqual(['message.trace_id']);
    const long = await grpcError(h.client.unary('Call', { flow: 'echo', message: { traceId: 'x'.repeat(129), payload: value(1) } }));
    expect(violatedFields(long)).toEqual(['message.trace_id']);
    const fetchBad = await grpcError(h.client.unary('Fetch', { flow: 'echo', traceId: 'a/b' }));
    expect(fetchBad.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(violatedFields(fetchBad)).toEqual(['trace_id']);
    const empty = await grpcError(h.client.unary('Cancel', { flow: 'echo', traceId: '' }));
    expect(violatedFields(empty)).toEqual(['trace_id']);
  });

  it('payload over the depth limit, with the path of the violation', async () => {
    const err = await grpcError(h.client.unary('Emit', { flow: 'echo', message: { payload: value(nested(9)) } }));
    expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(violatedFields(err)).toEqual(['message.payload.d.d.d.d.d.d.d.d']);
    await h.client.unary('Emit', { flow: 'echo', message: { payload: value(nested(8)) } });
  });

  it('payload over the size limit', async () => {
    const err = await grpcError(h.client.unary('Emit', { flow: 'echo', message: { payload: value('x'.repeat(LIMIT + 1)) } }));
    expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(violatedFields(err)).toEqual(['message']);
    const bin = await grpcError(h.client.unary('Emit', { flow: 'echo', message: { binary: new Uint8Array(LIMIT + 10) } }));
    expect(violatedFields(bin)).toEqual(['message']);
  });

  it('both payload and binary, meta over its key limit or depth, non-finite numbers: all reported at once', async () => {
    const err = await grpcError(
      h.client.unary('Emit', {
        flow: '',
        message: { payload: value(1), binary: new Uint8Array([1]), meta: { a: 1, b: 2, c: 3, d: 4, e: nested(9) } },
        idempotencyKey: '',
      }),
    );
    expect(violatedFields(err).sort()).toEqual(['flow', 'idempotency_key', 'message.binary', 'message.meta', 'message.meta.e.d.d.d.d.d.d.d'].sort());
    const nan = await grpcError(h.client.unary('Emit', { flow: 'echo', message: { payload: { kind: { case: 'numberValue', value: Number.NaN } } } }));
    expect(violatedFields(nan)).toEqual(['message.payload']);
  });

  it('unknown event types and bad trace ids in SubscribeEvents', async () => {
    const { error } = await h.client.collect('SubscribeEvents', { eventTypes: ['node_start', 'bogus'], traceIds: ['ok', 'not ok'] }, { timeoutMs: 2000 });
    expect(error?.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(violatedFields(error!).sort()).toEqual(['event_types[1]', 'trace_ids[1]']);
  });

  it('an undecodable request body (never INTERNAL)', async () => {
    const err = await rawEmit(Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]));
    expect(err?.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(errorDetails(err!).errorInfo?.reason).toBe('MALFORMED_REQUEST');
  });

  it('absurdly nested values are refused without harming the server', async () => {
    const err = await rawEmit(deepListEmit(20_000));
    expect(err?.code).toBe(grpc.status.INVALID_ARGUMENT);
    const ok = await h.client.unary('Call', { flow: 'echo', message: { payload: value('still alive') } }, { timeoutMs: 2000 });
    expect(ok.result.case).toBe('output');
  });
});

describe('UNAUTHENTICATED', () => {
  it('an invalid x-tenant-id', async () => {
    const err = await grpcError(h.client.unary('ListFlows', {}, { tenant: 'bad tenant!' }));
    expect(err.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(errorDetails(err).errorInfo?.reason).toBe('INVALID_TENANT');
  });
});

describe('PERMISSION_DENIED', () => {
  it('message.headers.tenant differs from the caller\'s tenant', async () => {
    for (const method of ['Emit', 'Call'] as const) {
      const err = await grpcError(h.client.unary(method, { flow: 'echo', message: { payload: value(1), headers: { tenant: 'other' } } }, { tenant: 'mine' }));
      expect(err.code).toBe(grpc.status.PERMISSION_DENIED);
      expect(errorDetails(err).errorInfo?.reason).toBe('TENANT_MISMATCH');
    }
    const { error } = await h.client.collect('CallStream', { flow: 'echo', message: { payload: value(1), headers: { tenant: 'other' } } }, { tenant: 'mine' });
    expect(error?.code).toBe(grpc.status.PERMISSION_DENIED);
  });
});

describe('NOT_FOUND', () => {
  it('an unknown flow, on every RPC that names one', async () => {
    const msg = { payload: value(1) };
    const errors = [
      await grpcError(h.client.unary('Emit', { flow: 'nope', message: msg })),
      await grpcError(h.client.unary('Call', { flow: 'nope', message: msg })),
      await grpcError(h.client.unary('Fetch', { flow: 'nope', traceId: 't' })),
      await grpcError(h.client.unary('Cancel', { flow: 'nope', traceId: 't' })),
      await grpcError(h.client.unary('GetHistory', { flow: 'nope', traceId: 't' })),
      (await h.client.collect('CallStream', { flow: 'nope', message: msg })).error!,
      (await h.client.collect('StreamTrace', { flow: 'nope', traceId: 't' })).error!,
      (await h.client.collect('SubscribeEvents', { flow: 'nope' })).error!,
    ];
    for (const err of errors) {
      expect(err.code).toBe(grpc.status.NOT_FOUND);
      expect(errorDetails(err).errorInfo?.reason).toBe('FLOW_NOT_FOUND');
    }
  });

  it('an unknown trace', async () => {
    for (const err of [
      await grpcError(h.client.unary('Fetch', { flow: 'echo', traceId: 'unknown' })),
      await grpcError(h.client.unary('Cancel', { flow: 'echo', traceId: 'unknown' })),
      await grpcError(h.client.unary('GetHistory', { flow: 'echo', traceId: 'unknown' })),
    ]) {
      expect(err.code).toBe(grpc.status.NOT_FOUND);
      expect(errorDetails(err).errorInfo?.reason).toBe('TRACE_NOT_FOUND');
    }
  });

  it('a trace forgotten after its retention', async () => {
    const h2 = await startHarness({ traceRetentionMs: 0 });
    try {
      const { traceId } = await h2.client.unary('Call', { flow: 'echo', message: { payload: value(1) } }, { timeoutMs: 2000 });
      h2.server.flows.sweep(Date.now() + 1);
      expect((await grpcError(h2.client.unary('Fetch', { flow: 'echo', traceId }))).code).toBe(grpc.status.NOT_FOUND);
      expect(h2.server.flows.get('echo').stats()).toMatchObject({ records: 0, endedRecords: 0 });
    } finally {
      await h2.stop();
    }
  });
});

describe('RESOURCE_EXHAUSTED', () => {
  it('queues saturated past the admission wait, with RetryInfo and QuotaFailure', async () => {
    const running = await h.client.unary('Emit', { flow: 'blocking', message: { payload: value(1) } });
    const queued = await h.client.unary('Emit', { flow: 'blocking', message: { payload: value(2) } });
    const t0 = Date.now();
    const err = await grpcError(h.client.unary('Emit', { flow: 'blocking', message: { payload: value(3) } }, { timeoutMs: 5000 }));
    expect(Date.now() - t0).toBeGreaterThanOrEqual(90);
    expect(err.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    const details = errorDetails(err);
    expect(details.errorInfo?.reason).toBe('ADMISSION_TIMEOUT');
    expect(details.retryInfo?.retryDelay?.seconds).toBe(1n);
    expect(details.quotaFailure?.violations[0]?.subject).toBe('flow:blocking');
    await h.client.unary('Cancel', { flow: 'blocking', traceId: running.traceId });
    await h.client.unary('Cancel', { flow: 'blocking', traceId: queued.traceId });
  });

  it('a Fetch waiting on a trace whose only Emit was refused gets NOT_FOUND, not a hang', async () => {
    const running = await h.client.unary('Emit', { flow: 'blocking', message: { payload: value(1) } });
    const queued = await h.client.unary('Emit', { flow: 'blocking', message: { payload: value(2) } });
    const refused = grpcError(h.client.unary('Emit', { flow: 'blocking', message: { traceId: 'never-admitted', payload: value(3) } }, { timeoutMs: 5000 }));
    // The Emit waits for admission (its record exists, not admitted) when the Fetch arrives.
    await eventually(() => recordOf(h.server, 'blocking', 'never-admitted')?.pendingEmits === 1);
    const waiting = grpcError(h.client.unary('Fetch', { flow: 'blocking', traceId: 'never-admitted' }, { timeoutMs: 5000 }));
    expect((await refused).code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect((await waiting).code).toBe(grpc.status.NOT_FOUND);
    await h.client.unary('Cancel', { flow: 'blocking', traceId: running.traceId });
    await h.client.unary('Cancel', { flow: 'blocking', traceId: queued.traceId });
  });
});

describe('DEADLINE_EXCEEDED', () => {
  it('the call deadline passes while waiting for an output or for admission', async () => {
    const { traceId } = await h.client.unary('Emit', { flow: 'blocking', message: { payload: value(1) } });
    expect((await grpcError(h.client.unary('Fetch', { flow: 'blocking', traceId }, { timeoutMs: 50 }))).code).toBe(grpc.status.DEADLINE_EXCEEDED);
    await h.client.unary('Emit', { flow: 'blocking', message: { payload: value(2) } });
    // Admission would wait 100 ms; the call's 30 ms deadline ends it first.
    expect((await grpcError(h.client.unary('Emit', { flow: 'blocking', message: { payload: value(3) } }, { timeoutMs: 30 }))).code).toBe(grpc.status.DEADLINE_EXCEEDED);
  });
});

describe('CANCELLED and OK-with-FlowError', () => {
  it('a cancelled trace answers CANCELLED; a node failing for good is OK with a FlowError', async () => {
    const { traceId } = await h.client.unary('Emit', { flow: 'slow', message: { payload: value({ ms: 60_000 }) } });
    await h.client.unary('Cancel', { flow: 'slow', traceId });
    const cancelled = await grpcError(h.client.unary('Fetch', { flow: 'slow', traceId }));
    expect(cancelled.code).toBe(grpc.status.CANCELLED);
    expect(errorDetails(cancelled).errorInfo?.reason).toBe('TRACE_CANCELLED');
    const failed = await h.client.unary('Call', { flow: 'flaky', message: { payload: value({ failures: 100 }) } }, { timeoutMs: 3000 });
    expect(failed.result.case).toBe('error');
  });
});
