// @penguiflow/client against the real gRPC server (grpc-js) over a real
// socket: every client method on the demo flows, deadlines, aborts, and the
// FlowClientError codes and details of the contract.
import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from '../../src/server/server.js';
import { resolveConfig } from '../../src/server/config.js';
import { createFlowClient, FlowClientError } from '../../clients/typescript/src/index.js';
import type { FlowClient, FlowEvent, TraceUpdate } from '../../clients/typescript/src/index.js';
import { eventually, readersOf, subscribersOf } from './helpers/harness.js';

let server: Awaited<ReturnType<typeof startServer>>;
let baseUrl: string;
let client: FlowClient;
const TENANT = 'client-it';

beforeAll(async () => {
  server = await startServer(resolveConfig({ host: '127.0.0.1', port: 0, opsPort: 0, logLevel: 'silent' }));
  baseUrl = `http://127.0.0.1:${server.port}`;
  client = createFlowClient({ baseUrl, tenant: TENANT, defaultTimeoutMs: 10_000 });
});

afterAll(async () => {
  client?.close();
  await server?.close({ drainTimeoutMs: 1_000 });
});

/** A fresh caller-chosen trace id. */
const newTraceId = (): string => `it-${randomUUID()}`;

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

async function rejection(p: Promise<unknown>): Promise<FlowClientError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(FlowClientError);
    return err as FlowClientError;
  }
  throw new Error('expected the call to fail');
}

/** Events of a trace from GetHistory, polled until `done` holds (events are stored asynchronously). */
async function historyUntil(flow: string, traceId: string, done: (events: FlowEvent[]) => boolean): Promise<FlowEvent[]> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const events = await client.getHistory(flow, traceId);
    if (done(events) || Date.now() > deadline) return events;
    await delay(20);
  }
}

const types = (events: FlowEvent[]): string[] => events.map((e) => e.eventType);

describe('listFlows', () => {
  it('lists the demo flows with their graphs and policies, sorted by name', async () => {
    const flows = await client.listFlows();
    expect(flows.map((f) => f.name)).toEqual(['chain5', 'echo', 'fanout', 'flaky', 'slow', 'stream']);
    const fanout = flows.find((f) => f.name === 'fanout')!;
    expect(fanout.ingress).toEqual(['split']);
    expect(fanout.egress).toEqual(['final']);
    expect(fanout.nodes.map((n) => n.name).sort()).toEqual(['final', 'join', 'split', 'worker0', 'worker1', 'worker2', 'worker3']);
    expect(fanout.edges).toContainEqual({ source: 'split', target: 'worker2' });
    const chain5 = flows.find((f) => f.name === 'chain5')!;
    expect(chain5.edges).toHaveLength(4);
    const flaky = flows.find((f) => f.name === 'flaky')!;
    expect(flaky.nodes[0]?.policy).toMatchObject({ maxRetries: 3, backoffBaseMs: 10, backoffMult: 2 });
  });
});

