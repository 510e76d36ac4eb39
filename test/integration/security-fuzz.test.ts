/**
 * Fuzz and leak test against a live server process (`src/server/main.ts`
 * under tsx, jwt auth, debug logs captured from its stdout and stderr).
 *
 * Fuzz: at least 10 000 fast-check generated requests over every RPC:
 * random field values, oversized and deeply nested payloads, random
 * metadata and credentials, raw protobuf bodies (garbage, invalid UTF-8 in
 * string fields). Pass = the process never dies, health still answers
 * SERVING, and every answer is a status of DESIGN §3's table. Reproduce a
 * run with FUZZ_SEED=<seed from the printed line>; FUZZ_RUNS (more runs) and FUZZ_DEBUG
 * (prints the first offending case and the server's warnings) help debugging.
 *
 * Leak: a canary secret placed in payloads, meta, binary and tokens (valid,
 * expired, wrongly signed, malformed) never appears in the captured logs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { create, toBinary, type JsonValue } from '@bufbuild/protobuf';
import { ValueSchema, type Value } from '@bufbuild/protobuf/wkt';
import * as grpc from '@grpc/grpc-js';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FLOW_EVENT_TYPES } from '../../src/runtime/index.js';
import { EmitRequestSchema } from '../../src/gen/penguiflow/v1/flow_service_pb.js';
import { TestClient, type CallOptions, type StreamRpc, type UnaryRpc } from './helpers/client.js';
import { eventually, value } from './helpers/harness.js';
import { bearer, healthServing, hsToken, rawStream, rawUnary, TEST_SECRET } from './helpers/security.js';

const ROOT = resolve(import.meta.dirname, '../..');
const FUZZ_RUNS = Math.max(10_000, Number(process.env.FUZZ_RUNS ?? 0));
const CONCURRENCY = 64;
const MAX_MESSAGE_BYTES = 64 * 1024;
const CANARY = `CANARY${randomBytes(12).toString('hex')}`;

/** DESIGN §3's status table (OK plus every failure status the table names). */
const ALLOWED = new Set<grpc.status>([
  grpc.status.OK,
  grpc.status.INVALID_ARGUMENT,
  grpc.status.UNAUTHENTICATED,
  grpc.status.PERMISSION_DENIED,
  grpc.status.NOT_FOUND,
  grpc.status.RESOURCE_EXHAUSTED,
  grpc.status.DEADLINE_EXCEEDED,
  grpc.status.CANCELLED,
]);

let child: ChildProcess;
let logs = '';
let client: TestClient;
let address: string;
const tokens: Record<string, string> = {};

function startChild(): Promise<number> {
  child = spawn(process.execPath, ['--import', 'tsx', 'src/server/main.ts'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      PENGUIFLOW_HOST: '127.0.0.1',
      PENGUIFLOW_PORT: '0',
      PENGUIFLOW_OPS_PORT: '0',
      PENGUIFLOW_AUTH: 'jwt',
      PENGUIFLOW_JWT_SECRET: TEST_SECRET,
      PENGUIFLOW_LOG_LEVEL: 'debug',
      PENGUIFLOW_MAX_MESSAGE_BYTES: String(MAX_MESSAGE_BYTES),
      PENGUIFLOW_ADMISSION_WAIT_MS: '200',
      PENGUIFLOW_TENANT_MAX_INFLIGHT: '64',
      PENGUIFLOW_TRACE_RETENTION_MS: '60000',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stderr!.on('data', (b: Buffer) => (logs += b.toString('utf8')));
  return new Promise((resolvePort, reject) => {
    const rl = createInterface({ input: child.stdout! });
    rl.on('line', (line) => {
      logs += `${line}\n`;
      try {
        const parsed = JSON.parse(line) as { port?: unknown; msg?: unknown };
        if (typeof parsed.port === 'number' && typeof parsed.msg === 'string' && parsed.msg.includes('listening')) resolvePort(parsed.port);
      } catch {
        // not JSON
      }
    });
    child.once('exit', (code) => reject(new Error(`server exited early with ${code}:\n${logs}`)));
  });
}

beforeAll(async () => {
  const port = await startChild();
  address = `127.0.0.1:${port}`;
  client = new TestClient(address);
  for (const t of ['t1', 't2', 't3']) tokens[t] = await hsToken({ tenant: t, aud: undefined, iss: undefined });
  tokens.expired = await hsToken({ tenant: 't1' }, { expSeconds: -3600 });
  tokens.forged = await hsToken({ tenant: 't1' }, { secret: 'forged-secret-0123456789abcdef-0123456789' });
}, 60_000);

afterAll(() => {
  client?.close();
  if (child !== undefined && child.exitCode === null) child.kill('SIGKILL');
});

/* ------------------------------------------------------------------ arbitraries */

const traceIdArb = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('', 'fz-1', 'fz-2', 'fz-3', 'shared:id', 'a.b_c-d') },
  { weight: 2, arbitrary: fc.string({ maxLength: 140 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 1, arbitrary: fc.stringMatching(/^[A-Za-z0-9._:-]{100,160}$/) },
);

const flowArb = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom('echo', 'stream', 'fanout', 'slow', 'flaky', 'chain5') },
  { weight: 1, arbitrary: fc.constantFrom('', 'nope', 'x'.repeat(200)) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 30 }) },
);

