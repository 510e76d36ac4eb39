/**
 * The server on a durable store: GetHistory and SubscribeEvents read the
 * store, resume with after_seq loses nothing (property test), idempotency
 * keys and seq numbering survive a restart, and a store outage degrades to
 * errors and backpressure, never to a hung flow.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SubscribeEventsResponse } from '../../src/gen/penguiflow/v1/flow_service_pb.js';
import { createLogger } from '../../src/observability/logger.js';
import { StoreEventLog } from '../../src/host/store-event-log.js';
import { MemoryStateStore, type WriteBatch } from '../../src/state/index.js';
import { grpcError, type TestClient } from './helpers/client.js';
import { eventually, startHarness, value, type Harness } from './helpers/harness.js';

const dir = mkdtempSync(join(tmpdir(), 'penguiflow-state-it-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ store: `sqlite:${join(dir, 'main.db')}` });
});
afterAll(async () => {
  await h.stop();
});

function log(server: Harness): StoreEventLog {
  const l = server.server.eventLog;
  if (!(l instanceof StoreEventLog)) throw new Error('expected a StoreEventLog');
  return l;
}

interface Seen {
  seq: number;
  type: string;
  node: string;
}

/** Subscribes to one trace from `afterSeq`; stops (cancels) after `stopAfter` events, or when `done()` says so. */
function subscribeTrace(client: TestClient, traceId: string, afterSeq: number, stopAfter: number, total: () => number | undefined): Promise<Seen[]> {
  const call = client.stream('SubscribeEvents', { flow: 'chain5', traceIds: [traceId], afterSeq: BigInt(afterSeq) }, { timeoutMs: 20_000 });
  const got: Seen[] = [];
  return new Promise((resolve, reject) => {
    let finished = false;
    const finish = (): void => {
      if (finished) return;
      finished = true;
      call.cancel();
      resolve(got);
    };
    call.on('data', (m: SubscribeEventsResponse) => {
      if (finished || m.event === undefined) return;
      got.push({ seq: Number(m.event.seq), type: m.event.eventType, node: m.event.nodeName });
      const t = total();
      if (got.length >= stopAfter || (t !== undefined && afterSeq + got.length >= t)) finish();
    });
    const poll = setInterval(() => {
      const t = total();
      if (t !== undefined && (got.at(-1)?.seq ?? afterSeq) >= t) {
        clearInterval(poll);
        finish();
      }
    }, 5);
    call.on('error', (e: grpc.ServiceError) => {
      clearInterval(poll);
      if (finished || e.code === grpc.status.CANCELLED) finish();
      else reject(e);
    });
    call.on('end', () => {
      clearInterval(poll);
      finish();
    });
  });
}

let traceNo = 0;

describe('GetHistory on the SQLite store', () => {
  it('returns the trace\'s events in seq order, from the store once written, tenant-scoped', async () => {
    const res = await h.client.unary('Call', { flow: 'chain5', message: { payload: value(1) } }, { tenant: 'hist', timeoutMs: 5000 });
    // Immediately (events may still be in the write buffer) and after the flush: the same answer.
    const first = await h.client.unary('GetHistory', { flow: 'chain5', traceId: res.traceId }, { tenant: 'hist' });
    await log(h).writer.flush();
    const { events } = await h.client.unary('GetHistory', { flow: 'chain5', traceId: res.traceId }, { tenant: 'hist' });
    expect(events.map((e) => Number(e.seq))).toEqual(Array.from({ length: 10 }, (_, i) => i + 1));
    expect(first.events.map((e) => Number(e.seq))).toEqual(events.map((e) => Number(e.seq)));
    expect(events.map((e) => `${e.eventType}:${e.nodeName}`)).toEqual([1, 2, 3, 4, 5].flatMap((i) => [`node_start:hop${i}`, `node_success:hop${i}`]));
    for (const e of events) expect(e).toMatchObject({ flow: 'chain5', tenant: 'hist', traceId: res.traceId, queueMaxsize: 64 });
    expect(events[1]?.latencyMs).toBeGreaterThanOrEqual(0);
    expect(events[0]?.latencyMs).toBeUndefined();
    const stored = await log(h).store.eventsAfter('hist', res.traceId, 0);
    expect(stored.map((e) => e.seq)).toEqual(Array.from({ length: 10 }, (_, i) => i + 1));
    expect((await log(h).store.getTrace('hist', res.traceId))?.status).toBe('COMPLETED');
    expect((await grpcError(h.client.unary('GetHistory', { flow: 'chain5', traceId: res.traceId }, { tenant: 'intruder' }))).code).toBe(grpc.status.NOT_FOUND);
  });

  it('answers from the store alone once the server forgot the trace', async () => {
    const res = await h.client.unary('Call', { flow: 'flaky', message: { payload: value({ failures: 9 }) } }, { timeoutMs: 5000 });
    await log(h).writer.flush();
    const before = await h.client.unary('GetHistory', { flow: 'flaky', traceId: res.traceId });
    log(h).sweep(Date.now() + 3_600_000);
    h.server.flows.sweep(Date.now() + 3_600_000);
    const after = await h.client.unary('GetHistory', { flow: 'flaky', traceId: res.traceId });
    expect(after.events.map((e) => [Number(e.seq), e.eventType, e.extra])).toEqual(before.events.map((e) => [Number(e.seq), e.eventType, e.extra]));
    expect(after.events.at(-1)?.extra).toMatchObject({ code: 'NODE_EXCEPTION' });
  });
});

