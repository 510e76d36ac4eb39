/**
 * Runtime events as the host stores and serves them: numbered per (tenant,
 * trace id), attributed to a flow, with the client's trace id.
 */
import { FlowEvent, type FlowEventType } from '../runtime/index.js';
import type { StoredEventRow } from '../state/cluster/trace-store.js';
import { traceKey } from '../state/cluster/trace-key.js';

/** A runtime event as the service records it. */
export interface LoggedEvent {
  /** Hosted flow that produced the event. */
  readonly flow: string;
  /** Tenant owning the trace. */
  readonly tenant: string;
  /** The client's trace id (never the runtime's internal key). */
  readonly traceId: string;
  /** Per-(tenant, trace id) sequence number: 1, 2, 3, … with no gaps. */
  readonly seq: number;
  /** The runtime event; its own `traceId` is the internal key, so use {@link traceId} instead. */
  readonly event: FlowEvent;
}

/** A number as JSON (`null` when not finite, as JSON.stringify does). */
function fin(n: number): string {
  return Number.isFinite(n) ? String(n) : 'null';
}

/**
 * The stored fields of an event besides type, node and time, as a JSON
 * object text, defaults left out (0 attempts, no cancellation, empty extra)
 * to keep rows small. Written by hand: every event of every trace goes
 * through it (test/unit/host/event-records.test.ts holds it to JSON.stringify).
 */
export function eventPayloadJson(e: FlowEvent): string {
  let s = `{"queueDepthIn":${fin(e.queueDepthIn)},"queueDepthOut":${fin(e.queueDepthOut)},"outgoingEdges":${fin(e.outgoingEdges)},"queueMaxsize":${fin(e.queueMaxsize)}`;
  if (e.attempt !== 0) s += `,"attempt":${fin(e.attempt)}`;
  if (e.latencyMs !== undefined) s += `,"latencyMs":${fin(e.latencyMs)}`;
  if (e.tracePending !== undefined) s += `,"tracePending":${fin(e.tracePending)}`;
  if (e.traceInflight !== undefined) s += `,"traceInflight":${fin(e.traceInflight)}`;
  if (e.traceCancelled) s += ',"traceCancelled":true';
  for (const _ in e.extra) {
    s += `,"extra":${JSON.stringify(e.extra)}`;
    break;
  }
  return `${s}}`;
}

function num(v: unknown, fallback = 0): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : fallback;
}

function optNum(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

/** Rebuilds the logged event of a stored row. */
export function loggedEventOf(r: StoredEventRow): LoggedEvent {
  let p: Record<string, unknown>;
  try {
    const parsed = JSON.parse(r.payloadJson) as unknown;
    p = typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : {};
  } catch {
    p = {};
  }
  const event = new FlowEvent({
    eventType: r.kind as FlowEventType,
    ts: r.ts,
    nodeName: r.nodeName,
    nodeId: r.nodeId,
    traceId: traceKey(r.tenant, r.traceId),
    attempt: num(p.attempt),
    latencyMs: optNum(p.latencyMs),
    queueDepthIn: num(p.queueDepthIn),
    queueDepthOut: num(p.queueDepthOut),
    outgoingEdges: num(p.outgoingEdges),
    queueMaxsize: num(p.queueMaxsize),
    tracePending: optNum(p.tracePending),
    traceInflight: optNum(p.traceInflight),
    traceCancelled: p.traceCancelled === true,
    extra: typeof p.extra === 'object' && p.extra !== null ? (p.extra as Record<string, unknown>) : {},
  });
  return { flow: r.flow, tenant: r.tenant, traceId: r.traceId, seq: r.seq, event };
}
