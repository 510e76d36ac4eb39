/**
 * Tenant isolation matrix: every RPC × {own, foreign, unknown trace} × auth
 * modes jwt and header, over a real server and real sockets. A foreign
 * trace must be indistinguishable from an unknown one: same code, same
 * details, same google.rpc.Status and trailers (the trace id aside).
 */
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CallOptions, TestClient } from './helpers/client.js';
import { grpcError } from './helpers/client.js';
import { eventually, payloadOf, startHarness, subscribersOf, value, type Harness } from './helpers/harness.js';
import { bearer, hsToken, observableError, TEST_AUDIENCE, TEST_ISSUER, TEST_SECRET } from './helpers/security.js';

type Mode = 'jwt' | 'header';
const OWNER = 'owner-co';
const INTRUDER = 'intruder-co';

describe.each<Mode>(['jwt', 'header'])('isolation matrix, auth mode %s', (mode) => {
  let h: Harness;
  let c: TestClient;
  const creds = new Map<string, Record<string, string>>();
  const as = (tenant: string, extra: Omit<CallOptions, 'metadata' | 'tenant'> = {}): CallOptions => ({ ...extra, metadata: creds.get(tenant)! });
  /** The owner's long-running trace that every foreign probe targets. */
  const FOREIGN = `foreign-${mode}`;
  const unknownId = (): string => `unknown-${mode}-${Math.random().toString(36).slice(2, 10)}`;

  beforeAll(async () => {
    h = await startHarness({ auth: mode, jwtSecret: TEST_SECRET, jwtIssuer: TEST_ISSUER, jwtAudience: TEST_AUDIENCE });
    c = h.client;
    for (const tenant of [OWNER, INTRUDER]) {
      creds.set(tenant, mode === 'jwt' ? bearer(await hsToken({ tenant })) : { 'x-tenant-id': tenant });
    }
    // Long enough to outlive the matrix; cancelled at the end.
    await c.unary('Emit', { flow: 'slow', message: { traceId: FOREIGN, payload: value({ ms: 60_000 }) } }, as(OWNER));
  });
  afterAll(async () => {
    await h.stop();
  });

  /** Emits and finishes an echo trace of `tenant`; returns its id. */
  async function ownTrace(tenant: string): Promise<string> {
    const res = await c.unary('Call', { flow: 'echo', message: { payload: value({ who: tenant }) } }, as(tenant, { timeoutMs: 5000 }));
    return res.traceId;
  }

  /** The probes of the read-side RPCs, all as the intruder, against `flow`/`id`. */
  const readProbes: Record<string, (flow: string, id: string) => Promise<grpc.ServiceError | undefined>> = {
    Fetch: (flow, id) => grpcError(c.unary('Fetch', { flow, traceId: id }, as(INTRUDER, { timeoutMs: 3000 }))),
    Cancel: (flow, id) => grpcError(c.unary('Cancel', { flow, traceId: id }, as(INTRUDER, { timeoutMs: 3000 }))),
    GetHistory: (flow, id) => grpcError(c.unary('GetHistory', { flow, traceId: id }, as(INTRUDER, { timeoutMs: 3000 }))),
    StreamTrace: async (flow, id) => (await c.collect('StreamTrace', { flow, traceId: id }, as(INTRUDER, { timeoutMs: 3000 }))).error,
  };

  describe.each(Object.keys(readProbes))('%s', (rpc) => {
    it('own trace: answers', async () => {
      const id = await ownTrace(INTRUDER);
      switch (rpc) {
        case 'Fetch': {
          const res = await c.unary('Fetch', { flow: 'echo', traceId: id }, as(INTRUDER, { timeoutMs: 3000 }));
          expect(res.result.case).toBe('end');
          break;
        }
        case 'Cancel':
          expect((await c.unary('Cancel', { flow: 'echo', traceId: id }, as(INTRUDER))).cancelled).toBe(false);
          break;
        case 'GetHistory':
          expect((await c.unary('GetHistory', { flow: 'echo', traceId: id }, as(INTRUDER))).events.length).toBeGreaterThan(0);
          break;
        case 'StreamTrace': {
          const r = await c.collect('StreamTrace', { flow: 'echo', traceId: id }, as(INTRUDER, { timeoutMs: 3000 }));
          expect(r.error).toBeUndefined();
          expect(r.items.at(-1)?.update?.update.case).toBe('end');
          break;
        }
      }
    });

    it('foreign trace and unknown trace: identical NOT_FOUND', async () => {
      const probe = readProbes[rpc]!;
      const foreign = await probe('slow', FOREIGN);
      const unknown = unknownId();
      const missing = await probe('slow', unknown);
      expect(foreign?.code).toBe(grpc.status.NOT_FOUND);
      expect(missing?.code).toBe(grpc.status.NOT_FOUND);
      expect(observableError(foreign, [FOREIGN])).toBe(observableError(missing, [unknown]));
      // Also indistinguishable from a trace id the intruder owns in another flow.
      const elsewhere = await ownTrace(INTRUDER);
      expect(observableError(await probe('slow', elsewhere), [elsewhere])).toBe(observableError(missing, [unknown]));
    });
  });

  describe.each(['Emit', 'Call', 'CallStream'])('%s', (rpc) => {
    /** Runs `rpc` as `tenant` with `traceId` on echo; returns what the client saw, normalised. */
    async function run(tenant: string, traceId: string): Promise<unknown> {
      const message = { traceId, payload: value({ who: tenant }) };
      if (rpc === 'Emit') {
        const res = await c.unary('Emit', { flow: 'echo', message }, as(tenant, { timeoutMs: 5000 }));
        const out = await c.unary('Fetch', { flow: 'echo', traceId }, as(tenant, { timeoutMs: 5000 }));
        return { traceId: res.traceId === traceId, deduplicated: res.deduplicated, output: out.result.case === 'output' ? [payloadOf(out.result.value), out.result.value.headers?.tenant] : out.result.case };
      }
      if (rpc === 'Call') {
        const res = await c.unary('Call', { flow: 'echo', message }, as(tenant, { timeoutMs: 5000 }));
        return { traceId: res.traceId === traceId, output: res.result.case === 'output' ? [payloadOf(res.result.value), res.result.value.headers?.tenant] : res.result.case };
      }
      const r = await c.collect('CallStream', { flow: 'echo', message }, as(tenant, { timeoutMs: 5000 }));
      expect(r.error).toBeUndefined();
      return r.items.map((i) => (i.update?.update.case === 'output' ? [payloadOf(i.update.update.value), i.update.update.value.headers?.tenant] : i.update?.update.case));
    }

    it('own, foreign and unknown trace ids: each runs in the caller\'s own tenant, and the owner is undisturbed', async () => {
      const own = await ownTrace(INTRUDER);
      const unknown = unknownId();
      const foreignEcho = `foreign-echo-${rpc}-${mode}`;
      // The owner has a finished trace with this id in echo, with an unread output.
      await c.unary('Emit', { flow: 'echo', message: { traceId: foreignEcho, payload: value({ who: 'owner-unread' }) } }, as(OWNER));
      const ownResult = await run(INTRUDER, own);
      const foreignResult = await run(INTRUDER, foreignEcho);
      const unknownResult = await run(INTRUDER, unknown);
      expect(foreignResult).toEqual(unknownResult);
      expect(ownResult).toEqual(unknownResult);
      expect(JSON.stringify(foreignResult)).toContain(INTRUDER);
      expect(JSON.stringify(foreignResult)).not.toContain(OWNER);
      // The owner still gets its own output, untouched by the intruder's run.
      const mine = await c.unary('Fetch', { flow: 'echo', traceId: foreignEcho }, as(OWNER, { timeoutMs: 3000 }));
      expect(mine.result.case === 'output' ? payloadOf(mine.result.value) : mine.result.case).toEqual({ who: 'owner-unread' });
    });
  });

  describe('SubscribeEvents', () => {
    it('own trace: replays its history', async () => {
      const id = await ownTrace(INTRUDER);
      const r = await c.collect('SubscribeEvents', { traceIds: [id] }, as(INTRUDER, { timeoutMs: 500 }));
      expect(r.items.length).toBeGreaterThan(0);
      expect(r.items.every((i) => i.event?.tenant === INTRUDER && i.event.traceId === id)).toBe(true);
    });

    it('foreign and unknown trace: nothing, and the same ending', async () => {
      const unknown = unknownId();
      const foreign = await c.collect('SubscribeEvents', { traceIds: [FOREIGN] }, as(INTRUDER, { timeoutMs: 400 }));
      const missing = await c.collect('SubscribeEvents', { traceIds: [unknown] }, as(INTRUDER, { timeoutMs: 400 }));
      expect(foreign.items).toEqual([]);
      expect(missing.items).toEqual([]);
      expect(foreign.error?.code).toBe(grpc.status.DEADLINE_EXCEEDED);
      // The deadline ended both streams: the server said nothing either way.
      // Which side's deadline timer fires first is a race (the server's
      // sends a trailers-only response carrying transport headers, the
      // client's does not), so those two headers are left out.
      const transport = new Set(['content-type', 'date', 'grpc-accept-encoding', 'grpc-encoding']);
      const said = (m: grpc.Metadata | undefined): Record<string, unknown> =>
        Object.fromEntries(Object.entries(m?.getMap() ?? {}).filter(([k]) => !transport.has(k)));
      expect(said(foreign.error?.metadata)).toEqual({});
      expect(said(missing.error?.metadata)).toEqual({});
    });

    it('without filters shows only the caller\'s tenant', async () => {
      const intruderStream = c.stream('SubscribeEvents', {}, as(INTRUDER, { timeoutMs: 10_000 }));
      const ownerStream = c.stream('SubscribeEvents', {}, as(OWNER, { timeoutMs: 10_000 }));
      const seen = { [INTRUDER]: new Set<string>(), [OWNER]: new Set<string>() };
      intruderStream.on('data', (e: { event?: { tenant: string } }) => seen[INTRUDER].add(e.event?.tenant ?? '?'));
      ownerStream.on('data', (e: { event?: { tenant: string } }) => seen[OWNER].add(e.event?.tenant ?? '?'));
      const traces = { [INTRUDER]: new Set<string>(), [OWNER]: new Set<string>() };
      intruderStream.on('data', (e: { event?: { traceId: string } }) => traces[INTRUDER].add(e.event?.traceId ?? '?'));
      ownerStream.on('data', (e: { event?: { traceId: string } }) => traces[OWNER].add(e.event?.traceId ?? '?'));
      intruderStream.on('error', () => undefined);
      ownerStream.on('error', () => undefined);
      await eventually(() => subscribersOf(h.server, OWNER) === 1 && subscribersOf(h.server, INTRUDER) === 1, 5000);
      await ownTrace(OWNER);
      await ownTrace(INTRUDER);
      await eventually(() => seen[OWNER].size > 0 && seen[INTRUDER].size > 0, 5000);
      // One more trace each, last: once a stream has it, any foreign event published before it has arrived too.
      const [lastOwner, lastIntruder] = [await ownTrace(OWNER), await ownTrace(INTRUDER)];
      await eventually(() => traces[OWNER].has(lastOwner) && traces[INTRUDER].has(lastIntruder), 5000);
      intruderStream.cancel();
      ownerStream.cancel();
      expect([...seen[INTRUDER]]).toEqual([INTRUDER]);
      expect([...seen[OWNER]]).toEqual([OWNER]);
    });
  });

  it('ListFlows: answers every tenant alike', async () => {
    const a = await c.unary('ListFlows', {}, as(OWNER));
    const b = await c.unary('ListFlows', {}, as(INTRUDER));
    expect(b.flows.map((f) => f.name)).toEqual(a.flows.map((f) => f.name));
  });

  it('Emit with headers.tenant set to another tenant is PERMISSION_DENIED', async () => {
    const err = await grpcError(c.unary('Emit', { flow: 'echo', message: { payload: value(1), headers: { tenant: OWNER } } }, as(INTRUDER)));
    expect(err.code).toBe(grpc.status.PERMISSION_DENIED);
  });

  it('idempotency keys are per tenant', async () => {
    const key = `idem-${mode}`;
    const a = await c.unary('Emit', { flow: 'echo', idempotencyKey: key, message: { traceId: `idem-a-${mode}`, payload: value(1) } }, as(OWNER));
    const b = await c.unary('Emit', { flow: 'echo', idempotencyKey: key, message: { traceId: `idem-b-${mode}`, payload: value(1) } }, as(INTRUDER));
    const again = await c.unary('Emit', { flow: 'echo', idempotencyKey: key, message: { traceId: `idem-c-${mode}`, payload: value(1) } }, as(INTRUDER));
    expect([a.deduplicated, b.deduplicated, again.deduplicated]).toEqual([false, false, true]);
    expect(again.traceId).toBe(`idem-b-${mode}`);
  });

  it('the owner\'s foreign-probed trace kept running and is still the owner\'s to cancel', async () => {
    expect((await c.unary('Cancel', { flow: 'slow', traceId: FOREIGN }, as(OWNER))).cancelled).toBe(true);
  });
});