describe('emit + fetch', () => {
  it('emits onto echo and fetches the output, then the COMPLETED end (repeatedly)', async () => {
    const { traceId, deduplicated } = await client.emit('echo', { hello: ['world', 1, null] });
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(deduplicated).toBe(false);
    const first = await client.fetch('echo', traceId);
    expect(first.kind).toBe('output');
    if (first.kind !== 'output') return;
    expect(first.message.payload).toEqual({ hello: ['world', 1, null] });
    expect(first.message.traceId).toBe(traceId);
    expect(first.message.headers.tenant).toBe(TENANT);
    expect(typeof first.message.ts).toBe('number');
    for (let i = 0; i < 2; i++) {
      expect(await client.fetch('echo', traceId)).toEqual({ kind: 'end', end: { status: 'COMPLETED', error: undefined } });
    }
  });

  it('carries the envelope: caller trace id, meta, topic, priority, deadline', async () => {
    const traceId = newTraceId();
    const deadline = Date.now() + 60_000;
    await client.emit('echo', 'payload', { traceId, meta: { who: 'test', n: [1, 2] }, topic: 'news', priority: 7, deadline, timeoutMs: 0 });
    const out = await client.fetch('echo', traceId);
    expect(out.kind).toBe('output');
    if (out.kind !== 'output') return;
    expect(out.message).toMatchObject({ payload: 'payload', traceId, meta: { who: 'test', n: [1, 2] } });
    expect(out.message.headers).toEqual({ tenant: TENANT, topic: 'news', priority: 7 });
    expect(out.message.deadline).toBe(deadline);
  });

  it('uses the earlier of the message deadline and the call deadline', async () => {
    const traceId = newTraceId();
    const before = Date.now();
    await client.emit('echo', 1, { traceId, deadline: Date.now() + 3_600_000, timeoutMs: 5_000 });
    const out = await client.fetch('echo', traceId);
    expect(out.kind === 'output' && out.message.deadline).toBeGreaterThanOrEqual(before + 4_000);
    expect(out.kind === 'output' && out.message.deadline).toBeLessThanOrEqual(Date.now() + 5_000);
  });

  it('round-trips a binary body', async () => {
    const bytes = new Uint8Array([0, 1, 2, 250, 255]);
    const res = await client.call('echo', bytes);
    expect(res.kind).toBe('output');
    if (res.kind !== 'output') return;
    expect(res.message.binary).toEqual(bytes);
    expect(res.message.payload).toBeUndefined();
  });

  it('deduplicates emits with the same idempotency key', async () => {
    const idempotencyKey = `key-${randomUUID()}`;
    const a = await client.emit('echo', { n: 1 }, { idempotencyKey });
    const b = await client.emit('echo', { n: 2 }, { idempotencyKey });
    expect(b).toEqual({ traceId: a.traceId, deduplicated: true });
  });

  it('fetch returns stream chunks one by one, then the output and the end', async () => {
    const { traceId } = await client.emit('stream', { chunks: 2 });
    const kinds: string[] = [];
    for (;;) {
      const r = await client.fetch('stream', traceId);
      kinds.push(r.kind === 'chunk' ? `chunk${r.chunk.seq}` : r.kind);
      if (r.kind === 'end') break;
    }
    expect(kinds).toEqual(['chunk0', 'chunk1', 'output', 'end']);
  });

  it('a fetch that times out does not cancel the trace; a later fetch gets the output', async () => {
    const { traceId } = await client.emit('slow', { ms: 300 });
    expect((await rejection(client.fetch('slow', traceId, { timeoutMs: 50 }))).code).toBe('DEADLINE_EXCEEDED');
    const out = await client.fetch('slow', traceId, { timeoutMs: 5_000 });
    expect(out).toMatchObject({ kind: 'output', message: { payload: { sleptMs: 300 } } });
  });
});

