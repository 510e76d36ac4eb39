import { OldestFirst } from '../../internal/oldest-first.js';
import { TraceCancelled, TraceEndedError, type FlowError, type TraceStatus } from '../errors.js';
import { describeError } from '../logger.js';
import type { Engine } from './engine.js';
import { TraceState } from './trace-state.js';

/** How a trace ended: all a late fetch needs to know. */
export interface EndedRecord {
  readonly status: TraceStatus;
  readonly error: FlowError | undefined;
}

/** Ended records without an error are shared: the cache holds thousands of them, one per trace. */
const PLAIN_ENDINGS: Readonly<Record<TraceStatus, EndedRecord>> = {
  COMPLETED: { status: 'COMPLETED', error: undefined },
  FAILED: { status: 'FAILED', error: undefined },
  CANCELLED: { status: 'CANCELLED', error: undefined },
  DEADLINE_EXCEEDED: { status: 'DEADLINE_EXCEEDED', error: undefined },
};

function endedRecord(trace: TraceState): EndedRecord {
  return trace.failure === undefined ? PLAIN_ENDINGS[trace.status()] : { status: trace.status(), error: trace.failure };
}

function endedError(traceId: string, rec: EndedRecord): Error {
  // Every trace a server consumes ends with one of these; a stack trace would
  // cost more than the trace's own hops and says nothing (the cause is data).
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return rec.status === 'CANCELLED' ? new TraceCancelled(traceId) : new TraceEndedError(traceId, rec.status, rec.error);
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/**
 * The life of a trace: started by its first emit, counted while it has
 * pending work (queued, waiting to enter an edge, running), ended when none
 * is left, forgotten once its outputs were fetched. Only its final status
 * outlives it, in a cache bounded by `endedTraceCacheSize` (oldest
 * forgotten first), so a late fetch can still say how it ended. Cancelling
 * a trace drops its work everywhere and waits for its invocations to unwind.
 */
export class TraceLifecycle {
  readonly #live = new Map<string, TraceState>();
  readonly #ended = new Map<string, EndedRecord>();
  readonly #oldestEnded = new OldestFirst(() => this.#ended.keys());
  readonly #endedCap: number;
  /** The `onTraceEnd` hooks of the flow's nodes (joinK's bucket release). */
  readonly #endHooks: { readonly node: string; readonly hook: (traceId: string) => void }[] = [];
  readonly #e: Engine;

  constructor(engine: Engine, endedCap: number) {
    this.#e = engine;
    this.#endedCap = Math.max(0, endedCap);
    for (const node of engine.graph.nodes) {
      const hook = node.hooks?.onTraceEnd;
      if (hook) this.#endHooks.push({ node: node.name, hook });
    }
  }

  /** The live trace `traceId` (running, holding outputs, or awaited by a fetch). */
  get(traceId: string): TraceState | undefined {
    return this.#live.get(traceId);
  }

  live(): IterableIterator<TraceState> {
    return this.#live.values();
  }

  /** Live traces. */
  get size(): number {
    return this.#live.size;
  }

  /** Ended traces whose status is remembered. */
  get endedSize(): number {
    return this.#ended.size;
  }

  /**
   * The trace a new message joins: new, restarted after it ended (the same
   * id emitted again), or the live one.
   *
   * @throws TraceCancelled while the trace's cancellation is in progress.
   */
  start(traceId: string): TraceState {
    let trace = this.#live.get(traceId);
    if (trace === undefined) {
      this.#ended.delete(traceId);
      trace = new TraceState(traceId, this.#e.queueMaxsize);
      this.#live.set(traceId, trace);
      trace.started = true;
    } else if (trace.cancelled) {
      throw new TraceCancelled(traceId);
    } else if (!trace.started || trace.ended) {
      trace.restart();
    }
    return trace;
  }

  /** A placeholder for a trace not emitted yet, which a fetch waits on. */
  awaitUnstarted(traceId: string): TraceState {
    const trace = new TraceState(traceId, this.#e.queueMaxsize);
    this.#live.set(traceId, trace);
    return trace;
  }

  /** The last fetch waiting on a placeholder gave up: forget it. */
  forgetUnstarted(trace: TraceState): void {
    if (this.#live.get(trace.id) === trace) this.#live.delete(trace.id);
  }

  /** Marks one unit of a trace's pending work done; ends the trace when none is left. */
  release(trace: TraceState | undefined): void {
    if (trace === undefined) return;
    if (--trace.pending > 0 || !trace.started) return;
    if (trace.cancelled) trace.onIdle?.();
    else this.#end(trace);
  }

  #end(trace: TraceState): void {
    trace.ended = true;
    // Stream counters stay until the trace is forgotten: a trace that goes
    // idle between two chunks (a fast consumer of chunks emitted from
    // outside) keeps numbering its streams where they were.
    this.#notifyEnd(trace.id);
    this.#e.rookery.serve(trace);
    if (this.#live.get(trace.id) !== trace) return;
    const waiters = trace.outputs.waiters;
    if (waiters.length > 0) {
      const err = this.endError(trace);
      for (let w = waiters.shift(); w; w = waiters.shift()) w.reject(err);
    }
    if (trace.outputs.live === 0) this.finalize(trace);
  }

  /** Forgets a trace, keeping only its final status in the bounded cache. */
  finalize(trace: TraceState): void {
    if (this.#live.get(trace.id) !== trace) return;
    this.#live.delete(trace.id);
    this.#e.rookery.drop(trace.outputs);
    if (this.#endedCap === 0) return;
    this.#ended.delete(trace.id);
    this.#ended.set(trace.id, endedRecord(trace));
    while (this.#ended.size > this.#endedCap) {
      const oldest = this.#oldestEnded.next();
      if (oldest === undefined) break;
      this.#ended.delete(oldest);
    }
  }

  /** What a fetch of the ended trace rejects with. */
  endError(trace: TraceState): Error {
    return endedError(trace.id, endedRecord(trace));
  }

  /** What a fetch of a forgotten trace rejects with, when its end is still remembered. */
  endedError(traceId: string): Error | undefined {
    const rec = this.#ended.get(traceId);
    return rec === undefined ? undefined : endedError(traceId, rec);
  }

  /** `Flow.traceOutcome`: how the trace ended, once it is over with nothing left to fetch. */
  outcome(traceId: string): EndedRecord | undefined {
    const trace = this.#live.get(traceId);
    if (trace === undefined) return this.#ended.get(traceId);
    if (trace.outputs.live > 0) return undefined;
    if (trace.cancelled) return PLAIN_ENDINGS.CANCELLED;
    return trace.ended ? endedRecord(trace) : undefined;
  }

  /**
   * Cancels a live trace: one `trace_cancel_start`, its work dropped from
   * every edge and from Rookery, its waiters rejected and its invocations
   * aborted with `TraceCancelled`; then, once its pending work has unwound,
   * one `trace_cancel_finish`.
   *
   * @returns false for an unknown, ended or already cancelling trace.
   */
  async cancel(traceId: string): Promise<boolean> {
    const trace = this.#live.get(traceId);
    if (trace === undefined || !trace.started || trace.ended) return false;
    if (trace.cancelled) {
      await trace.cancelDone;
      return false;
    }
    trace.cancelled = true;
    let finish!: () => void;
    trace.cancelDone = new Promise<void>((r) => (finish = r));
    const e = this.#e;
    e.bus.emit('trace_cancel_start', undefined, trace, 0, undefined);
    const reason = new TraceCancelled(trace.id);
    e.scheduler.dropTrace(trace, reason);
    e.rookery.dropTrace(trace, reason);
    for (const inv of [...trace.invocations]) inv.abort(reason);
    this.#notifyEnd(trace.id);

    if (trace.pending > 0) await new Promise<void>((resolve) => (trace.onIdle = resolve));
    trace.onIdle = undefined;
    e.bus.emit('trace_cancel_finish', undefined, trace, 0, undefined);
    trace.ended = true;
    this.finalize(trace);
    finish();
    return true;
  }

  /** Stop: aborts every running invocation (and retry backoff) with `reason`. */
  abortInvocations(reason: Error): void {
    for (const trace of this.#live.values()) {
      for (const inv of trace.invocations) inv.abort(reason);
    }
  }

  clear(): void {
    this.#live.clear();
    this.#ended.clear();
  }

  #notifyEnd(traceId: string): void {
    for (const { node, hook } of this.#endHooks) {
      try {
        hook(traceId);
      } catch (err) {
        this.#e.log().error({ err: describeError(err), node }, 'onTraceEnd hook failed');
      }
    }
  }
}
