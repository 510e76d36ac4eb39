/**
 * {@link EventLog} in process memory: the default until a durable store is
 * configured.
 */
import type { FlowEvent } from '../runtime/index.js';
import type { EventListener, EventLog, LoggedEvent } from './event-log.js';

/** Options of {@link InMemoryEventLog}. */
export interface InMemoryEventLogOptions {
  /** How long a released trace's events are kept. */
  retentionMs: number;
  /** Most released traces kept; the oldest released are forgotten first. */
  maxReleasedTraces: number;
  /**
   * Most events kept per trace; older ones are dropped first (a runaway
   * controller loop must not exhaust memory). Default 10 000.
   */
  maxEventsPerTrace?: number;
}

/**
 * One trace's events. Stored as parallel arrays of the runtime events and
 * their flow names rather than as {@link LoggedEvent} objects: every event
 * of every trace lands here and lives for the retention period, so one
 * wrapper object less per event is a large share of the server's garbage
 * collection work. `LoggedEvent`s are built only when read.
 */
interface TraceLog {
  readonly events: (FlowEvent | undefined)[];
  readonly flows: (string | undefined)[];
  /** Index of the oldest kept event (older ones were dropped over the cap). */
  head: number;
  /** Seq of `events[0]`. */
  baseSeq: number;
  refs: number;
  releasedAt: number;
}

function newTraceLog(releasedAt: number): TraceLog {
  return { events: [], flows: [], head: 0, baseSeq: 1, refs: 0, releasedAt };
}

/**
 * Bounded in-memory event log.
 *
 * Memory is bounded three ways: events per trace (oldest dropped, so a
 * very long trace's replay starts later than seq 1), the retention period
 * after a trace is released, and the number of released traces kept.
 * Live traces are never dropped: their count is bounded by the runtime's
 * own admission.
 */
export class InMemoryEventLog implements EventLog {
  readonly #traces = new Map<string, TraceLog>();
  /** Released traces in release order, for cheap expiry. */
  readonly #released = new Map<string, TraceLog>();
  readonly #listeners = new Map<string, Set<EventListener>>();
  readonly #retentionMs: number;
  readonly #maxReleased: number;
  readonly #maxEvents: number;

  constructor(opts: InMemoryEventLogOptions) {
    this.#retentionMs = opts.retentionMs;
    this.#maxReleased = opts.maxReleasedTraces;
    this.#maxEvents = Math.max(1, opts.maxEventsPerTrace ?? 10_000);
  }

  /** Traces currently stored (for diagnostics and leak tests). */
  get traceCount(): number {
    return this.#traces.size;
  }

  append(flow: string, tenant: string, traceId: string, event: FlowEvent): void {
    const id = `${tenant}\u001f${traceId}`;
    let log = this.#traces.get(id);
    if (log === undefined) {
      // A late event (e.g. trace_cancel_finish) for a trace already
      // forgotten starts a fresh log that expires on its own.
      log = newTraceLog(Date.now());
      this.#traces.set(id, log);
      this.#noteReleased(id, log);
    }
    const seq = log.baseSeq + log.events.length;
    log.events.push(event);
    log.flows.push(flow);
    if (log.events.length - log.head > this.#maxEvents) this.#dropOldest(log);
    const listeners = this.#listeners.get(tenant);
    if (listeners === undefined) return;
    const logged: LoggedEvent = { flow, tenant, traceId, seq, event };
    for (const listener of listeners) {
      try {
        listener(logged);
      } catch {
        // A listener is a subscriber's queue; its failure must not stop the flow.
      }
    }
  }

  history(tenant: string, traceId: string, afterSeq = 0): Promise<readonly LoggedEvent[] | undefined> {
    const log = this.#traces.get(`${tenant}\u001f${traceId}`);
    if (log === undefined) return Promise.resolve(undefined);
    const out: LoggedEvent[] = [];
    const from = Math.max(log.head, afterSeq - log.baseSeq + 1);
    for (let i = from; i < log.events.length; i++) {
      out.push({ flow: log.flows[i]!, tenant, traceId, seq: log.baseSeq + i, event: log.events[i]! });
    }
    return Promise.resolve(out);
  }

  #dropOldest(log: TraceLog): void {
    log.events[log.head] = undefined;
    log.flows[log.head] = undefined;
    log.head++;
    if (log.head > 1024 && log.head * 2 > log.events.length) {
      log.events.splice(0, log.head);
      log.flows.splice(0, log.head);
      log.baseSeq += log.head;
      log.head = 0;
    }
  }

  subscribe(tenant: string, listener: EventListener): () => void {
    let set = this.#listeners.get(tenant);
    if (set === undefined) {
      set = new Set();
      this.#listeners.set(tenant, set);
    }
    set.add(listener);
    return () => {
      const current = this.#listeners.get(tenant);
      if (current === undefined) return;
      current.delete(listener);
      if (current.size === 0) this.#listeners.delete(tenant);
    };
  }

  retain(tenant: string, traceId: string): void {
    const id = `${tenant}\u001f${traceId}`;
    let log = this.#traces.get(id);
    if (log === undefined) {
      log = newTraceLog(0);
      this.#traces.set(id, log);
    }
    log.refs++;
    this.#released.delete(id);
  }

  release(tenant: string, traceId: string): void {
    const id = `${tenant}\u001f${traceId}`;
    const log = this.#traces.get(id);
    if (log === undefined || log.refs === 0) return;
    log.refs--;
    if (log.refs === 0) {
      log.releasedAt = Date.now();
      this.#noteReleased(id, log);
    }
  }

  sweep(now = Date.now()): void {
    for (const [id, log] of this.#released) {
      if (now - log.releasedAt < this.#retentionMs) break;
      this.#released.delete(id);
      this.#traces.delete(id);
    }
  }

  #noteReleased(id: string, log: TraceLog): void {
    this.#released.delete(id);
    this.#released.set(id, log);
    while (this.#released.size > this.#maxReleased) {
      const oldest = this.#released.keys().next().value;
      if (oldest === undefined) break;
      this.#released.delete(oldest);
      this.#traces.delete(oldest);
    }
  }
}