describe('call', () => {
  it('returns the first output of echo, chain5 and fanout', async () => {
    expect(await client.call('echo', { x: 1 })).toMatchObject({ kind: 'output', message: { payload: { x: 1 } } });
    expect(await client.call('chain5', [1, 2, 3])).toMatchObject({ kind: 'output', message: { payload: [1, 2, 3] } });
    expect(await client.call('fanout', 'in')).toMatchObject({
      kind: 'output',
      message: { payload: { input: 'in', results: [0, 1, 2, 3] } },
    });
  });

  it('retries flaky nodes, and returns a node failing for good as data', async () => {
    expect(await client.call('flaky', { failures: 2 })).toMatchObject({ kind: 'output', message: { payload: { attempts: 3 } } });
    const failed = await client.call('flaky', { failures: 10 });
    expect(failed.kind).toBe('error');
    if (failed.kind !== 'error') return;
    expect(failed.error).toMatchObject({ code: 'NODE_EXCEPTION', nodeName: 'flaky', traceId: failed.traceId });
    expect(failed.error.message).toContain('flaky failure');
  });

  it('times out with DEADLINE_EXCEEDED, and the server drops the trace', async () => {
    const traceId = newTraceId();
    const t0 = Date.now();
    const err = await rejection(client.call('slow', { ms: 10_000 }, { traceId, timeoutMs: 200 }));
    expect(err.code).toBe('DEADLINE_EXCEEDED');
    expect(Date.now() - t0).toBeLessThan(3_000);
    // The call deadline is also the message deadline, so whichever fires first on the server ends the
    // trace: the disconnect (cancel lifecycle) or the message deadline (node_timeout tagged
    // DEADLINE_EXCEEDED mid-run, or deadline_skip when the node had not started yet).
    const stopped = (e: FlowEvent[]): boolean =>
      e.some(
        (x) =>
          x.eventType === 'trace_cancel_finish' ||
          x.eventType === 'deadline_skip' ||
          (x.eventType === 'node_timeout' && x.extra['code'] === 'DEADLINE_EXCEEDED'),
      );
    const events = await historyUntil('slow', traceId, stopped);
    expect(stopped(events), JSON.stringify(types(events))).toBe(true);
    expect(types(events)).not.toContain('node_success');
  });
});

describe('message deadlines', () => {
  it('a message whose deadline already passed is skipped: FinalAnswer output, DEADLINE_EXCEEDED end', async () => {
    const { traceId } = await client.emit('echo', 'late', { deadline: Date.now() - 1_000 });
    const updates = await collect(client.streamTrace('echo', traceId));
    expect(updates).toMatchObject([
      { kind: 'output', message: { payload: { text: 'Deadline exceeded', citations: [] } } },
      { kind: 'end', end: { status: 'DEADLINE_EXCEEDED' } },
    ]);
    expect(types(await client.getHistory('echo', traceId))).toEqual(['deadline_skip']);
  });

  it('a deadline passing while the node runs ends the trace DEADLINE_EXCEEDED', async () => {
    const res = await client.call('slow', { ms: 10_000 }, { deadline: Date.now() + 200 });
    expect(res).toMatchObject({ kind: 'output', message: { payload: { text: 'Deadline exceeded' } } });
    expect(await client.fetch('slow', res.traceId)).toMatchObject({ kind: 'end', end: { status: 'DEADLINE_EXCEEDED' } });
  });
});

