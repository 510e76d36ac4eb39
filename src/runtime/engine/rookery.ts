import { waitInQueue } from '../../internal/abortable-wait.js';
import { Deque } from '../../internal/deque.js';
import { TraceCancelled } from '../errors.js';
import type { Engine } from './engine.js';
import { OutputBucket, type OutputEntry, type Waiter } from './output-bucket.js';
import type { TraceState } from './trace-state.js';

/**
 * Rookery: where results of egress nodes wait to be fetched. Each trace has
 * its own bounded bucket (untraced outputs share one); an output goes
 * straight to a waiting fetch (the trace's own first, then an unscoped one)
 * or is buffered, its producer waiting while the bucket is full. An index in
 * arrival order over all buckets serves unscoped fetches; entries taken
 * through their bucket are skipped there lazily.
 */
export class Rookery {
  readonly #untraced: OutputBucket;
  /** Arrival order across all buckets, for unscoped fetch. */
  readonly #order = new Deque<OutputEntry>();
  /** How many entries of `#order` were taken elsewhere (or dropped) and wait to be skipped. */
  #orderTaken = 0;
  readonly #anyWaiters = new Deque<Waiter>();
  readonly #e: Engine;

  constructor(engine: Engine) {
    this.#e = engine;
    this.#untraced = new OutputBucket(engine.queueMaxsize, undefined);
  }

  /**
   * Delivers an output to a waiting fetch, or buffers it (waiting while the
   * trace's bucket is full). With `staged` (an invocation's last act) the
   * output is held back and {@link publish}ed when the invocation completes,
   * together with the trace's bookkeeping, so a caller that got the final
   * output finds the trace ended. Undefined when nothing had to wait.
   */
  deliver(trace: TraceState | undefined, value: unknown, staged?: unknown[]): Promise<void> | undefined {
    if (trace?.cancelled) return Promise.reject(new TraceCancelled(trace.id));
    const bucket = trace === undefined ? this.#untraced : trace.outputs;
    if (staged === undefined) {
      const waiter = bucket.waiters.shift() ?? this.#anyWaiters.shift();
      if (waiter !== undefined) {
        waiter.resolve(value);
        return undefined;
      }
    } else {
      if (!bucket.hasRoom()) this.serve(trace);
      if (bucket.hasRoom()) {
        staged.push(value);
        return undefined;
      }
    }
    if (bucket.hasRoom()) {
      this.#buffer(bucket, value);
      return undefined;
    }
    return new Promise<void>((resolve, reject) => bucket.putters.push({ value, resolve, reject }));
  }

  /** Buffers an invocation's staged outputs, unless its trace was cancelled or the flow stopped meanwhile. */
  publish(trace: TraceState | undefined, staged: readonly unknown[]): void {
    if (trace?.cancelled || this.#e.life.stopped) return;
    const bucket = trace === undefined ? this.#untraced : trace.outputs;
    for (const value of staged) this.#buffer(bucket, value);
  }

  /** Hands buffered outputs to waiting fetches: the trace's own first, then unscoped ones. */
  serve(trace: TraceState | undefined): void {
    const bucket = trace === undefined ? this.#untraced : trace.outputs;
    if (bucket.live === 0) return;
    let served = false;
    while (bucket.live > 0) {
      const waiter = bucket.waiters.shift() ?? this.#anyWaiters.shift();
      if (waiter === undefined) break;
      const entry = bucket.takeEntry()!;
      this.#noteTaken(1);
      served = true;
      waiter.resolve(entry.value);
    }
    if (served) this.#afterTake(trace);
  }

  /**
   * The next output of trace `traceId`, or of any trace in arrival order.
   * A trace-scoped fetch of a trace that is over rejects at once (see
   * `Flow.fetch`); one for a trace not emitted yet waits for it.
   */
  fetch(traceId: string | undefined, signal: AbortSignal | undefined): Promise<unknown> {
    if (traceId === undefined) return this.#fetchAny(signal);
    const traces = this.#e.traces;
    let trace = traces.get(traceId);
    if (trace === undefined) {
      const ended = traces.endedError(traceId);
      if (ended !== undefined) return Promise.reject(ended);
      trace = traces.awaitUnstarted(traceId);
    }
    const entry = trace.outputs.takeEntry();
    if (entry !== undefined) {
      this.#noteTaken(1);
      this.#afterTake(trace);
      return Promise.resolve(entry.value);
    }
    if (trace.cancelled) return Promise.reject(new TraceCancelled(trace.id));
    if (trace.ended) {
      traces.finalize(trace);
      return Promise.reject(traces.endError(trace));
    }
    return this.#wait(trace.outputs.waiters, signal, trace);
  }

  #buffer(bucket: OutputBucket, value: unknown): void {
    const entry: OutputEntry = { value, bucket, taken: false };
    bucket.entries.push(entry);
    bucket.live++;
    this.#order.push(entry);
  }

