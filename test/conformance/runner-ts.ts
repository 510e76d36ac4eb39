// Conformance runner for the TypeScript client (@penguiflow/client).
// conformance-runner: {"name": "typescript", "order": 1, "needs": ["node"], "command": ["node_modules/.bin/tsx", "test/conformance/runner-ts.ts", "{target}"]}
//
//   npx tsx test/conformance/runner-ts.ts <host:port>
//
// Reads test/conformance/cases.json (format: README.md next to this file),
// runs every case against the server at <host:port> through the client's
// public API, prints one line per case and, last, exactly
// `typescript: <n> passed, <m> failed`. Exits 1 on any failure.
//
// Environment: PENGUIFLOW_CONFORMANCE_AUTH (none | header | jwt; default
// none), PENGUIFLOW_CONFORMANCE_JWT_SECRET (jwt mode),
// PENGUIFLOW_CONFORMANCE_JWT_ISSUER / _AUDIENCE (optional claims),
// PENGUIFLOW_CONFORMANCE_CASES (another case file),
// PENGUIFLOW_CONFORMANCE_ONLY (comma-separated case names).
import { createHmac, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createFlowClient, FlowClientError } from '../../clients/typescript/src/index.js';
import type {
  FetchResult,
  FlowClient,
  FlowError,
  FlowEvent,
  FlowInfo,
  FlowMessage,
  JsonValue,
  MessageBody,
  SendOptions,
  StreamChunk,
  TraceUpdate,
} from '../../clients/typescript/src/index.js';

const LANG = 'typescript';
const RUN_ID = randomBytes(3).toString('hex');

type Json = JsonValue;
type Obj = { [key: string]: Json };

interface Identity {
  tenant?: string;
  token?: 'valid' | 'missing' | 'expired' | 'wrong';
  tenantHeader?: string;
}

interface Step extends Obj {
  op: string;
}

interface Case {
  name: string;
  description: string;
  identity?: Identity;
  requires?: { auth?: string[] };
  steps: Step[];
}

interface CaseFile {
  version: number;
  defaults?: { timeoutMs?: number };
  cases: Case[];
}

class CaseError extends Error {}

// ---------------------------------------------------------------- identity

function tenantName(logical: string): string {
  return `${logical}.${LANG}.${RUN_ID}`;
}

function b64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}

function mintJwt(secret: string, claims: Record<string, unknown>): string {
  const head = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const body = b64url(JSON.stringify(claims));
  const sig = createHmac('sha256', secret).update(`${head}.${body}`).digest('base64url');
  return `${head}.${body}.${sig}`;
}

interface Settings {
  target: string;
  auth: string;
  secret: string;
  issuer: string | undefined;
  audience: string | undefined;
  defaultTimeoutMs: number;
}

function tokenFor(settings: Settings, identity: Identity): string | undefined {
  const kind = identity.token ?? 'valid';
  if (kind === 'missing') return undefined;
  const now = Math.floor(Date.now() / 1000);
  const claims: Record<string, unknown> = {
    sub: `conformance-${LANG}`,
    tenant: tenantName(identity.tenant ?? 'default'),
    iat: kind === 'expired' ? now - 7200 : now,
    exp: kind === 'expired' ? now - 3600 : now + 3600,
  };
  if (settings.issuer !== undefined) claims.iss = settings.issuer;
  if (settings.audience !== undefined) claims.aud = settings.audience;
  const secret = kind === 'wrong' ? `wrong-${settings.secret}` : settings.secret;
  return mintJwt(secret, claims);
}

const clients = new Map<string, FlowClient>();

function newClient(settings: Settings, identity: Identity): FlowClient {
  const baseUrl = `http://${settings.target}`;
  if (identity.tenantHeader !== undefined) return createFlowClient({ baseUrl, tenant: identity.tenantHeader });
  if (settings.auth === 'jwt') {
    const token = tokenFor(settings, identity);
    return createFlowClient(token === undefined ? { baseUrl } : { baseUrl, token });
  }
  return createFlowClient({ baseUrl, tenant: tenantName(identity.tenant ?? 'default') });
}

function clientFor(settings: Settings, identity: Identity): FlowClient {
  const key = JSON.stringify([identity.tenant, identity.token, identity.tenantHeader]);
  let client = clients.get(key);
  if (client === undefined) {
    client = newClient(settings, identity);
    clients.set(key, client);
  }
  return client;
}