describe('callStream', () => {
  it('streams chunks in seq order, the output, then one COMPLETED end', async () => {
    const updates = await collect(client.callStream('stream', { chunks: 5 }));
    const traceIds = new Set(updates.map((u) => u.traceId));
    expect(traceIds.size).toBe(1);
    const chunks = updates.flatMap((u) => (u.kind === 'chunk' ? [u.chunk] : []));
    expect(chunks.map((c) => c.seq)).toEqual([0, 1, 2, 3, 4]);
    expect(chunks.map((c) => c.done)).toEqual([false, false, false, false, true]);
    expect(updates.map((u) => u.kind)).toEqual(['chunk', 'chunk', 'chunk', 'chunk', 'chunk', 'output', 'end']);
    const output = updates[5];
    expect(output?.kind === 'output' && output.message.payload).toEqual({
      text: 'chunk-0 chunk-1 chunk-2 chunk-3 chunk-4 ',
      chunks: 5,
    });
    expect(updates.at(-1)).toMatchObject({ kind: 'end', end: { status: 'COMPLETED' } });
  });

  it('reports a node failing for good as an error update and a FAILED end', async () => {
    const updates = await collect(client.callStream('flaky', { failures: 10 }));
    expect(updates.map((u) => u.kind)).toEqual(['error', 'end']);
    const end = updates[1];
    expect(end?.kind === 'end' && end.end.status).toBe('FAILED');
    expect(end?.kind === 'end' && end.end.error?.code).toBe('NODE_EXCEPTION');
  });

  it('aborting the signal mid-stream fails the iterator with CANCELLED and cancels the trace', async () => {
    const traceId = newTraceId();
    const ac = new AbortController();
    const seen: TraceUpdate[] = [];
    const err = await rejection(
      (async () => {
        for await (const u of client.callStream('stream', { chunks: 1_000, delayMs: 20 }, { traceId, signal: ac.signal })) {
          seen.push(u);
          if (seen.length === 3) ac.abort(new Error('enough'));
        }
      })(),
    );
    expect(err.code).toBe('CANCELLED');
    expect(seen.map((u) => u.kind)).toEqual(['chunk', 'chunk', 'chunk']);
    const events = await historyUntil('stream', traceId, (e) => types(e).includes('trace_cancel_finish'));
    expect(types(events)).toContain('trace_cancel_start');
    expect(types(events)).toContain('trace_cancel_finish');
    expect(await client.cancel('stream', traceId)).toBe(false);
  });

  it('breaking out of the loop cancels the call and the trace', async () => {
    const traceId = newTraceId();
    for await (const u of client.callStream('stream', { chunks: 1_000, delayMs: 20 }, { traceId })) {
      if (u.kind === 'chunk' && u.chunk.seq === 1) break;
    }
    const events = await historyUntil('stream', traceId, (e) => types(e).includes('trace_cancel_finish'));
    expect(types(events)).toContain('trace_cancel_finish');
  });

  it('a stream deadline fails the iterator with DEADLINE_EXCEEDED', async () => {
    const kinds: string[] = [];
    const err = await rejection(
      (async () => {
        for await (const u of client.callStream('stream', { chunks: 1_000, delayMs: 20 }, { timeoutMs: 150 })) kinds.push(u.kind);
      })(),
    );
    expect(err.code).toBe('DEADLINE_EXCEEDED');
    expect(kinds.length).toBeGreaterThan(0);
    expect(kinds.every((k) => k === 'chunk')).toBe(true);
  });
});

describe('streamTrace', () => {
  it('streams an emitted trace to its end', async () => {
    const { traceId } = await client.emit('stream', { chunks: 3, delayMs: 10 });
    const updates = await collect(client.streamTrace('stream', traceId));
    expect(updates.map((u) => u.kind)).toEqual(['chunk', 'chunk', 'chunk', 'output', 'end']);
    expect(updates.every((u) => u.traceId === traceId)).toBe(true);
  });

  it('for a finished, fully fetched trace sends only the end', async () => {
    const { traceId } = await client.call('echo', 'x');
    expect(await collect(client.streamTrace('echo', traceId))).toEqual([
      { kind: 'end', traceId, end: { status: 'COMPLETED', error: undefined } },
    ]);
  });

  it('leaving a streamTrace loop does not cancel the trace', async () => {
    const { traceId } = await client.emit('stream', { chunks: 4, delayMs: 30 });
    for await (const u of client.streamTrace('stream', traceId)) {
      if (u.kind === 'chunk') break;
    }
    const rest = await collect(client.streamTrace('stream', traceId));
    expect(rest.at(-1)).toMatchObject({ kind: 'end', end: { status: 'COMPLETED' } });
    expect(rest.some((u) => u.kind === 'output')).toBe(true);
  });
});

