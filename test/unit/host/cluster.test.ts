/**
 * The host's cluster semantics (DESIGN §5) with replicas in one process on
 * one in-memory store: any replica answers for any trace, cancellation
 * reaches the runner, queued work is claimed, a dead replica's traces are
 * re-run under a new epoch, a drained replica hands its work back.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Host } from '../../../src/host/host.js';
import { msg, payloadOf, probes, readAll, sharedStore, startHost, within } from './helpers/cluster.js';

const hosts: Host[] = [];
async function replica(...args: Parameters<typeof startHost>): Promise<Host> {
  const h = await startHost(...args);
  hosts.push(h);
  return h;
}

afterEach(async () => {
  await Promise.allSettled(hosts.splice(0).map((h) => h.close()));
  probes.reset();
});

describe('host cluster semantics', () => {
  it('a Call-style accept with an attached reader gets its output on the accepting replica', async () => {
    const store = sharedStore();
    const a = await replica({ id: 'a', store });
    const accepted = await a.traces.accept('acme', 'echo', msg('acme', { hi: 1 }), { attach: true });
    const all = await readAll(accepted.reader);
    expect(payloadOf(all[0])).toEqual({ hi: 1 });
    expect(all.at(-1)).toMatchObject({ kind: 'end', status: 'COMPLETED' });
    expect((await store.getTrace('acme', accepted.traceId))?.state).toBe('COMPLETED');
  });

  it('Emit on one replica, Fetch on another: each output delivered exactly once', async () => {
    const store = sharedStore();
    const [a, b] = [await replica({ id: 'a', store }), await replica({ id: 'b', store })];
    const { traceId, reader } = await a.traces.accept('acme', 'slow', msg('acme', { ms: 30 }));
    reader.close();
    const onB = await b.traces.open('acme', 'slow', traceId);
    const first = await onB.next(within(5000));
    expect(payloadOf(first.delivery)).toMatchObject({ slept: 30 });
    const onA = await a.traces.open('acme', 'slow', traceId);
    expect((await onA.next(within(5000))).delivery).toMatchObject({ kind: 'end', status: 'COMPLETED' });
    onA.close();
    onB.close();
  });

  it('streams chunks in order to a reader on another replica', async () => {
    const store = sharedStore();
    const [a, b] = [await replica({ id: 'a', store }), await replica({ id: 'b', store })];
    const { traceId, reader } = await a.traces.accept('acme', 'stream', msg('acme', { chunks: 20 }));
    reader.close();
    const all = await readAll(await b.traces.open('acme', 'stream', traceId));
    const chunks = all.flatMap((d) => (d.kind === 'chunk' ? [d.chunk.text] : []));
    expect(chunks).toEqual(Array.from({ length: 20 }, (_, i) => `c${i}`));
    expect(payloadOf(all.at(-2))).toEqual({ chunks: 20 });
    expect(all.at(-1)).toMatchObject({ kind: 'end', status: 'COMPLETED' });
  });

  it('foreign and unknown traces are not found, on every replica', async () => {
    const store = sharedStore();
    const [a, b] = [await replica({ id: 'a', store }), await replica({ id: 'b', store })];
    const { traceId, reader } = await a.traces.accept('acme', 'echo', msg('acme', 1));
    reader.close();
    for (const h of [a, b]) {
      await expect(h.traces.open('globex', 'echo', traceId)).rejects.toMatchObject({ code: 'TRACE_NOT_FOUND' });
      await expect(h.traces.open('acme', 'echo', 'nope')).rejects.toMatchObject({ code: 'TRACE_NOT_FOUND' });
      await expect(h.traces.open('acme', 'slow', traceId)).rejects.toMatchObject({ code: 'TRACE_NOT_FOUND' });
      await expect(h.traces.cancel('globex', 'echo', traceId)).rejects.toMatchObject({ code: 'TRACE_NOT_FOUND' });
    }
  });

  it('Cancel from another replica reaches the runner and aborts ctx.signal', async () => {
    const store = sharedStore();
    const [a, b] = [await replica({ id: 'a', store }), await replica({ id: 'b', store })];
    const { traceId, reader } = await a.traces.accept('acme', 'slow', msg('acme', { ms: 10_000, tag: 'long' }));
    reader.close();
    await waitFor(() => probes.started.get('long') === 1);
    expect(await b.traces.cancel('acme', 'slow', traceId, AbortSignal.timeout(5000))).toBe(true);
    await waitFor(() => probes.aborted.has('long'));
    expect((await store.getTrace('acme', traceId))?.state).toBe('CANCELLED');
    const events = await b.traces.history('acme', 'slow', traceId);
    const kinds = events.map((e) => e.event.eventType);
    expect(kinds.filter((k) => k === 'trace_cancel_start')).toHaveLength(1);
    expect(kinds.filter((k) => k === 'trace_cancel_finish')).toHaveLength(1);
    expect(await b.traces.cancel('acme', 'slow', traceId)).toBe(false);
  });

  it('a replica without room queues; another replica claims and runs the trace', async () => {
    const store = sharedStore();
    const a = await replica({ id: 'a', store, maxRunningPerFlow: 1 });
    const b = await replica({ id: 'b', store });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const { traceId, reader } = await a.traces.accept('acme', 'slow', msg('acme', { ms: 1500, tag: `q${i}` }));
      reader.close();
      ids.push(traceId);
    }
    const rows = await Promise.all(ids.map((id) => store.getTrace('acme', id)));
    expect(rows[0]?.owner).toBe('a');
    await waitFor(async () => (await Promise.all(ids.slice(1).map((id) => store.getTrace('acme', id)))).every((r) => r?.owner === 'b' || r?.state === 'COMPLETED'));
    for (const id of ids) {
      const all = await readAll(await a.traces.open('acme', 'slow', id));
      expect(all.at(-1)).toMatchObject({ status: 'COMPLETED' });
    }
    expect(b.running + a.running).toBe(0);
  });

  it('the traces of a replica that died are re-run elsewhere after its lease, outputs once, with a trace_rerun event', async () => {
    const store = sharedStore(1000);
    const a = await replica({ id: 'a', store, leaseMs: 1000 });
    const b = await replica({ id: 'b', store, leaseMs: 1000 });
    const { traceId, reader } = await a.traces.accept('acme', 'slow', msg('acme', { ms: 500, tag: 'crash' }));
    reader.close();
    await waitFor(() => probes.started.get('crash') === 1);
    // "kill -9": the replica stops heartbeating and answers nothing more, and its runs go nowhere.
    await freeze(a);
    const all = await readAll(await b.traces.open('acme', 'slow', traceId), 10_000);
    expect(all.filter((d) => d.kind === 'output')).toHaveLength(1);
    expect(all.at(-1)).toMatchObject({ status: 'COMPLETED' });
    expect(probes.started.get('crash')).toBe(2);
    const row = await store.getTrace('acme', traceId);
    expect(row).toMatchObject({ attempt: 2, state: 'COMPLETED' });
    const kinds = (await b.traces.history('acme', 'slow', traceId)).map((e) => e.event.eventType);
    expect(kinds).toContain('trace_rerun');
  });

  it('a runner whose lease lapsed cannot publish: the outputs come from the new owner only', async () => {
    const store = sharedStore(1000);
    const a = await replica({ id: 'a', store, leaseMs: 1000 });
    const b = await replica({ id: 'b', store, leaseMs: 1000 });
    const { traceId, reader } = await a.traces.accept('acme', 'slow', msg('acme', { ms: 1500, tag: 'paused' }));
    reader.close();
    await waitFor(() => probes.started.get('paused') === 1);
    // "SIGSTOP": no heartbeats, but the runtime keeps going and will try to publish.
    pauseHeartbeats(a);
    const claimedBy = await waitFor(async () => {
      const row = await store.getTrace('acme', traceId);
      return row?.owner === 'b' ? row : undefined;
    });
    expect(claimedBy.attempt).toBe(2);
    const all = await readAll(await b.traces.open('acme', 'slow', traceId), 10_000);
    expect(all.filter((d) => d.kind === 'output')).toHaveLength(1);
    // a's late run ended too, but its writes were refused.
    await waitFor(() => a.running === 0);
    expect((await store.getTrace('acme', traceId))?.attempt).toBe(2);
  });

  it('a draining replica hands its queued and running work back; others finish it before the lease', async () => {
    const store = sharedStore(60_000);
    const a = await replica({ id: 'a', store, leaseMs: 60_000 });
    const b = await replica({ id: 'b', store, leaseMs: 60_000, pollMs: 50 });
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const { traceId, reader } = await a.traces.accept('acme', 'slow', msg('acme', { ms: 2000, tag: `d${i}` }));
      reader.close();
      ids.push(traceId);
    }
    const started = Date.now();
    const handedBack = await a.drain(Date.now() + 50);
    expect(handedBack).toBe(5);
    for (const id of ids) {
      const all = await readAll(await b.traces.open('acme', 'slow', id), 10_000);
      expect(all.at(-1)).toMatchObject({ status: 'COMPLETED' });
    }
    expect(Date.now() - started).toBeLessThan(30_000);
  });

  it('tenant quotas count live traces across replicas', async () => {
    const store = sharedStore();
    const a = await replica({ id: 'a', store, tenantMaxInflight: 2 });
    const b = await replica({ id: 'b', store, tenantMaxInflight: 2 });
    const first = await a.traces.accept('acme', 'slow', msg('acme', { ms: 300 }));
    const second = await b.traces.accept('acme', 'slow', msg('acme', { ms: 300 }));
    const stages: string[] = [];
    const third = await a.traces.accept('acme', 'slow', msg('acme', { ms: 10 }), { onStage: (s) => stages.push(s), abortable: within(5000) });
    expect(stages).toEqual(['quota']);
    const other = await b.traces.accept('globex', 'slow', msg('globex', { ms: 10 }));
    for (const r of [first, second, third, other]) r.reader.close();
  });

  it('an idempotent retry on another replica returns the original trace, which really runs', async () => {
    const store = sharedStore();
    const [a, b] = [await replica({ id: 'a', store }), await replica({ id: 'b', store })];
    const first = await a.traces.accept('acme', 'echo', msg('acme', 'once'), { idempotencyKey: 'k1' });
    first.reader.close();
    const retry = await b.traces.accept('acme', 'echo', msg('acme', 'twice'), { idempotencyKey: 'k1' });
    expect(retry).toMatchObject({ traceId: first.traceId, deduplicated: true });
    const all = await readAll(retry.reader);
    expect(payloadOf(all[0])).toBe('once');
  });

  it('live events from every replica reach a subscriber on any replica, in per-trace order', async () => {
    const store = sharedStore();
    const [a, b] = [await replica({ id: 'a', store }), await replica({ id: 'b', store })];
    const seen: { traceId: string; seq: number }[] = [];
    const sub = b.traces.subscribe('acme', (e) => seen.push({ traceId: e.traceId, seq: e.seq }));
    await sub.ready;
    const ids: string[] = [];
    for (const h of [a, b, a]) {
      const { traceId, reader } = await h.traces.accept('acme', 'echo', msg('acme', 1), { attach: true });
      await readAll(reader);
      ids.push(traceId);
    }
    await waitFor(() => ids.every((id) => seen.some((s) => s.traceId === id && s.seq >= 2)));
    for (const id of ids) {
      const seqs = seen.filter((s) => s.traceId === id).map((s) => s.seq);
      expect(seqs).toEqual(seqs.map((_, i) => i + 1));
    }
    sub.unsubscribe();
  });
});

/** Polls `probe` until it returns something truthy (or a defined value), for at most `ms`. */
async function waitFor<T>(probe: () => T | Promise<T>, ms = 10_000): Promise<NonNullable<T>> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== null && v !== false) return v;
    if (Date.now() > until) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Stops a replica's heartbeats (its lease lapses) while its runtime keeps running. */
function pauseHeartbeats(h: Host): void {
  const r = h.replica as unknown as { heartbeat: () => Promise<void> };
  r.heartbeat = () => Promise.resolve();
  // The interval calls heartbeat(); replaced above, so nothing is sent.
}

/** A crashed replica: no heartbeats, and its runs never publish again (their runtime is stopped without a word). */
async function freeze(h: Host): Promise<void> {
  pauseHeartbeats(h);
  const committer = h.committer as unknown as { output: () => Promise<boolean>; end: () => Promise<boolean>; event: () => void; accept: () => Promise<never> };
  committer.output = () => new Promise<boolean>(() => undefined);
  committer.end = () => new Promise<boolean>(() => undefined);
  committer.event = () => undefined;
  await Promise.resolve();
}