/** A step with `closedClient: true` runs on a fresh client of its identity, closed before the call. */
function closedClientFor(settings: Settings, identity: Identity): FlowClient {
  const client = newClient(settings, identity);
  client.close();
  return client;
}

// ---------------------------------------------------------------- variables

const RESERVED = new Set(['$any', '$nonempty']);
const VERBATIM_KEYS = new Set(['payload', 'meta', 'binary']);

function subst(value: Json, vars: Map<string, Json>): Json {
  if (typeof value === 'string') {
    if (/^\$[A-Za-z_][A-Za-z0-9_]*$/.test(value) && !RESERVED.has(value)) {
      const v = vars.get(value.slice(1));
      if (v === undefined) throw new CaseError(`undefined variable ${value}`);
      return v;
    }
    return value;
  }
  if (Array.isArray(value)) return value.map((v) => subst(v, vars));
  if (value !== null && typeof value === 'object') {
    const out: Obj = {};
    for (const [k, v] of Object.entries(value)) out[k] = VERBATIM_KEYS.has(k) ? v : subst(v, vars);
    return out;
  }
  return value;
}

function pathGet(value: Json, path: string): Json | undefined {
  let cur: Json | undefined = value;
  for (const part of path.split('.')) {
    if (Array.isArray(cur)) cur = cur[Number(part)];
    else if (cur !== null && typeof cur === 'object') cur = cur[part];
    else return undefined;
  }
  return cur;
}

// ---------------------------------------------------------------- matching

function isObj(v: unknown): v is Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Exact JSON equality; object key order is irrelevant, numbers compare by value. */
function jsonEqual(a: Json | undefined, b: Json | undefined): boolean {
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((v, i) => jsonEqual(v, b[i]));
  if (isObj(a)) {
    if (!isObj(b)) return false;
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => Object.hasOwn(b, k) && jsonEqual(a[k], b[k]));
  }
  return a === b;
}

/** Does `actual` match the expectation `pattern`? Returns a description of the first mismatch, or undefined. */
function match(pattern: Json, actual: Json | undefined, path: string): string | undefined {
  const show = (v: Json | undefined): string => (v === undefined ? 'nothing' : JSON.stringify(v));
  if (pattern === '$any') return undefined;
  if (pattern === '$nonempty') return typeof actual === 'string' && actual !== '' ? undefined : `${path}: expected a non-empty string, got ${show(actual)}`;
  if (isObj(pattern) && Object.keys(pattern).length === 1 && ('$contains' in pattern || '$prefix' in pattern)) {
    if (!Array.isArray(actual)) return `${path}: expected an array, got ${show(actual)}`;
    const contains = pattern.$contains;
    if (Array.isArray(contains)) {
      for (const want of contains) if (!actual.some((a) => jsonEqual(want, a))) return `${path}: ${show(want)} missing from ${show(actual)}`;
      return undefined;
    }
    const prefix = pattern.$prefix;
    if (!Array.isArray(prefix)) return `${path}: bad $prefix pattern`;
    if (actual.length < prefix.length || !prefix.every((p, i) => jsonEqual(p, actual[i]))) return `${path}: expected to start with ${show(prefix)}, got ${show(actual)}`;
    return undefined;
  }
  if (isObj(pattern)) {
    if (!isObj(actual)) return `${path}: expected an object, got ${show(actual)}`;
    for (const [k, p] of Object.entries(pattern)) {
      const a = actual[k];
      const where = `${path}.${k}`;
      if (k === 'payload' || k === 'meta') {
        if (!jsonEqual(p, a)) return `${where}: expected ${show(p)}, got ${show(a)}`;
      } else if (k === 'tenant' && typeof p === 'string' && !p.startsWith('$')) {
        if (a !== tenantName(p)) return `${where}: expected tenant ${tenantName(p)}, got ${show(a)}`;
      } else {
        const m = match(p, a, where);
        if (m !== undefined) return m;
      }
    }
    return undefined;
  }
  if (Array.isArray(pattern)) {
    if (!Array.isArray(actual) || actual.length !== pattern.length) return `${path}: expected ${show(pattern)}, got ${show(actual)}`;
    for (let i = 0; i < pattern.length; i++) {
      const m = match(pattern[i]!, actual[i], `${path}[${i}]`);
      if (m !== undefined) return m;
    }
    return undefined;
  }
  return pattern === actual ? undefined : `${path}: expected ${show(pattern)}, got ${show(actual)}`;
}