describe('cancel', () => {
  it('cancels a running trace once; its fetch fails with CANCELLED and its stream ends CANCELLED', async () => {
    const { traceId } = await client.emit('slow', { ms: 60_000 });
    const stream = collect(client.streamTrace('slow', traceId));
    await eventually(() => readersOf(server, 'slow', traceId, TENANT) === 1);
    expect(await client.cancel('slow', traceId)).toBe(true);
    expect(await client.cancel('slow', traceId)).toBe(false);
    const updates = await stream;
    expect(updates.at(-1)).toMatchObject({ kind: 'end', traceId, end: { status: 'CANCELLED' } });
    const err = await rejection(client.fetch('slow', traceId));
    expect(err.code).toBe('CANCELLED');
    expect(err.details.errorInfo?.reason).toBe('TRACE_CANCELLED');
    expect(err.details.flowErrorCode).toBe('TRACE_CANCELLED');
    const events = await historyUntil('slow', traceId, (e) => types(e).includes('trace_cancel_finish'));
    expect(types(events).filter((t) => t === 'trace_cancel_start')).toHaveLength(1);
  });

  it('a pending call fails with CANCELLED, and a callStream ends CANCELLED, when the trace is cancelled elsewhere', async () => {
    const callTrace = newTraceId();
    const pendingCall = rejection(client.call('slow', { ms: 60_000 }, { traceId: callTrace }));
    const streamTrace = newTraceId();
    const pendingStream = collect(client.callStream('slow', { ms: 60_000 }, { traceId: streamTrace }));
    await eventually(() => readersOf(server, 'slow', callTrace, TENANT) === 1 && readersOf(server, 'slow', streamTrace, TENANT) === 1);
    expect(await client.cancel('slow', callTrace)).toBe(true);
    expect(await client.cancel('slow', streamTrace)).toBe(true);
    const err = await pendingCall;
    expect([err.code, err.details.errorInfo?.reason]).toEqual(['CANCELLED', 'TRACE_CANCELLED']);
    expect(await pendingStream).toEqual([{ kind: 'end', traceId: streamTrace, end: { status: 'CANCELLED', error: undefined } }]);
  });

  it('a pending fetch fails with CANCELLED when another caller cancels the trace', async () => {
    const { traceId } = await client.emit('slow', { ms: 60_000 });
    const pending = rejection(client.fetch('slow', traceId));
    await eventually(() => readersOf(server, 'slow', traceId, TENANT) === 1);
    await client.cancel('slow', traceId);
    expect((await pending).code).toBe('CANCELLED');
  });
});

describe('getHistory and subscribeEvents', () => {
  it('getHistory returns the stored events of a trace in seq order 1..n', async () => {
    const { traceId } = await client.call('chain5', { h: 1 });
    const events = await historyUntil('chain5', traceId, (e) => e.filter((x) => x.eventType === 'node_success').length === 5);
    expect(events.map((e) => e.seq)).toEqual(events.map((_e, i) => i + 1));
    expect(events.filter((e) => e.eventType === 'node_success').map((e) => e.nodeName)).toEqual(['hop1', 'hop2', 'hop3', 'hop4', 'hop5']);
    for (const e of events) {
      expect(e).toMatchObject({ traceId, flow: 'chain5', tenant: TENANT });
      expect(typeof e.ts).toBe('number');
    }
    const success = events.find((e) => e.eventType === 'node_success')!;
    expect(typeof success.latencyMs).toBe('number');
  });

  it('subscribeEvents replays and follows a trace live, and resumes after a seq', async () => {
    const traceId = newTraceId();
    const received: FlowEvent[] = [];
    await eventually(() => subscribersOf(server, TENANT) === 0);
    // Subscribe before the trace exists: with traceIds the server replays then follows live.
    const subscription = (async () => {
      try {
        for await (const e of client.subscribeEvents({ traceIds: [traceId], afterSeq: 0, signal: AbortSignal.timeout(10_000) })) {
          received.push(e);
          if (e.eventType === 'node_success' && e.nodeName === 'hop5') break;
        }
      } catch (err) {
        if (!(err instanceof FlowClientError && err.code === 'CANCELLED')) throw err;
      }
    })();
    await eventually(() => subscribersOf(server, TENANT) === 1);
    await client.call('chain5', 'live', { traceId });
    await subscription;
    expect(received.map((e) => e.seq)).toEqual(received.map((_e, i) => i + 1));
    expect(received.at(-1)).toMatchObject({ eventType: 'node_success', nodeName: 'hop5', flow: 'chain5', traceId });

    // Resume: a second subscription after seq 3 replays from seq 4 with no duplicate.
    const resumed: number[] = [];
    for await (const e of client.subscribeEvents({ traceIds: [traceId], afterSeq: 3n, eventTypes: ['node_start', 'node_success'] })) {
      resumed.push(e.seq);
      if (e.seq >= received.at(-1)!.seq) break;
    }
    expect(resumed[0]).toBeGreaterThan(3);
    expect(resumed).toEqual([...resumed].sort((a, b) => a - b));
  });

  it('subscribeEvents without traceIds follows live events of a flow, filtered by type', async () => {
    await eventually(() => subscribersOf(server, TENANT) === 0);
    const seen: FlowEvent[] = [];
    const ac = new AbortController();
    const sub = (async () => {
      try {
        for await (const e of client.subscribeEvents({ flow: 'fanout', eventTypes: ['node_success'], signal: ac.signal })) {
          seen.push(e);
          if (e.nodeName === 'final') break;
        }
      } catch (err) {
        if (!(err instanceof FlowClientError && err.code === 'CANCELLED')) throw err;
      }
    })();
    // A live-only subscription sees nothing from before it was registered: call once it is.
    let finished = false;
    const markFinished = (): void => void (finished = true);
    void sub.then(markFinished, markFinished);
    await eventually(() => subscribersOf(server, TENANT) === 1);
    const { traceId } = await client.call('fanout', 1);
    await eventually(() => finished, 5_000).finally(() => ac.abort());
    await sub;
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.every((e) => e.eventType === 'node_success' && e.flow === 'fanout' && e.traceId === traceId)).toBe(true);
    expect(seen.at(-1)?.nodeName).toBe('final');
  });
});

