/**
 * PENGUIFLOW_STORE / PENGUIFLOW_HISTORY_RETENTION parsing, and the
 * write-behind buffer's failure handling: retries, backpressure, explicit
 * refusals (never a silent drop).
 */
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, resolveConfig } from '../../../src/server/config.js';
import { MemoryStateStore, parseDuration, parseStoreSpec, WriteBehind, type EventRecord, type WriteBatch } from '../../../src/state/index.js';

describe('store settings', () => {
  it('parses memory, sqlite paths and postgres URLs', () => {
    expect(parseStoreSpec('memory')).toEqual({ kind: 'memory' });
    expect(parseStoreSpec('sqlite:/var/lib/pf.db')).toEqual({ kind: 'sqlite', path: '/var/lib/pf.db' });
    expect(parseStoreSpec('sqlite:./data/x.db')).toMatchObject({ kind: 'sqlite', path: expect.stringMatching(/\/data\/x\.db$/) as unknown });
    expect(parseStoreSpec('sqlite::memory:')).toEqual({ kind: 'sqlite', path: ':memory:' });
    expect(parseStoreSpec('postgres://u:p@db:5432/pf')).toEqual({ kind: 'postgres', url: 'postgres://u:p@db:5432/pf' });
    expect(parseStoreSpec('postgresql://db/pf')?.kind).toBe('postgres');
    for (const bad of ['', 'sqlite:', 'mysql://x', 'redis']) expect(parseStoreSpec(bad)).toBeUndefined();
  });

  it('parses retention durations', () => {
    expect(parseDuration('7d')).toBe(7 * 86_400_000);
    expect(parseDuration('1d12h')).toBe(36 * 3_600_000);
    expect(parseDuration('90m')).toBe(5_400_000);
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('60000')).toBe(60_000);
    expect(parseDuration('0')).toBe(0);
    for (const bad of ['', '7 days', '-1d', 'd', '1y']) expect(parseDuration(bad)).toBeUndefined();
  });

  it('PENGUIFLOW_STORE defaults to the SQLite file for the process and to memory in process; bad values name the variable', () => {
    expect(loadConfig({})).toMatchObject({ store: 'sqlite:./data/penguiflow.db', historyRetentionMs: 604_800_000 });
    expect(resolveConfig().store).toBe('memory');
    expect(loadConfig({ PENGUIFLOW_STORE: 'postgres://db/pf', PENGUIFLOW_HISTORY_RETENTION: '12h' })).toMatchObject({ store: 'postgres://db/pf', historyRetentionMs: 43_200_000 });
    for (const [variable, bad] of [['PENGUIFLOW_STORE', 'mysql://x'], ['PENGUIFLOW_HISTORY_RETENTION', 'forever']] as const) {
      let err: unknown;
      try {
        loadConfig({ [variable]: bad });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).variable).toBe(variable);
      expect((err as ConfigError).message).not.toContain('\n');
    }
  });
});

class FailingStore extends MemoryStateStore {
  failures = 0;
  writes = 0;
  override write(batch: WriteBatch): Promise<void> {
    this.writes++;
    if (this.failures > 0) {
      this.failures--;
      return Promise.reject(new Error('boom'));
    }
    return super.write(batch);
  }
}

function ev(seq: number): EventRecord {
  return { tenant: 't', traceId: 'x', seq, flow: 'f', ts: seq, kind: 'node_start', nodeName: undefined, nodeId: undefined, payload: {} };
}

describe('WriteBehind', () => {
  it('batches: many pushes become few writes', async () => {
    const store = new FailingStore();
    const w = new WriteBehind({ store, flushIntervalMs: 5, maxBatch: 1000 });
    for (let i = 1; i <= 500; i++) w.pushEvent(ev(i));
    await w.flush();
    expect(store.writes).toBe(1);
    expect(await store.lastSeq('t', 'x')).toBe(500);
  });

  it('retries a failed batch, reports errors, flips healthy, and loses nothing', async () => {
    const store = new FailingStore();
    store.failures = 3;
    const errors: unknown[] = [];
    let recovered = 0;
    const w = new WriteBehind({ store, flushIntervalMs: 1, maxBackoffMs: 20, onError: (e) => errors.push(e), onRecover: () => recovered++ });
    for (let i = 1; i <= 10; i++) w.pushEvent(ev(i));
    await expect(w.flush()).rejects.toThrow('boom');
    expect(w.healthy).toBe(false);
    expect(w.pendingEventsOf('t', 'x').map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    for (let i = 11; i <= 20; i++) w.pushEvent(ev(i));
    await new Promise((r) => setTimeout(r, 200));
    expect(w.healthy).toBe(true);
    expect(recovered).toBe(1);
    expect(errors).toHaveLength(3);
    await w.flush();
    expect((await store.eventsAfter('t', 'x', 0)).map((e) => e.seq)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
  });

  it('applies backpressure past capacity and refuses (counted, reported) past the hard capacity', async () => {
    const store = new FailingStore();
    store.failures = 1_000_000;
    const errors: string[] = [];
    const w = new WriteBehind({ store, flushIntervalMs: 1, capacity: 5, hardCapacity: 8, maxBackoffMs: 10, onError: (e) => errors.push((e as Error).message) });
    for (let i = 1; i <= 5; i++) expect(w.pushEvent(ev(i))).toBe(true);
    expect(w.hasRoom()).toBe(false);
    const ac = new AbortController();
    const waiting = w.waitForRoom(ac.signal);
    for (let i = 6; i <= 8; i++) expect(w.pushEvent(ev(i))).toBe(true);
    expect(w.pushEvent(ev(9))).toBe(false);
    expect(w.dropped).toBe(1);
    expect(errors).toContain('store write buffer full; event not stored');
    let woke = false;
    void waiting.then(() => (woke = true));
    store.failures = 0;
    await w.flush().catch(() => undefined);
    await new Promise((r) => setTimeout(r, 50));
    expect(woke).toBe(true);
    expect(w.hasRoom()).toBe(true);
    await w.close();
  });
});