// ---------------------------------------------------------------- observations

function errorObs(err: unknown): Obj {
  if (!(err instanceof FlowClientError)) throw err;
  return {
    error: err.code,
    reason: err.details.errorInfo?.reason ?? '',
    fieldViolations: err.details.fieldViolations.map((v) => v.field),
    message: err.serverMessage,
    clientSide: err.clientSide,
  };
}

function messageObs(m: FlowMessage): Obj {
  return {
    kind: 'output',
    traceId: m.traceId,
    payload: m.binary !== undefined ? null : (m.payload ?? null),
    binary: m.binary !== undefined ? Buffer.from(m.binary).toString('base64') : null,
    meta: m.meta,
    tenant: m.headers.tenant,
  };
}

function chunkObs(c: StreamChunk): Obj {
  return { kind: 'chunk', streamId: c.streamId, seq: c.seq, text: c.text, done: c.done };
}

function flowErrorObs(e: FlowError): Obj {
  return { kind: 'error', traceId: e.traceId, code: e.code, nodeName: e.nodeName, message: e.message };
}

function fetchObs(r: FetchResult): Obj {
  switch (r.kind) {
    case 'output':
      return messageObs(r.message);
    case 'chunk':
      return chunkObs(r.chunk);
    case 'error':
      return flowErrorObs(r.error);
    case 'end':
      return { kind: 'end', status: r.end.status, errorCode: r.end.error?.code ?? null };
  }
}

function updateObs(u: TraceUpdate): Obj {
  switch (u.kind) {
    case 'output':
      return messageObs(u.message);
    case 'chunk':
      return chunkObs(u.chunk);
    case 'error':
      return flowErrorObs(u.error);
    case 'end':
      return { kind: 'end', status: u.end.status, errorCode: u.end.error?.code ?? null };
  }
}

function streamObs(updates: TraceUpdate[], cancelled: boolean | null): Obj {
  const obs = updates.map(updateObs);
  const chunks = obs.filter((u) => u.kind === 'chunk');
  const end = obs.find((u) => u.kind === 'end');
  const traceIds = updates.map((u) => u.traceId);
  return {
    traceId: traceIds[0] ?? '',
    traceIdsConsistent: traceIds.every((t) => t === traceIds[0] && t !== ''),
    updates: obs,
    kinds: obs.map((u) => u.kind ?? null),
    chunkTexts: chunks.map((c) => c.text ?? null),
    chunkSeqs: chunks.map((c) => c.seq ?? null),
    chunkDone: chunks.map((c) => c.done ?? null),
    outputs: obs.filter((u) => u.kind === 'output').map((u) => u.payload ?? null),
    end: end?.status ?? null,
    lastKind: obs.at(-1)?.kind ?? null,
    cancelled,
  };
}

function eventsObs(events: FlowEvent[]): Obj {
  const seqs = events.map((e) => e.seq);
  return {
    events: events.map((e) => ({ eventType: e.eventType, seq: e.seq, nodeName: e.nodeName, traceId: e.traceId, flow: e.flow, tenant: e.tenant, attempt: e.attempt })),
    eventTypes: events.map((e) => e.eventType),
    seqs,
    lastSeq: seqs.at(-1) ?? null,
    seqsContiguous: seqs.every((s, i) => i === 0 || s === seqs[i - 1]! + 1),
  };
}

function flowsObs(flows: FlowInfo[]): Obj {
  const names = flows.map((f) => f.name);
  const byName: Obj = {};
  for (const f of flows) {
    byName[f.name] = {
      nodes: f.nodes.map((n) => n.name),
      ingress: f.ingress,
      egress: f.egress,
      edges: f.edges.map((e) => `${e.source}->${e.target}`),
    };
  }
  return { flowNames: names, flowNamesSorted: names.every((n, i) => i === 0 || names[i - 1]! <= n), flows: byName };
}

// ---------------------------------------------------------------- steps

function str(step: Step, key: string): string {
  const v = step[key];
  if (typeof v !== 'string') throw new CaseError(`step ${step.op}: "${key}" must be a string`);
  return v;
}

function optStr(step: Step, key: string): string | undefined {
  const v = step[key];
  return v === undefined ? undefined : str(step, key);
}

function optNum(step: Step, key: string): number | undefined {
  const v = step[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'number') throw new CaseError(`step ${step.op}: "${key}" must be a number`);
  return v;
}