describe('FlowClientError codes', () => {
  it('NOT_FOUND for an unknown flow, on every flow-scoped method', async () => {
    const calls: Promise<unknown>[] = [
      client.emit('no-such-flow', 1),
      client.call('no-such-flow', 1),
      client.fetch('no-such-flow', 'abc'),
      client.cancel('no-such-flow', 'abc'),
      client.getHistory('no-such-flow', 'abc'),
      collect(client.callStream('no-such-flow', 1)),
      collect(client.streamTrace('no-such-flow', 'abc')),
      collect(client.subscribeEvents({ flow: 'no-such-flow' })),
    ];
    for (const p of calls) {
      const err = await rejection(p);
      expect(err.code).toBe('NOT_FOUND');
      expect(err.grpcStatus).toBe(5);
      expect(err.details.errorInfo?.reason).toBe('FLOW_NOT_FOUND');
    }
  });

  it('NOT_FOUND for an unknown trace, and for another tenant\'s trace', async () => {
    const unknown = newTraceId();
    for (const p of [
      client.fetch('echo', unknown),
      client.getHistory('echo', unknown),
      client.cancel('echo', unknown),
      collect(client.streamTrace('echo', unknown)),
    ]) {
      const err = await rejection(p);
      expect(err.code).toBe('NOT_FOUND');
      expect(err.details.errorInfo?.reason).toBe('TRACE_NOT_FOUND');
    }
    const { traceId } = await client.emit('slow', { ms: 60_000 });
    const other = createFlowClient({ baseUrl, tenant: 'someone-else' });
    try {
      const err = await rejection(other.fetch('slow', traceId));
      expect(err.code).toBe('NOT_FOUND');
      expect(err.details.errorInfo?.reason).toBe('TRACE_NOT_FOUND');
    } finally {
      other.close();
      await client.cancel('slow', traceId);
    }
  });

  it('INVALID_ARGUMENT with field violations for a bad trace id', async () => {
    const emitErr = await rejection(client.emit('echo', 1, { traceId: 'bad id!' }));
    expect(emitErr.code).toBe('INVALID_ARGUMENT');
    expect(emitErr.clientSide).toBe(false);
    expect(emitErr.details.fieldViolations.map((v) => v.field)).toContain('message.trace_id');
    for (const p of [client.fetch('echo', 'bad id!'), client.getHistory('echo', 'bad id!'), client.cancel('echo', '')]) {
      const err = await rejection(p);
      expect(err.code).toBe('INVALID_ARGUMENT');
      expect(err.details.fieldViolations.map((v) => v.field)).toContain('trace_id');
    }
  });

  it('PERMISSION_DENIED when the message tenant differs from the caller', async () => {
    const err = await rejection(client.emit('echo', 1, { tenant: 'not-me' }));
    expect([err.code, err.details.errorInfo?.reason]).toEqual(['PERMISSION_DENIED', 'TENANT_MISMATCH']);
  });

  it('INVALID_ARGUMENT for an unknown event type', async () => {
    const err = await rejection(collect(client.subscribeEvents({ eventTypes: ['node_start', 'nope'] })));
    expect(err.code).toBe('INVALID_ARGUMENT');
    expect(err.details.fieldViolations.length).toBeGreaterThan(0);
  });

  it('client-side INVALID_ARGUMENT for values JSON cannot carry (nothing is sent)', async () => {
    const err = await rejection(client.emit('echo', { n: Number.NaN }));
    expect([err.code, err.clientSide]).toEqual(['INVALID_ARGUMENT', true]);
  });

  it('DEADLINE_EXCEEDED from defaultTimeoutMs', async () => {
    const impatient = createFlowClient({ baseUrl, tenant: TENANT, defaultTimeoutMs: 100 });
    try {
      expect((await rejection(impatient.call('slow', { ms: 5_000 }))).code).toBe('DEADLINE_EXCEEDED');
    } finally {
      impatient.close();
    }
  });

  it('UNAVAILABLE when nothing listens on the address', async () => {
    const nowhere = createFlowClient({ baseUrl: 'http://127.0.0.1:1' });
    try {
      expect((await rejection(nowhere.listFlows({ timeoutMs: 2_000 }))).code).toBe('UNAVAILABLE');
    } finally {
      nowhere.close();
    }
  });

  it('close() cancels in-flight calls with CANCELLED and rejects later ones', async () => {
    const c = createFlowClient({ baseUrl, tenant: TENANT });
    const { traceId } = await c.emit('slow', { ms: 60_000 });
    const pending = rejection(c.fetch('slow', traceId));
    await eventually(() => readersOf(server, 'slow', traceId, TENANT) === 1);
    c.close();
    expect((await pending).code).toBe('CANCELLED');
    expect((await rejection(c.listFlows())).code).toBe('FAILED_PRECONDITION');
    await client.cancel('slow', traceId);
  });
});

