/**
 * The contract every ServiceStateStore passes: run by memory.test.ts,
 * sqlite.test.ts and postgres.test.ts against their store.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventRecord, ServiceStateStore, StoredTrace } from '../../../src/state/index.js';
import { WriteBehind } from '../../../src/state/index.js';

/** How a test file provides its store. */
export interface StoreFactory {
  /** A fresh, empty, opened store. */
  open(): Promise<ServiceStateStore>;
  /** The same storage opened again (durable stores only: survives close). */
  reopen?: (previous: ServiceStateStore) => Promise<ServiceStateStore>;
  /** Called once after the suite. */
  teardown?: () => Promise<void>;
}

let uniq = 0;
/** A trace id no other test uses. */
function tid(): string {
  return `t${++uniq}-${Math.random().toString(36).slice(2, 8)}`;
}

function ev(tenant: string, traceId: string, seq: number, extra: Partial<EventRecord> = {}): EventRecord {
  return {
    tenant,
    traceId,
    seq,
    flow: 'chain5',
    ts: 1_000_000 + seq,
    kind: seq % 2 === 1 ? 'node_start' : 'node_success',
    nodeName: `hop${seq}`,
    nodeId: seq % 3 === 0 ? undefined : `id${seq}`,
    payload: { attempt: 0, latencyMs: seq / 3, extra: { note: `é ${seq}`, nested: { ok: true } } },
    ...extra,
  };
}

function row(tenant: string, traceId: string, status: string, at: number, extra: Partial<StoredTrace> = {}): StoredTrace {
  return { tenant, traceId, flow: 'chain5', status, createdAt: at, updatedAt: at, endedAt: status === 'RUNNING' ? undefined : at, ...extra };
}