/** A Value nested `depth` lists/structs deep (built directly: fromJson stops at depth 100). */
function nested(depth: number, leaf: string): Value {
  let v: Value = create(ValueSchema, { kind: { case: 'stringValue', value: leaf } });
  for (let i = 0; i < depth; i++) {
    v =
      i % 2 === 0
        ? create(ValueSchema, { kind: { case: 'listValue', value: { values: [v] } } })
        : create(ValueSchema, { kind: { case: 'structValue', value: { fields: { k: v } } } });
  }
  return v;
}

const payloadArb: fc.Arbitrary<Value> = fc.oneof(
  { weight: 10, arbitrary: (fc.jsonValue({ maxDepth: 4 }) as fc.Arbitrary<JsonValue>).map((j) => value(j)) },
  { weight: 3, arbitrary: fc.record({ ms: fc.integer({ min: -10, max: 400 }), failures: fc.integer({ min: 0, max: 6 }), chunks: fc.integer({ min: 0, max: 5 }) }).map((j) => value(j)) },
  { weight: 2, arbitrary: fc.integer({ min: 20, max: 400 }).map((d) => nested(d, 'deep')) },
  { weight: 1, arbitrary: fc.integer({ min: MAX_MESSAGE_BYTES - 100, max: MAX_MESSAGE_BYTES * 3 }).map((n) => value('x'.repeat(n))) },
  // Past the transport cap (limit + 1 MiB): refused by grpc-js itself.
  { weight: 1, arbitrary: fc.constant(null).map(() => value('y'.repeat(MAX_MESSAGE_BYTES + 1024 * 1024 + 10))) },
);

const timestampArb = fc.record({
  seconds: fc.bigInt({ min: -62135596800n, max: 253402300799n }),
  nanos: fc.integer({ min: -5, max: 1_000_000_005 }),
});
const nearTimestampArb = fc.integer({ min: -5_000, max: 5_000 }).map((d) => {
  const ms = Date.now() + d;
  return { seconds: BigInt(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1e6 };
});

const messageArb = fc.record(
  {
    payload: payloadArb,
    binary: fc.uint8Array({ maxLength: 64 }),
    headers: fc.record({
      tenant: fc.oneof(fc.constantFrom('', '', '', 't1', 't2', 'other'), fc.string({ maxLength: 10 })),
      topic: fc.string({ maxLength: 20 }),
      priority: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
    }),
    traceId: traceIdArb,
    ts: timestampArb,
    deadline: fc.oneof(timestampArb, nearTimestampArb),
    meta: fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<JsonValue>, { maxKeys: 80 }).map((m) => ({ ...m })),
  },
  { requiredKeys: [] },
);

const metadataArb = fc.record({
  auth: fc.oneof(
    { weight: 16, arbitrary: fc.constantFrom('t1', 't2', 't3') },
    { weight: 1, arbitrary: fc.constantFrom('expired', 'forged', 'none') },
    { weight: 1, arbitrary: fc.stringMatching(/^[ -~]{0,60}$/).map((s) => `raw:${s}`) },
  ),
  extra: fc.dictionary(
    fc.stringMatching(/^[a-z0-9-]{1,16}$/).map((k) => `x-${k}`).filter((k) => !k.endsWith('-bin')),
    fc.stringMatching(/^[ -~]{0,80}$/).map((s) => s.trim()),
    { maxKeys: 4 },
  ),
});