function body(step: Step): MessageBody {
  const bin = step.binary;
  if (typeof bin === 'string') return new Uint8Array(Buffer.from(bin, 'base64'));
  return step.payload ?? null;
}

function sendOptions(step: Step, timeoutMs: number): SendOptions {
  const opts: SendOptions = { timeoutMs };
  const traceId = optStr(step, 'traceId');
  if (traceId !== undefined) opts.traceId = traceId;
  const key = optStr(step, 'idempotencyKey');
  if (key !== undefined) opts.idempotencyKey = key;
  const tenant = optStr(step, 'headersTenant');
  if (tenant !== undefined) opts.tenant = tenantName(tenant);
  if (isObj(step.meta)) opts.meta = step.meta;
  return opts;
}

async function collectStream(
  client: FlowClient,
  step: Step,
  flow: string,
  knownTraceId: string | undefined,
  open: (signal: AbortSignal) => AsyncIterable<TraceUpdate>,
): Promise<Obj> {
  const updates: TraceUpdate[] = [];
  let cancelled: boolean | null = null;
  let pendingCancel: Promise<void> | undefined;
  const afterUpdates = optNum(step, 'cancelAfterUpdates');
  const afterMs = optNum(step, 'cancelAfterMs');
  const ac = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  if (afterMs !== undefined) {
    if (knownTraceId === undefined) throw new CaseError('cancelAfterMs needs a traceId on the step');
    timer = setTimeout(() => {
      pendingCancel = client.cancel(flow, knownTraceId, { timeoutMs: 5000 }).then((c) => {
        cancelled = c;
      });
    }, afterMs);
  }
  try {
    for await (const u of open(ac.signal)) {
      updates.push(u);
      if (afterUpdates !== undefined && updates.length === afterUpdates) cancelled = await client.cancel(flow, u.traceId, { timeoutMs: 5000 });
    }
  } catch (err) {
    return errorObs(err);
  } finally {
    if (timer !== undefined) clearTimeout(timer);
    if (pendingCancel !== undefined) await pendingCancel;
  }
  return streamObs(updates, cancelled);
}

async function runStep(settings: Settings, identity: Identity, step: Step): Promise<Obj | null> {
  const timeoutMs = optNum(step, 'timeoutMs') ?? settings.defaultTimeoutMs;
  if (step.op === 'sleep') {
    await new Promise((r) => setTimeout(r, optNum(step, 'ms') ?? 0));
    return null;
  }
  const client = step.closedClient === true ? closedClientFor(settings, identity) : clientFor(settings, identity);
  const flow = step.flow === undefined ? '' : str(step, 'flow');
  try {
    switch (step.op) {
      case 'emit': {
        const r = await client.emit(flow, body(step), sendOptions(step, timeoutMs));
        return { traceId: r.traceId, deduplicated: r.deduplicated };
      }
      case 'fetch':
        return fetchObs(await client.fetch(flow, str(step, 'traceId'), { timeoutMs }));
      case 'call': {
        const r = await client.call(flow, body(step), sendOptions(step, timeoutMs));
        if (r.kind === 'output') return { ...messageObs(r.message), traceId: r.traceId };
        if (r.kind === 'error') return { ...flowErrorObs(r.error), traceId: r.traceId };
        return { kind: 'none', traceId: r.traceId };
      }
      case 'callStream': {
        const opts = sendOptions(step, timeoutMs);
        return await collectStream(client, step, flow, opts.traceId, (signal) => client.callStream(flow, body(step), { ...opts, signal }));
      }
      case 'streamTrace': {
        const traceId = str(step, 'traceId');
        return await collectStream(client, step, flow, traceId, (signal) => client.streamTrace(flow, traceId, { timeoutMs, signal }));
      }
      case 'cancel':
        return { cancelled: await client.cancel(flow, str(step, 'traceId'), { timeoutMs }) };
      case 'subscribeEvents': {
        const count = optNum(step, 'count');
        if (count === undefined) throw new CaseError('subscribeEvents needs "count"');
        const afterSeq = optNum(step, 'afterSeq') ?? 0;
        const traceIds = Array.isArray(step.traceIds) ? step.traceIds.map(String) : [];
        const eventTypes = Array.isArray(step.eventTypes) ? step.eventTypes.map(String) : [];
        const events: FlowEvent[] = [];
        const opts = { timeoutMs, afterSeq, traceIds, eventTypes, ...(flow === '' ? {} : { flow }) };
        for await (const e of client.subscribeEvents(opts)) {
          events.push(e);
          if (events.length >= count) break;
        }
        return eventsObs(events);
      }
      case 'getHistory':
        return eventsObs(await client.getHistory(flow, str(step, 'traceId'), { timeoutMs }));
      case 'listFlows':
        return flowsObs(await client.listFlows({ timeoutMs }));
      default:
        throw new CaseError(`unknown op ${JSON.stringify(step.op)}`);
    }
  } catch (err) {
    if (err instanceof CaseError) throw err;
    return errorObs(err);
  }
}