describe('SubscribeEvents resume', () => {
  it('property: disconnecting at random points and reconnecting with after_seq yields exactly the uninterrupted stream', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 1, max: 12 }), { minLength: 1, maxLength: 6 }),
        fc.array(fc.integer({ min: 0, max: 1 }), { minLength: 6, maxLength: 6 }),
        fc.integer({ min: 3, max: 6 }),
        async (cuts, pauses, messages) => {
          const traceId = `resume-${process.pid}-${++traceNo}`;
          let total: number | undefined;
          const whole = subscribeTrace(h.client, traceId, 0, Number.MAX_SAFE_INTEGER, () => total);
          // The producer: `messages` Calls into one trace, one after the other (10 events each).
          let produced = 0;
          const producer = (async () => {
            for (let i = 0; i < messages; i++) {
              await h.client.unary('Call', { flow: 'chain5', message: { traceId, payload: value(i) } }, { timeoutMs: 5000 });
              produced++;
            }
            total = messages * 10;
          })();
          const resumed: Seen[] = [];
          let last = 0;
          for (let i = 0; ; i++) {
            const cut = cuts[i] ?? Number.MAX_SAFE_INTEGER;
            const got = await subscribeTrace(h.client, traceId, last, cut, () => total);
            resumed.push(...got);
            last = got.at(-1)?.seq ?? last;
            if (total !== undefined && last >= total) break;
            // Stay disconnected while the producer makes progress (a pause of 0: reconnect at once).
            if (pauses[i % pauses.length]! > 0) {
              const mark = produced;
              await eventually(() => produced > mark || total !== undefined, 5000);
            }
          }
          await producer;
          const full = await whole;
          const expected = Array.from({ length: messages * 10 }, (_, i) => i + 1);
          expect(full.map((e) => e.seq)).toEqual(expected);
          expect(resumed).toEqual(full);
        },
      ),
      { numRuns: 12 },
    );
  }, 120_000);
});