type FuzzCase =
  | { kind: 'typed'; method: UnaryRpc | StreamRpc; request: Record<string, unknown>; md: { auth: string; extra: Record<string, string> }; timeoutMs: number }
  | { kind: 'raw'; method: UnaryRpc | StreamRpc; body: Uint8Array; md: { auth: string; extra: Record<string, string> }; timeoutMs: number };

const METHODS = ['Emit', 'Call', 'CallStream', 'Fetch', 'StreamTrace', 'Cancel', 'SubscribeEvents', 'GetHistory', 'ListFlows'] as const;
const STREAMS: ReadonlySet<string> = new Set(['CallStream', 'StreamTrace', 'SubscribeEvents']);

const requestArb = (method: (typeof METHODS)[number]): fc.Arbitrary<Record<string, unknown>> => {
  switch (method) {
    case 'Emit':
    case 'Call':
    case 'CallStream':
      return fc.record({ flow: flowArb, message: messageArb, idempotencyKey: fc.option(fc.string({ maxLength: 300 }), { nil: undefined }) }, { requiredKeys: ['flow'] });
    case 'Fetch':
    case 'StreamTrace':
    case 'Cancel':
    case 'GetHistory':
      return fc.record({ flow: flowArb, traceId: traceIdArb });
    case 'SubscribeEvents':
      return fc.record({
        flow: fc.oneof(fc.constant(''), flowArb),
        traceIds: fc.array(traceIdArb, { maxLength: 4 }),
        eventTypes: fc.array(fc.oneof(fc.constantFrom(...FLOW_EVENT_TYPES), fc.string({ maxLength: 12 })), { maxLength: 3 }),
        afterSeq: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
      });
    case 'ListFlows':
      return fc.constant({});
  }
};

function varint(n: number): Buffer {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return Buffer.from(out);
}

/**
 * EmitRequest { flow: "echo", message { payload: [[[...["x"]...]]] } } nested
 * `depth` lists deep, encoded by hand (protobuf-es' own encoder overflows
 * its stack long before such depths).
 */
function deepEmitBody(depth: number): Buffer {
  // Every layer is a prefix (tag + length) of the next, so collect the
  // prefixes inside out and join once: linear, not quadratic, in depth.
  const leaf = Buffer.from([0x1a, 1, 0x78]); // Value.string_value = 3: "x"
  const prefixes: Buffer[] = [];
  let size = leaf.length;
  for (let i = 0; i < depth; i++) {
    const list = Buffer.concat([Buffer.from([0x0a]), varint(size)]); // ListValue.values = 1
    size += list.length;
    const val = Buffer.concat([Buffer.from([0x32]), varint(size)]); // Value.list_value = 6
    size += val.length;
    prefixes.push(list, val);
  }
  const value = Buffer.concat([...prefixes.reverse(), leaf]);
  const message = Buffer.concat([Buffer.from([0x0a]), varint(value.length), value]); // Message.payload = 1
  return Buffer.concat([Buffer.from([0x0a, 4]), Buffer.from('echo'), Buffer.from([0x12]), varint(message.length), message]);
}

/** Valid-looking protobuf with invalid UTF-8 in a string field, absurdly deep nesting, or plain garbage. */
const rawBodyArb: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.integer({ min: 500, max: 20_000 }).map((d) => deepEmitBody(d)),
  fc.uint8Array({ maxLength: 200 }),
  fc.uint8Array({ minLength: 1, maxLength: 20 }).map((bad) => {
    // EmitRequest { flow = 1: <invalid UTF-8> }
    const b = Buffer.from([0xc3, 0x28, 0xff, ...bad]);
    return Buffer.concat([Buffer.from([0x0a, b.length]), b]);
  }),
  fc.uint8Array({ minLength: 1, maxLength: 20 }).map((bad) => {
    // EmitRequest { flow = "echo", message = 2: { trace_id = 4: <invalid UTF-8>, headers = 3: { tenant = 1: <invalid> } } }
    const id = Buffer.from([0xed, 0xa0, 0x80, ...bad]);
    const headers = Buffer.concat([Buffer.from([0x0a, 2, 0xfe, 0xfe])]);
    const msg = Buffer.concat([Buffer.from([0x22, id.length]), id, Buffer.from([0x1a, headers.length]), headers]);
    const head = toBinary(EmitRequestSchema, create(EmitRequestSchema, { flow: 'echo' }));
    return Buffer.concat([Buffer.from(head), Buffer.from([0x12, msg.length]), msg]);
  }),
);