describe('RESOURCE_EXHAUSTED (server with 1-slot queues and no admission wait)', () => {
  let tight: Awaited<ReturnType<typeof startServer>>;
  let tightClient: FlowClient;
  beforeAll(async () => {
    tight = await startServer(resolveConfig({ host: '127.0.0.1', port: 0, opsPort: 0, logLevel: 'silent', queueMaxsize: 1, admissionWaitMs: 0 }));
    tightClient = createFlowClient({ baseUrl: `http://127.0.0.1:${tight.port}`, tenant: TENANT, defaultTimeoutMs: 5_000 });
  });
  afterAll(async () => {
    tightClient?.close();
    await tight?.close({ drainTimeoutMs: 500 });
  });

  it('carries RetryInfo and QuotaFailure details', async () => {
    // Nobody fetches this trace: its 1-slot output buffer, the echo node and the ingress queue fill up.
    const traceId = newTraceId();
    let err: FlowClientError | undefined;
    for (let i = 0; i < 20 && err === undefined; i++) {
      try {
        await tightClient.emit('echo', i, { traceId });
      } catch (e) {
        err = FlowClientError.from(e);
      }
    }
    expect(err?.code).toBe('RESOURCE_EXHAUSTED');
    expect(err?.details.retryDelayMs).toBeGreaterThan(0);
    expect(err?.details.quotaViolations[0]?.subject).toBe('flow:echo');
    await tightClient.cancel('echo', traceId);
  });
});