describe('restart on the same SQLite file (in process)', () => {
  it('keeps idempotency keys, trace ownership and continues a re-emitted trace\'s seq', async () => {
    const file = `sqlite:${join(dir, 'restart.db')}`;
    const a = await startHarness({ store: file });
    const first = await a.client.unary('Emit', { flow: 'chain5', message: { payload: value(1) }, idempotencyKey: 'once' }, { tenant: 'acme' });
    expect(first.deduplicated).toBe(false);
    await a.client.unary('Call', { flow: 'chain5', message: { traceId: 'rerun', payload: value(1) } }, { tenant: 'acme', timeoutMs: 5000 });
    await eventually(async () => (await a.client.unary('GetHistory', { flow: 'chain5', traceId: first.traceId }, { tenant: 'acme' })).events.length === 10);
    await a.stop();

    const b = await startHarness({ store: file });
    try {
      const again = await b.client.unary('Emit', { flow: 'chain5', message: { payload: value(2) }, idempotencyKey: 'once' }, { tenant: 'acme' });
      expect(again).toMatchObject({ traceId: first.traceId, deduplicated: true });
      // Another tenant's same key is its own.
      const other = await b.client.unary('Emit', { flow: 'chain5', message: { payload: value(2) }, idempotencyKey: 'once' }, { tenant: 'zeta' });
      expect(other.deduplicated).toBe(false);
      const { events } = await b.client.unary('GetHistory', { flow: 'chain5', traceId: first.traceId }, { tenant: 'acme' });
      expect(events.map((e) => Number(e.seq))).toEqual(Array.from({ length: 10 }, (_, i) => i + 1));
      expect((await grpcError(b.client.unary('GetHistory', { flow: 'chain5', traceId: first.traceId }, { tenant: 'zeta' }))).code).toBe(grpc.status.NOT_FOUND);
      await b.client.unary('Call', { flow: 'chain5', message: { traceId: 'rerun', payload: value(2) } }, { tenant: 'acme', timeoutMs: 5000 });
      await log(b).writer.flush();
      const rerun = await b.client.unary('GetHistory', { flow: 'chain5', traceId: 'rerun' }, { tenant: 'acme' });
      expect(rerun.events.map((e) => Number(e.seq))).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    } finally {
      await b.stop();
    }
  });
});

/** A store whose writes fail while `down` is set. */
class FlakyStore extends MemoryStateStore {
  down = false;
  override write(batch: WriteBatch): Promise<void> {
    return this.down ? Promise.reject(new Error('store down')) : super.write(batch);
  }
  override ping(): Promise<void> {
    return this.down ? Promise.reject(new Error('store down')) : super.ping();
  }
}

describe('store outage', () => {
  it('flows keep running, readiness fails, new work gets RESOURCE_EXHAUSTED when the buffer is full, and nothing is lost after recovery', async () => {
    const store = new FlakyStore();
    const eventLog = new StoreEventLog({
      store,
      logger: createLogger({ level: 'silent' }),
      retentionMs: 60_000,
      maxReleasedTraces: 1000,
      historyRetentionMs: 0,
      idempotencyRetentionMs: 60_000,
      writer: { capacity: 40, hardCapacity: 1000, maxBackoffMs: 50 },
    });
    const s = await startHarness({ admissionWaitMs: 300 }, { eventLog });
    try {
      store.down = true;
      const ok = await s.client.unary('Call', { flow: 'chain5', message: { payload: value(1) } }, { timeoutMs: 3000 });
      expect(ok.result.case).toBe('output');
      await expect(eventLog.ping()).rejects.toThrow(/store/);
      const readyz = async (): Promise<number> => (await fetch(`http://127.0.0.1:${s.server.opsPort}/readyz`)).status;
      await eventually(async () => (await readyz()) === 503, 6000);
      // Fill the buffer past its capacity: further admissions wait, then fail explicitly.
      let refused: grpc.ServiceError | undefined;
      let admitted = 1;
      for (let i = 0; i < 10 && refused === undefined; i++) {
        try {
          await s.client.unary('Call', { flow: 'chain5', message: { payload: value(i) } }, { timeoutMs: 3000 });
          admitted++;
        } catch (e) {
          refused = e as grpc.ServiceError;
        }
      }
      // 12 buffered items per trace (10 events, 2 trace rows) against a capacity of 40.
      expect(admitted).toBe(4);
      expect(refused?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
      // History is still served (from the buffer) during the outage.
      const hist = await s.client.unary('GetHistory', { flow: 'chain5', traceId: ok.traceId });
      expect(hist.events).toHaveLength(10);
      store.down = false;
      await eventually(() => eventLog.writer.pending === 0, 5000);
      await expect(eventLog.ping()).resolves.toBeUndefined();
      await eventually(async () => (await readyz()) === 200, 6000);
      expect((await store.eventsAfter('default', ok.traceId, 0)).length).toBe(10);
      expect(eventLog.writer.dropped).toBe(0);
      const after = await s.client.unary('Call', { flow: 'chain5', message: { payload: value(10) } }, { timeoutMs: 3000 });
      expect(after.result.case).toBe('output');
    } finally {
      await s.stop();
      await eventLog.close();
    }
  });
});