const caseArb: fc.Arbitrary<FuzzCase> = fc.constantFrom(...METHODS).chain((method) =>
  fc.oneof(
    { weight: 9, arbitrary: fc.record({ kind: fc.constant('typed' as const), method: fc.constant(method), request: requestArb(method), md: metadataArb, timeoutMs: fc.integer({ min: 30, max: 250 }) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('raw' as const), method: fc.constant(method), body: rawBodyArb, md: metadataArb, timeoutMs: fc.integer({ min: 30, max: 250 }) }) },
  ),
);

/* ------------------------------------------------------------------ running */

function metadataOf(md: { auth: string; extra: Record<string, string> }): Record<string, string> {
  const out: Record<string, string> = { ...md.extra };
  if (md.auth.startsWith('raw:')) out.authorization = md.auth.slice(4);
  else if (md.auth !== 'none') out.authorization = `Bearer ${tokens[md.auth]}`;
  return out;
}

interface Outcome {
  code: grpc.status;
  details: string;
}

/**
 * Cases per connection. Short deadlines make the client reset thousands of
 * streams; nghttp2's rapid-reset protection (CVE-2023-44487) rightly closes
 * a connection that resets streams that fast, which would fail every call
 * on it. Real clients spread over connections too, so the fuzz does.
 */
const CASES_PER_CONNECTION = 300;
const pool = new Map<number, TestClient>();

function clientFor(index: number): TestClient {
  const slot = Math.floor(index / CASES_PER_CONNECTION);
  let c = pool.get(slot);
  if (c === undefined) {
    c = new TestClient(address, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 });
    pool.set(slot, c);
  }
  return c;
}

async function runCase(c: FuzzCase, client: TestClient): Promise<Outcome> {
  const opts: CallOptions = { metadata: metadataOf(c.md), timeoutMs: c.timeoutMs };
  if (c.kind === 'raw') {
    const { metadata } = TestClient.options(opts);
    const path = `/penguiflow.v1.FlowService/${c.method}`;
    if (STREAMS.has(c.method)) return { code: (await rawStream(client.raw, path, Buffer.from(c.body), metadata, c.timeoutMs)).code, details: 'raw' };
    return { code: (await rawUnary(client.raw, path, Buffer.from(c.body), metadata, c.timeoutMs)).code, details: 'raw' };
  }
  if (STREAMS.has(c.method)) {
    const r = await client.collect(c.method as StreamRpc, c.request, opts);
    return { code: r.error?.code ?? grpc.status.OK, details: String(r.error?.details) };
  }
  try {
    await client.unary(c.method as UnaryRpc, c.request, opts);
    return { code: grpc.status.OK, details: '' };
  } catch (err) {
    const e = err as grpc.ServiceError;
    return { code: e.code, details: String(e.details ?? e.message) };
  }
}