async function runCase(settings: Settings, c: Case): Promise<string | undefined> {
  const vars = new Map<string, Json>();
  for (const [i, raw] of c.steps.entries()) {
    const step = subst(raw, vars) as Step;
    const identity = (isObj(step.identity) ? step.identity : (c.identity ?? {})) as Identity;
    const obs = await runStep(settings, identity, step);
    const label = `step ${i + 1} (${step.op})`;
    if (obs === null) continue;
    const expect = step.expect;
    if (expect === undefined) {
      if ('error' in obs) return `${label}: unexpected error ${JSON.stringify(obs)}`;
    } else {
      const m = match(expect, obs, 'result');
      if (m !== undefined) return `${label}: ${m}`;
    }
    if (isObj(step.save)) {
      for (const [name, path] of Object.entries(step.save)) {
        if (typeof path !== 'string') throw new CaseError(`${label}: save paths must be strings`);
        const v = pathGet(obs, path);
        if (v === undefined) return `${label}: cannot save ${name}: no ${path} in ${JSON.stringify(obs)}`;
        vars.set(name, v);
      }
    }
  }
  return undefined;
}

async function main(): Promise<number> {
  const target = process.argv[2] ?? process.env.PENGUIFLOW_TARGET;
  if (target === undefined || target === '') {
    console.error('usage: runner-ts.ts <host:port>  (or set PENGUIFLOW_TARGET)');
    return 2;
  }
  const here = dirname(fileURLToPath(import.meta.url));
  const file = JSON.parse(readFileSync(process.env.PENGUIFLOW_CONFORMANCE_CASES ?? join(here, 'cases.json'), 'utf8')) as CaseFile;
  const auth = process.env.PENGUIFLOW_CONFORMANCE_AUTH ?? 'none';
  const settings: Settings = {
    target,
    auth,
    secret: process.env.PENGUIFLOW_CONFORMANCE_JWT_SECRET ?? '',
    issuer: process.env.PENGUIFLOW_CONFORMANCE_JWT_ISSUER || undefined,
    audience: process.env.PENGUIFLOW_CONFORMANCE_JWT_AUDIENCE || undefined,
    defaultTimeoutMs: file.defaults?.timeoutMs ?? 10_000,
  };
  if (auth === 'jwt' && settings.secret === '') {
    console.error('PENGUIFLOW_CONFORMANCE_AUTH=jwt needs PENGUIFLOW_CONFORMANCE_JWT_SECRET');
    return 2;
  }
  const only = (process.env.PENGUIFLOW_CONFORMANCE_ONLY ?? '').split(',').filter((s) => s !== '');
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  for (const c of file.cases) {
    if (only.length > 0 && !only.includes(c.name)) continue;
    const needs = c.requires?.auth;
    if (needs !== undefined && !needs.includes(auth)) {
      skipped++;
      console.log(`SKIP ${c.name} (requires auth ${needs.join('|')}; running with ${auth})`);
      continue;
    }
    const start = performance.now();
    let problem: string | undefined;
    try {
      problem = await runCase(settings, c);
    } catch (err) {
      problem = `runner error: ${err instanceof Error ? err.message : String(err)}`;
    }
    const ms = Math.round(performance.now() - start);
    if (problem === undefined) {
      passed++;
      console.log(`PASS ${c.name} (${ms} ms)`);
    } else {
      failed++;
      console.log(`FAIL ${c.name} (${ms} ms): ${problem}`);
    }
  }
  for (const client of clients.values()) client.close();
  if (skipped > 0) console.log(`(${skipped} skipped)`);
  console.log(`${LANG}: ${passed} passed, ${failed} failed`);
  return failed === 0 ? 0 : 1;
}

// Exit at once: a stream left early keeps its deadline timer (and the process) alive until the deadline.
process.exit(await main());
