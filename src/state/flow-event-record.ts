/**
 * How a runtime {@link FlowEvent} is stored: the fields with their own
 * column (ts, kind, node) and the payload column holding the rest.
 */
import type { FlowEvent } from '../runtime/index.js';
import type { EventRecord } from './types.js';

/**
 * The payload column: every FlowEvent field not stored in its own column,
 * defaults left out (0 attempts, no cancellation, empty extra) to keep rows small.
 */
export function eventPayload(e: FlowEvent): Record<string, unknown> {
  const p: Record<string, unknown> = {
    queueDepthIn: e.queueDepthIn,
    queueDepthOut: e.queueDepthOut,
    outgoingEdges: e.outgoingEdges,
    queueMaxsize: e.queueMaxsize,
  };
  if (e.attempt !== 0) p.attempt = e.attempt;
  if (e.latencyMs !== undefined) p.latencyMs = e.latencyMs;
  if (e.tracePending !== undefined) p.tracePending = e.tracePending;
  if (e.traceInflight !== undefined) p.traceInflight = e.traceInflight;
  if (e.traceCancelled) p.traceCancelled = true;
  for (const _ in e.extra) {
    p.extra = e.extra;
    break;
  }
  return p;
}

/** {@link eventPayload} serialized by hand: no intermediate object, no generic JSON walk (every event is written). */
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

/** A number as JSON (`null` when not finite, as JSON.stringify does). */
function fin(n: number): string {
  return Number.isFinite(n) ? String(n) : 'null';
}

/**
 * The record of a runtime event, made from the event itself: the payload
 * is derived on demand (getters on the prototype, not two closures per
 * event), and {@link event} lets in-memory readers skip the round trip
 * through the payload.
 */
export class FlowEventRecord implements EventRecord {
  constructor(
    readonly tenant: string,
    readonly traceId: string,
    readonly seq: number,
    readonly flow: string,
    readonly event: FlowEvent,
  ) {}

  get ts(): number {
    return this.event.ts;
  }

  get kind(): string {
    return this.event.eventType;
  }

  get nodeName(): string | undefined {
    return this.event.nodeName;
  }

  get nodeId(): string | undefined {
    return this.event.nodeId;
  }

  get payload(): Record<string, unknown> {
    return eventPayload(this.event);
  }

  get payloadJson(): string {
    return eventPayloadJson(this.event);
  }
}