describe('fuzz against a live server process', () => {
  it(`answers ${FUZZ_RUNS} generated requests with statuses from the table, and stays up`, async () => {
    const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
    console.log(`fuzz: seed ${seed}`);
    // Generated in chunks as the run goes, so at most a few chunks of
    // (sometimes megabyte-sized) requests are in memory at once.
    const CHUNK = 250;
    let genMs = 0;
    const chunks = new Map<number, { cases: FuzzCase[]; left: number }>();
    const caseAt = (index: number): FuzzCase => {
      const n = Math.floor(index / CHUNK);
      let chunk = chunks.get(n);
      if (chunk === undefined) {
        const tg = Date.now();
        chunk = { cases: fc.sample(caseArb, { numRuns: CHUNK, seed: seed + n }), left: CHUNK };
        genMs += Date.now() - tg;
        chunks.set(n, chunk);
      }
      if (--chunk.left === 0) chunks.delete(n);
      return chunk.cases[index % CHUNK]!;
    };
    const counts = new Map<grpc.status, number>();
    const bad: { method: string; kind: string; code: grpc.status; details: string }[] = [];
    let next = 0;
    const t0 = Date.now();
    const worker = async (): Promise<void> => {
      while (next < FUZZ_RUNS) {
        const index = next++;
        const c = caseAt(index);
        const { code, details } = await runCase(c, clientFor(index));
        counts.set(code, (counts.get(code) ?? 0) + 1);
        if (!ALLOWED.has(code)) {
          bad.push({ method: c.method, kind: c.kind, code, details: details.slice(0, 200) });
          if (process.env.FUZZ_DEBUG !== undefined && bad.length === 1) console.log('FIRSTBAD', code, details, JSON.stringify(c, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : typeof v === 'string' && v.length > 300 ? `<${v.length} chars>` : v)).slice(0, 3000));
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    for (const c of pool.values()) c.close();
    const total = [...counts.values()].reduce((a, b) => a + b, 0);
    const summary = [...counts.entries()].map(([code, n]) => `${grpc.status[code]}=${n}`).join(' ');
    console.log(`fuzz: ${total} requests in ${Date.now() - t0} ms (seed ${seed}; ${genMs} ms generating): ${summary}`);
    if (process.env.FUZZ_DEBUG !== undefined) console.log('SERVERLOG', logs.split('\n').filter((l) => !l.includes('"level":20') && !l.includes('"level":30')).slice(0, 30).join('\n').slice(0, 5000));
    expect(total).toBeGreaterThanOrEqual(FUZZ_RUNS);
    expect(bad.slice(0, 10)).toEqual([]);
    expect(child.exitCode).toBeNull();
    expect(await healthServing(client.raw)).toBe(true);
    // And it still does real work.
    const res = await client.unary('Call', { flow: 'echo', message: { payload: value('alive') } }, { metadata: bearer(tokens.t1!), timeoutMs: 5000 });
    expect(res.result.case).toBe('output');
    expect(logs).not.toMatch(/"level":(50|60)[^\n]*internal error/);
  }, 120_000);

  it('never writes a canary secret from payloads or tokens to its logs', async () => {
    const valid = await hsToken({ tenant: 't1', note: CANARY, aud: undefined, iss: undefined });
    const badTokens = [
      await hsToken({ tenant: 't1', note: CANARY }, { expSeconds: -3600 }),
      await hsToken({ tenant: 't1', note: CANARY }, { secret: `${CANARY}-forged-secret-0123456789abcdef` }),
      await hsToken({ tenant: `${CANARY}!`, aud: undefined, iss: undefined }),
      CANARY,
      `${CANARY}.${CANARY}.${CANARY}`,
    ];
    const md = bearer(valid);
    const secretPayload = { secret: CANARY, nested: { list: [CANARY] } };
    const calls: Promise<unknown>[] = [];
    for (const flow of ['echo', 'stream', 'fanout', 'flaky', 'chain5', 'nope']) {
      const message = { payload: value({ ...secretPayload, failures: 10 }), meta: { canary: CANARY } };
      calls.push(client.unary('Call', { flow, message }, { metadata: md, timeoutMs: 3000 }));
      calls.push(client.unary('Emit', { flow, message: { binary: Buffer.from(CANARY), meta: { k: CANARY } } }, { metadata: md, timeoutMs: 3000 }));
      calls.push(client.collect('CallStream', { flow, message }, { metadata: md, timeoutMs: 3000 }));
    }
    // Rejected payloads: too deep, too large, foreign tenant header.
    calls.push(client.unary('Emit', { flow: 'echo', message: { payload: nested(100, CANARY) } }, { metadata: md }));
    calls.push(client.unary('Emit', { flow: 'echo', message: { payload: value(CANARY.repeat(5000)) } }, { metadata: md }));
    calls.push(client.unary('Emit', { flow: 'echo', message: { payload: value(CANARY), headers: { tenant: 't2' } } }, { metadata: md }));
    for (const t of badTokens) calls.push(client.unary('Call', { flow: 'echo', message: { payload: value(CANARY) } }, { metadata: bearer(t), timeoutMs: 3000 }));
    await Promise.allSettled(calls);
    // Each RPC's access line is written before its answer, in order: once the
    // line of one more RPC arrives, the lines of all of the above have too.
    const marks = (): number => logs.split('\n').filter((l) => l.includes('"log":"access"') && l.includes('"method":"ListFlows"')).length;
    const marked = marks();
    await client.unary('ListFlows', {}, { metadata: md, timeoutMs: 3000 });
    await eventually(() => marks() > marked, 10_000);
    expect(logs.length).toBeGreaterThan(1000);
    // Debug logging was on, so the flows' events were logged: the check is not vacuous.
    expect(logs).toContain('node_start');
    expect(logs).not.toContain(CANARY);
    expect(logs).not.toContain(Buffer.from(CANARY).toString('base64'));
    for (const t of badTokens) expect(logs).not.toContain(t.slice(0, 40));
    expect(logs).not.toContain(valid.slice(0, 40));
    expect(logs).not.toContain(TEST_SECRET);
  }, 60_000);
});
