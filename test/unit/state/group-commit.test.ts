/** GroupCommitter against a scripted store: batching, ordering, failures and fencing. */
import { describe, expect, it } from 'vitest';
import { GroupCommitter, StoreUnavailableError } from '../../../src/state/cluster/group-commit.js';
import { MemoryTraceStore } from '../../../src/state/cluster/memory-trace-store.js';
import type { AcceptRequest, CommitBatch, CommitResult, OutputWrite, TraceStore } from '../../../src/state/cluster/trace-store.js';
import { traceKey } from '../../../src/state/cluster/trace-key.js';

/** A store that records batches and answers from a memory store, or fails while `failing`. */
class ScriptedStore {
  readonly batches: CommitBatch[] = [];
  failing = false;
  readonly inner = new MemoryTraceStore({ leaseMs: 1000, idempotencyRetentionMs: 1000, retentionMs: 1000, maxEndedPerFlow: 100 });
  #gate: Promise<void> | undefined;
  #open: (() => void) | undefined;

  /** Holds the next commits until `release()`. */
  hold(): void {
    this.#gate = new Promise((r) => (this.#open = r));
  }

  release(): void {
    this.#open?.();
    this.#gate = undefined;
  }

  async commit(batch: CommitBatch): Promise<CommitResult> {
    this.batches.push(batch);
    if (this.#gate !== undefined) await this.#gate;
    if (this.failing) throw new Error('connection refused');
    return this.inner.commit(batch);
  }
}

function committer(store: ScriptedStore, opts: Partial<ConstructorParameters<typeof GroupCommitter>[0]> = {}): GroupCommitter {
  return new GroupCommitter({ store: store as unknown as TraceStore, maxBackoffMs: 5, ...opts });
}

function accept(traceId: string): AcceptRequest {
  return { tenant: 'acme', traceId, flow: 'echo', message: traceId, deadline: undefined, traceparent: undefined, idempotencyKey: undefined, runner: 'r1', maxInflight: 0, maxQueued: 0 };
}

function output(traceId: string, epoch: number, seq: number): OutputWrite {
  return { tenant: 'acme', traceId, epoch, seq, run: 1, kind: 'output', value: seq, consumed: false };
}

describe('GroupCommitter', () => {
  it('commits a synchronous burst as one batch', async () => {
    const store = new ScriptedStore();
    const c = committer(store);
    const results = await Promise.all(['a', 'b', 'c'].map((id) => c.accept(accept(id))));
    expect(results.map((r) => r.kind)).toEqual(['accepted', 'accepted', 'accepted']);
    expect(store.batches).toHaveLength(1);
    expect(store.batches[0]!.accepts).toHaveLength(3);
  });

  it('collects writes made during a commit into the next batch', async () => {
    const store = new ScriptedStore();
    const c = committer(store);
    store.hold();
    const first = c.accept(accept('a'));
    await Promise.resolve();
    await Promise.resolve();
    const later = [c.accept(accept('b')), c.accept(accept('c')), c.accept(accept('d'))];
    store.release();
    await Promise.all([first, ...later]);
    expect(store.batches.map((b) => b.accepts.length)).toEqual([1, 3]);
  });

  it('splits batches at maxBatch', async () => {
    const store = new ScriptedStore();
    const c = committer(store, { maxBatch: 2 });
    await Promise.all(['a', 'b', 'c', 'd', 'e'].map((id) => c.accept(accept(id))));
    expect(store.batches.map((b) => b.accepts.length)).toEqual([2, 2, 1]);
  });

  it('rejects accepts of a failed commit and retries runner writes in order until the store recovers', async () => {
    const store = new ScriptedStore();
    const errors: number[] = [];
    let recovered = 0;
    const c = committer(store, { onError: (_e, info) => errors.push(info.attempt), onRecover: () => recovered++ });
    const ok = await c.accept(accept('t'));
    if (ok.kind !== 'accepted') throw new Error('not accepted');
    store.failing = true;
    const doomed = c.accept(accept('u'));
    const o1 = c.output(output('t', ok.row.epoch, 1));
    const o2 = c.output(output('t', ok.row.epoch, 2));
    await expect(doomed).rejects.toBeInstanceOf(StoreUnavailableError);
    expect(c.healthy).toBe(false);
    await new Promise<void>((resolve) => {
      const check = (): void => (errors.length >= 2 ? resolve() : void setTimeout(check, 2));
      check();
    });
    store.failing = false;
    expect(await Promise.all([o1, o2])).toEqual([true, true]);
    expect(recovered).toBe(1);
    expect(c.healthy).toBe(true);
    const taken = [await store.inner.take('acme', 't'), await store.inner.take('acme', 't')];
    expect(taken.map((t) => (t.kind === 'update' ? t.update.seq : -1))).toEqual([1, 2]);
  });

  it('resolves fenced writes false and reports their traces', async () => {
    const store = new ScriptedStore();
    const fenced: string[] = [];
    const c = committer(store, { onFenced: (keys) => fenced.push(...keys) });
    const ok = await c.accept(accept('t'));
    if (ok.kind !== 'accepted') throw new Error('not accepted');
    expect(await c.output(output('t', ok.row.epoch + 7, 1))).toBe(false);
    expect(await c.end({ tenant: 'acme', traceId: 't', epoch: ok.row.epoch, state: 'COMPLETED', error: undefined })).toBe(true);
    expect(fenced).toEqual([traceKey('acme', 't')]);
  });

  it('never commits an end before the updates written before it', async () => {
    const store = new ScriptedStore();
    const c = committer(store, { maxBatch: 2 });
    const ok = await c.accept(accept('t'));
    if (ok.kind !== 'accepted') throw new Error('not accepted');
    const e = ok.row.epoch;
    const writes = [c.output(output('t', e, 1)), c.output(output('t', e, 2)), c.output(output('t', e, 3)), c.end({ tenant: 'acme', traceId: 't', epoch: e, state: 'COMPLETED', error: undefined })];
    await Promise.all(writes);
    const endBatch = store.batches.findIndex((b) => b.ends.length > 0);
    const lastOutputBatch = store.batches.findLastIndex((b) => b.outputs.length > 0);
    // The same batch is fine: the store applies ends after updates.
    expect(endBatch).toBeGreaterThanOrEqual(lastOutputBatch);
    expect(store.batches[endBatch]!.outputs.length + store.batches.slice(0, endBatch).reduce((n, b) => n + b.outputs.length, 0)).toBe(3);
  });

  it('reports room and wakes waiters when the buffer drains', async () => {
    const store = new ScriptedStore();
    const c = committer(store, { capacity: 2 });
    store.hold();
    void c.accept(accept('a'));
    await Promise.resolve();
    await Promise.resolve();
    const b = c.accept(accept('b'));
    const d = c.accept(accept('d'));
    expect(c.hasRoom()).toBe(false);
    const room = c.waitForRoom();
    store.release();
    await room;
    await Promise.all([b, d]);
    expect(c.hasRoom()).toBe(true);
  });

  it('close writes what is pending and refuses later accepts', async () => {
    const store = new ScriptedStore();
    const c = committer(store);
    const ok = c.accept(accept('a'));
    c.event({ tenant: 'acme', traceId: 'a', epoch: 1, seq: 1, flow: 'echo', ts: 1, kind: 'node_start', nodeName: undefined, nodeId: undefined, payloadJson: '{}' });
    await c.close();
    expect((await ok).kind).toBe('accepted');
    expect(await store.inner.eventsAfter('acme', 'a', 0)).toHaveLength(1);
    await expect(c.accept(accept('b'))).rejects.toBeInstanceOf(StoreUnavailableError);
  });
});
