/**
 * Several hosts ("replicas") in one process sharing one in-memory trace
 * store: the cluster logic of the host layer without sockets or a database.
 */
import pino from 'pino';
import { create, createMessage, defineFlow, Node, type Context, type FlowDefinition, type Message } from '../../../../src/runtime/index.js';
import { Host } from '../../../../src/host/host.js';
import type { TraceDelivery } from '../../../../src/host/trace-delivery.js';
import type { TraceReader } from '../../../../src/host/trace-reader.js';
import { MemoryTraceStore } from '../../../../src/state/cluster/memory-trace-store.js';
import type { TraceStore } from '../../../../src/state/cluster/trace-store.js';

/** Calls of node code, for at-least-once and cancellation assertions. */
export const probes = {
  started: new Map<string, number>(),
  aborted: new Set<string>(),
  reset(): void {
    this.started.clear();
    this.aborted.clear();
  },
};

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason as Error);
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(t);
      reject(signal.reason as Error);
    }, { once: true });
  });
}

/** echo, slow (payload.ms, records starts and aborts) and stream (payload.chunks). */
export const testFlows: FlowDefinition[] = [
  defineFlow({
    name: 'echo',
    build: ({ queueMaxsize }) => create([new Node((m: Message) => m, { name: 'echo' }).to()], { queueMaxsize }),
  }),
  defineFlow({
    name: 'slow',
    build: ({ queueMaxsize }) => {
      const wait = new Node(
        async (msg: Message<{ ms?: number; tag?: string }>, ctx: Context) => {
          const tag = msg.payload.tag ?? msg.traceId;
          probes.started.set(tag, (probes.started.get(tag) ?? 0) + 1);
          try {
            await sleep(msg.payload.ms ?? 50, ctx.signal);
          } catch (err) {
            probes.aborted.add(tag);
            throw err;
          }
          return { ...msg, payload: { slept: msg.payload.ms ?? 50, tag } };
        },
        { name: 'wait', policy: { maxConcurrency: 1024 } },
      );
      return create([wait.to()], { queueMaxsize });
    },
  }),
  defineFlow({
    name: 'stream',
    build: ({ queueMaxsize }) => {
      const s = new Node(
        async (msg: Message<{ chunks?: number }>, ctx: Context) => {
          const n = msg.payload.chunks ?? 3;
          for (let i = 0; i < n; i++) await ctx.emitChunk({ parent: msg, text: `c${i}`, done: i === n - 1 });
          return { ...msg, payload: { chunks: n } };
        },
        { name: 'streamer', policy: { maxConcurrency: 64 } },
      );
      return create([s.to()], { queueMaxsize });
    },
  }),
];

/** Options of {@link startHost}. */
export interface TestHostOptions {
  readonly id: string;
  readonly store: TraceStore;
  readonly leaseMs?: number;
  readonly pollMs?: number;
  readonly maxRunningPerFlow?: number;
  readonly tenantMaxInflight?: number;
  readonly maxQueued?: number;
}

/** A started host on `store`. */
export async function startHost(opts: TestHostOptions): Promise<Host> {
  const host = await Host.create({
    definitions: testFlows,
    queueMaxsize: 64,
    logger: pino({ level: 'silent' }),
    store: opts.store,
    replicaId: opts.id,
    leaseMs: opts.leaseMs ?? 5000,
    pollMs: opts.pollMs ?? 100,
    tenantMaxInflight: opts.tenantMaxInflight ?? 0,
    maxQueued: opts.maxQueued ?? 0,
    maxRunningPerFlow: opts.maxRunningPerFlow,
    traceRetentionMs: 60_000,
    historyRetentionMs: 60_000,
    // All replicas here share one pid: none is a dead predecessor of another.
    takeOverDeadNeighbours: false,
  });
  await host.start();
  return host;
}

/** A shared in-memory store. */
export function sharedStore(leaseMs = 5000): MemoryTraceStore {
  return new MemoryTraceStore({ leaseMs, idempotencyRetentionMs: 60_000, retentionMs: 60_000, maxEndedPerFlow: 10_000 });
}

/** A message for `tenant`. */
export function msg(tenant: string, payload: unknown, traceId?: string): Message {
  return createMessage({ payload, headers: { tenant }, ...(traceId === undefined ? {} : { traceId }) });
}

/** A signal source that aborts after `ms`. */
export function within(ms: number): { signal: AbortSignal } {
  return { signal: AbortSignal.timeout(ms) };
}

/** Reads until the end; returns every delivery (the end last). */
export async function readAll(reader: TraceReader, ms = 5000): Promise<TraceDelivery[]> {
  const from = within(ms);
  const out: TraceDelivery[] = [];
  try {
    for (;;) {
      const { delivery } = await reader.next(from);
      out.push(delivery);
      if (delivery.kind === 'end') return out;
    }
  } finally {
    reader.close();
  }
}

/** Payload of an output delivery. */
export function payloadOf(d: TraceDelivery | undefined): unknown {
  if (d?.kind !== 'output') return undefined;
  return (d.value as Message).payload;
}