/** Defines the contract suite for one store. */
export function storeContract(name: string, factory: StoreFactory): void {
  describe(`ServiceStateStore contract: ${name}`, () => {
    let store: ServiceStateStore;
    beforeAll(async () => {
      store = await factory.open();
    });
    afterAll(async () => {
      await store.close();
      await factory.teardown?.();
    });

    it('init is idempotent and ping answers', async () => {
      await store.init();
      await store.init();
      await expect(store.ping()).resolves.toBeUndefined();
    });

    it('stores events and reads them back in seq order after a seq, with every field', async () => {
      const t = tid();
      await store.write({ events: [3, 1, 2, 5, 4].map((s) => ev('acme', t, s)), traces: [] });
      const all = await store.eventsAfter('acme', t, 0);
      expect(all.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
      expect(all[2]).toEqual(ev('acme', t, 3));
      expect(all[0]).toEqual(ev('acme', t, 1));
      expect((await store.eventsAfter('acme', t, 3)).map((e) => e.seq)).toEqual([4, 5]);
      expect((await store.eventsAfter('acme', t, 1, 2)).map((e) => e.seq)).toEqual([2, 3]);
      expect(await store.eventsAfter('acme', t, 5)).toEqual([]);
      expect(await store.lastSeq('acme', t)).toBe(5);
      expect(await store.lastSeq('acme', tid())).toBe(0);
    });

    it('is idempotent: a retried batch and duplicate seqs store each event once (first write wins)', async () => {
      const t = tid();
      const batch = { events: [1, 2, 3].map((s) => ev('acme', t, s)), traces: [row('acme', t, 'RUNNING', 10)] };
      await store.write(batch);
      await store.write(batch);
      await store.write({ events: [ev('acme', t, 2, { kind: 'changed' }), ev('acme', t, 2), ev('acme', t, 4)], traces: [] });
      const all = await store.eventsAfter('acme', t, 0);
      expect(all.map((e) => `${e.seq}:${e.kind}`)).toEqual(['1:node_start', '2:node_success', '3:node_start', '4:node_success']);
    });

    it('keys events by (tenant, trace id): tenants never see each other\'s', async () => {
      const t = tid();
      await store.write({ events: [ev('a', t, 1), ev('a', t, 2), ev('b', t, 1, { flow: 'echo' })], traces: [] });
      expect((await store.eventsAfter('a', t, 0)).map((e) => e.tenant)).toEqual(['a', 'a']);
      expect((await store.eventsAfter('b', t, 0)).map((e) => [e.tenant, e.flow])).toEqual([['b', 'echo']]);
      expect(await store.eventsAfter('c', t, 0)).toEqual([]);
    });

    it('upserts trace rows: status and timestamps change, createdAt stays; tenant-scoped', async () => {
      const t = tid();
      expect(await store.getTrace('acme', t)).toBeUndefined();
      await store.write({ events: [], traces: [row('acme', t, 'RUNNING', 100)] });
      expect(await store.getTrace('acme', t)).toEqual(row('acme', t, 'RUNNING', 100));
      await store.write({ events: [], traces: [row('acme', t, 'COMPLETED', 200)] });
      expect(await store.getTrace('acme', t)).toEqual({ tenant: 'acme', traceId: t, flow: 'chain5', status: 'COMPLETED', createdAt: 100, updatedAt: 200, endedAt: 200 });
      expect(await store.getTrace('other', t)).toBeUndefined();
      // A re-run: RUNNING again, no end.
      await store.write({ events: [], traces: [row('acme', t, 'RUNNING', 300)] });
      expect(await store.getTrace('acme', t)).toMatchObject({ status: 'RUNNING', createdAt: 100, updatedAt: 300, endedAt: undefined });
    });

    it('applies a batch of events and trace rows together (large batches too)', async () => {
      const t = tid();
      const events = Array.from({ length: 5000 }, (_, i) => ev('bulk', t, i + 1));
      await store.write({ events, traces: [row('bulk', t, 'COMPLETED', 5)] });
      expect(await store.lastSeq('bulk', t)).toBe(5000);
      expect((await store.eventsAfter('bulk', t, 4990)).map((e) => e.seq)).toEqual([4991, 4992, 4993, 4994, 4995, 4996, 4997, 4998, 4999, 5000]);
      expect((await store.getTrace('bulk', t))?.status).toBe('COMPLETED');
    });

    it('tolerates concurrent overlapping writes', async () => {
      const t = tid();
      await Promise.all(
        [0, 1, 2, 3].map((k) => store.write({ events: Array.from({ length: 50 }, (_, i) => ev('conc', t, i + 1 + k * 25)), traces: [row('conc', t, 'RUNNING', k)] })),
      );
      const seqs = (await store.eventsAfter('conc', t, 0)).map((e) => e.seq);
      expect(seqs).toEqual(Array.from({ length: 125 }, (_, i) => i + 1));
    });

    it('idempotency keys: first claim wins per (tenant, flow, key); expired keys are replaced; release needs the owner', async () => {
      const k = tid();
      const now = 1_000_000;
      expect(await store.getKey('acme', 'echo', k, 0)).toBeUndefined();
      expect(await store.claimKey({ tenant: 'acme', flow: 'echo', key: k, traceId: 'first', createdAt: now }, now - 100)).toBe('first');
      expect(await store.claimKey({ tenant: 'acme', flow: 'echo', key: k, traceId: 'second', createdAt: now + 1 }, now - 100)).toBe('first');
      expect(await store.getKey('acme', 'echo', k, now - 100)).toBe('first');
      // Other flow, other tenant: independent.
      expect(await store.claimKey({ tenant: 'acme', flow: 'chain5', key: k, traceId: 'other-flow', createdAt: now }, 0)).toBe('other-flow');
      expect(await store.claimKey({ tenant: 'zeta', flow: 'echo', key: k, traceId: 'other-tenant', createdAt: now }, 0)).toBe('other-tenant');
      // Expired (created before notBefore): invisible, and a new claim takes it over.
      expect(await store.getKey('acme', 'echo', k, now + 1)).toBeUndefined();
      expect(await store.claimKey({ tenant: 'acme', flow: 'echo', key: k, traceId: 'third', createdAt: now + 500 }, now + 1)).toBe('third');
      await store.releaseKey('acme', 'echo', k, 'first');
      expect(await store.getKey('acme', 'echo', k, 0)).toBe('third');
      await store.releaseKey('acme', 'echo', k, 'third');
      expect(await store.getKey('acme', 'echo', k, 0)).toBeUndefined();
    });

    it('concurrent claims of one key agree on a single winner', async () => {
      const k = tid();
      const winners = await Promise.all(
        Array.from({ length: 8 }, (_, i) => store.claimKey({ tenant: 'race', flow: 'echo', key: k, traceId: `c${i}`, createdAt: 5_000_000 }, 0)),
      );
      expect(new Set(winners).size).toBe(1);
      expect(await store.getKey('race', 'echo', k, 0)).toBe(winners[0]);
    });

    it('prunes trace rows with all their events, and keys, older than the cutoffs; a trace still active keeps its whole history', async () => {
      const t = tid();
      const old = tid();
      await store.write({
        events: [ev('prune', old, 1, { ts: 10 }), ev('prune', old, 2, { ts: 20 }), ev('prune', t, 1, { ts: 10 }), ev('prune', t, 2, { ts: 9_000_000_000_000 })],
        traces: [row('prune', old, 'COMPLETED', 20), row('prune', t, 'RUNNING', 9_000_000_000_000)],
      });
      await store.claimKey({ tenant: 'prune', flow: 'echo', key: old, traceId: old, createdAt: 20 }, 0);
      const res = await store.prune({ eventsBefore: 1000, tracesBefore: 1000, keysBefore: 1000 });
      expect(res.events).toBeGreaterThanOrEqual(2);
      expect(res.traces).toBeGreaterThanOrEqual(1);
      expect(res.keys).toBeGreaterThanOrEqual(1);
      expect(await store.eventsAfter('prune', old, 0)).toEqual([]);
      expect(await store.getTrace('prune', old)).toBeUndefined();
      expect(await store.getKey('prune', 'echo', old, 0)).toBeUndefined();
      expect((await store.eventsAfter('prune', t, 0)).map((e) => e.seq)).toEqual([1, 2]);
      expect(await store.getTrace('prune', t)).toBeDefined();
    });

    it('runtime StateStore: saveEvent is idempotent by id, loadHistory keeps emission order, saveRemoteBinding resolves', async () => {
      const t = tid();
      const stored = (id: string, i: number) => ({ id, traceId: t, ts: 100 - i, kind: 'node_start', nodeName: `n${i}`, nodeId: undefined, payload: { event: 'node_start', i } });
      await store.saveEvent(stored('z', 0));
      await store.saveEvent(stored('a', 1));
      await store.saveEvent(stored('z', 0));
      await store.saveEvent(stored('m', 2));
      const history = await store.loadHistory(t);
      expect(history.map((e) => e.id)).toEqual(['z', 'a', 'm']);
      expect(history[1]).toEqual(stored('a', 1));
      expect(await store.loadHistory(tid())).toEqual([]);
      await expect(store.saveRemoteBinding({ traceId: t, taskId: 'task', agentUrl: 'http://agent' })).resolves.toBeUndefined();
    });

    it('behind a WriteBehind buffer: thousands of events land complete, in order, trace rows after their events', async () => {
      const writer = new WriteBehind({ store, flushIntervalMs: 2, maxBatch: 300 });
      const traces = Array.from({ length: 20 }, () => tid());
      for (let seq = 1; seq <= 100; seq++) {
        for (const t of traces) writer.pushEvent(ev('wb', t, seq));
        if (seq % 10 === 0) await new Promise((r) => setImmediate(r));
      }
      for (const t of traces) writer.pushTrace(row('wb', t, 'COMPLETED', 7));
      await writer.flush();
      expect(writer.pending).toBe(0);
      for (const t of traces) {
        expect((await store.eventsAfter('wb', t, 0)).map((e) => e.seq)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
        expect((await store.getTrace('wb', t))?.status).toBe('COMPLETED');
      }
      await writer.close();
    });

    if (factory.reopen !== undefined) {
      it('keeps everything across close and reopen', async () => {
        const t = tid();
        await store.write({ events: [ev('dur', t, 1), ev('dur', t, 2)], traces: [row('dur', t, 'COMPLETED', 50)] });
        await store.claimKey({ tenant: 'dur', flow: 'echo', key: t, traceId: t, createdAt: 50 }, 0);
        await store.close();
        await expect(store.ping()).rejects.toBeDefined();
        store = await factory.reopen!(store);
        expect((await store.eventsAfter('dur', t, 0)).map((e) => e.seq)).toEqual([1, 2]);
        expect((await store.getTrace('dur', t))?.status).toBe('COMPLETED');
        expect(await store.getKey('dur', 'echo', t, 0)).toBe(t);
      });
    }
  });
}