  /** Keeps the arrival-order index small: drop it whole once every entry in it was taken. */
  #noteTaken(n: number): void {
    this.#orderTaken += n;
    if (this.#orderTaken >= this.#order.length) {
      this.#order.clear();
      this.#orderTaken = 0;
    } else if (this.#orderTaken > 1024 && this.#orderTaken * 2 > this.#order.length) {
      this.#order.removeWhere((e) => e.taken);
      this.#orderTaken = 0;
    }
  }

  /** After a take: admit a blocked producer; finalize an ended trace whose buffer is drained. */
  #afterTake(trace: TraceState | undefined): void {
    const bucket = trace === undefined ? this.#untraced : trace.outputs;
    while (bucket.putters.length > 0 && bucket.hasRoom()) {
      const p = bucket.putters.shift()!;
      this.#buffer(bucket, p.value);
      p.resolve();
    }
    if (trace !== undefined && trace.ended && bucket.live === 0 && bucket.waiters.length === 0) this.#e.traces.finalize(trace);
  }

  #fetchAny(signal: AbortSignal | undefined): Promise<unknown> {
    for (let e = this.#order.shift(); e; e = this.#order.shift()) {
      if (e.taken) {
        this.#orderTaken--;
        continue;
      }
      // Taken out of its bucket lazily: the bucket's deque skips it, its live count drops now.
      e.taken = true;
      e.bucket.live--;
      this.#afterTake(e.bucket.trace);
      return Promise.resolve(e.value);
    }
    return this.#wait(this.#anyWaiters, signal, undefined);
  }

  #wait(queue: Deque<Waiter>, signal: AbortSignal | undefined, trace: TraceState | undefined): Promise<unknown> {
    return waitInQueue<unknown>(
      signal,
      (w) => queue.push(w),
      (w) => queue.remove(w),
      () => {
        if (trace === undefined) return;
        if (!trace.started && trace.outputs.waiters.length === 0) this.#e.traces.forgetUnstarted(trace);
        else if (trace.ended) this.#afterTake(trace);
      },
    );
  }

  /**
   * Drops a trace's buffered outputs. They stay in the arrival-order index,
   * marked taken, and are counted so the index still empties.
   */
  drop(bucket: OutputBucket): void {
    const n = bucket.dropAll();
    if (n > 0) this.#noteTaken(n);
  }

  /** Cancel: drops the trace's outputs and rejects its blocked producers and waiting fetches. */
  dropTrace(trace: TraceState, reason: TraceCancelled): void {
    const bucket = trace.outputs;
    this.drop(bucket);
    for (let p = bucket.putters.shift(); p; p = bucket.putters.shift()) p.reject(reason);
    for (let w = bucket.waiters.shift(); w; w = bucket.waiters.shift()) w.reject(reason);
  }

  /** Stop: drops every output and rejects every producer and fetch waiting here. */
  stop(reason: Error): void {
    for (const bucket of [this.#untraced, ...[...this.#e.traces.live()].map((t) => t.outputs)]) {
      bucket.dropAll();
      for (let w = bucket.waiters.shift(); w; w = bucket.waiters.shift()) w.reject(reason);
      for (let p = bucket.putters.shift(); p; p = bucket.putters.shift()) p.reject(reason);
    }
    for (let w = this.#anyWaiters.shift(); w; w = this.#anyWaiters.shift()) w.reject(reason);
  }

  clear(): void {
    this.#order.clear();
    this.#orderTaken = 0;
  }

  /** The untraced bucket and unscoped fetches, for `stats()`. */
  counts(): { buffered: number; waiters: number; blocked: number } {
    return { buffered: this.#untraced.live, waiters: this.#anyWaiters.length + this.#untraced.waiters.length, blocked: this.#untraced.putters.length };
  }
}
