/**
 * Runs one hosted flow's traces on this replica: the runtime `Flow`, the
 * runs it holds ({@link LocalTrace}), and the pump that moves each run's
 * outputs from the runtime to the store and the readers here.
 */
import type { Logger } from 'pino';
import { FlowStoppedError, TraceCancelled, TraceEndedError, type Flow, type FlowEvent } from '../runtime/index.js';
import type { GroupCommitter } from '../state/cluster/group-commit.js';
import { LocalTrace, type LocalTraceInit } from './local-trace.js';
import { classify, flowErrorPayload, outcome, type TraceOutcome } from './trace-delivery.js';

/** Options of {@link FlowExecutor}. */
export interface FlowExecutorOptions {
  readonly name: string;
  /** A built flow, not running yet. */
  readonly flow: Flow;
  readonly committer: GroupCommitter;
  readonly logger: Logger;
  /** Most runs this replica holds at once for the flow (queued in the runtime or running). */
  readonly maxRunning: number;
  /** How often a runner blocked on unread updates re-checks (readers elsewhere take without telling it). */
  readonly roomPollMs: number;
  /** Encodes an event's stored fields. */
  readonly eventPayloadJson: (event: FlowEvent) => string;
  /** Extra fields stamped on every event of every run (e.g. the replica id); undefined: none. */
  readonly eventExtra?: Readonly<Record<string, string>> | undefined;
  /** Told when a run this replica held is over here (ended, lost or stopped). */
  readonly onRunOver?: (run: LocalTrace) => void;
}

/** The executor of one hosted flow; see the module comment. */
export class FlowExecutor {
  readonly name: string;
  readonly flow: Flow;
  readonly #locals = new Map<string, LocalTrace>();
  readonly #opts: FlowExecutorOptions;
  #reserved = 0;
  #stopping = false;

  constructor(opts: FlowExecutorOptions) {
    this.name = opts.name;
    this.flow = opts.flow;
    this.#opts = opts;
    opts.flow.addMiddleware((event) => this.#onEvent(event));
  }

  /** Runs held here. */
  get running(): number {
    return this.#locals.size;
  }

  /** Room for this many more runs here (reservations included). */
  get free(): number {
    return this.#stopping ? 0 : Math.max(0, this.#opts.maxRunning - this.#locals.size - this.#reserved);
  }

  /**
   * Reserves room for a run that is being accepted; returns the release
   * function (call it once the run started here, or was not accepted), or
   * undefined when there is no room.
   */
  reserve(): (() => void) | undefined {
    if (this.free <= 0) return undefined;
    this.#reserved++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#reserved--;
    };
  }

  /** The run of `key` (`traceKey(tenant, traceId)`) held here, if any. */
  local(key: string): LocalTrace | undefined {
    return this.#locals.get(key);
  }

  /** Every run held here. */
  locals(): IterableIterator<LocalTrace> {
    return this.#locals.values();
  }

  /** Starts the runtime flow. */
  start(): void {
    this.flow.run();
  }

  /**
   * Starts a run here: registers it and emits `inputs` (the run's messages
   * from number `init.inputsSeen` on) into the runtime, in order.
   */
  run(init: LocalTraceInit, inputs: readonly unknown[]): LocalTrace {
    const previous = this.#locals.get(init.key);
    previous?.relinquish();
    const t = new LocalTrace(init, {
      committer: this.#opts.committer,
      flow: this.name,
      eventPayloadJson: this.#opts.eventPayloadJson,
    });
    this.#locals.set(init.key, t);
    for (const msg of inputs) this.join(t, msg, t.inputsSeen);
    void this.#pump(t);
    return t;
  }

  /**
   * Emits the run's message number `index` (0-based, in acceptance order)
   * into the runtime. Messages come in order: one already emitted is
   * skipped; one beyond the next returns false (the caller loads the
   * missing ones from the store first).
   */
  join(t: LocalTrace, message: unknown, index: number): boolean {
    if (t.moved || index < t.inputsSeen) return true;
    if (index > t.inputsSeen) return false;
    t.inputsSeen++;
    this.#emit(t, message);
    return true;
  }

  /**
   * Cancels a run held here: the runtime drops its work and aborts its
   * invocations (`ctx.signal`), emits its cancellation events, and the
   * pump stores the end as CANCELLED.
   *
   * @returns false when the run was already over or being cancelled.
   */
  async cancel(t: LocalTrace): Promise<boolean> {
    if (t.moved || t.cancelling || t.outcome !== undefined) return false;
    t.cancelling = true;
    return this.flow.cancel(t.key);
  }

  /**
   * Stops running `t` here without storing anything more for it (another
   * replica took it over, or it is being handed back): its runtime work is
   * cancelled; readers here switch to the store.
   */
  relinquish(t: LocalTrace): void {
    if (t.moved) return;
    t.relinquish();
    if (this.#locals.get(t.key) === t) this.#locals.delete(t.key);
    this.#opts.onRunOver?.(t);
    void this.flow.cancel(t.key).catch(() => undefined);
  }

  /** Refuses new runs (draining). */
  stopAccepting(): void {
    this.#stopping = true;
  }

  /** Stops the runtime flow: runs still held end here (readers here get UNAVAILABLE). */
  async stop(): Promise<void> {
    this.#stopping = true;
    await this.flow.stop();
  }

  #emit(t: LocalTrace, msg: unknown): void {
    try {
      if (this.flow.tryEmit(msg, { traceId: t.key })) return;
    } catch (err) {
      this.#emitFailed(t, err);
      return;
    }
    this.flow.emit(msg, { traceId: t.key }).catch((err: unknown) => this.#emitFailed(t, err));
  }

  #emitFailed(t: LocalTrace, err: unknown): void {
    // Cancelled or stopping: the pump reports the end. Anything else is a bug.
    if (err instanceof TraceCancelled || err instanceof FlowStoppedError) return;
    this.#opts.logger.error({ flow: this.name, err: describeError(err) }, 'emitting a message into the runtime failed');
  }

  async #pump(t: LocalTrace): Promise<void> {
    let end: TraceOutcome | undefined;
    let error: unknown;
    try {
      for (;;) {
        if (t.moved) return;
        while (t.full && !t.moved) await t.waitForRoom(this.#opts.roomPollMs);
        if (t.moved) return;
        // Over without output: no rejection needed to learn it.
        const over = this.flow.traceOutcome(t.key);
        if (over !== undefined) {
          end = outcome(over.status, over.error);
          error = over.error === undefined ? undefined : flowErrorPayload(over.error);
          break;
        }
        let value: unknown;
        try {
          value = await this.flow.fetch({ traceId: t.key });
        } catch (err) {
          if (err instanceof TraceEndedError) {
            end = outcome(err.status, err.error);
            error = err.error === undefined ? undefined : flowErrorPayload(err.error);
          } else if (err instanceof TraceCancelled) {
            end = outcome('CANCELLED');
          } else if (err instanceof FlowStoppedError) {
            end = outcome('UNAVAILABLE');
          } else {
            throw err;
          }
          break;
        }
        if (t.moved) return;
        t.offer(classify(value));
      }
      if (end.status === 'UNAVAILABLE') {
        // The flow stopped here (shutdown): the run is not over; another replica (or a restart) re-runs it.
        t.relinquish();
        return;
      }
      await t.end(end, error);
    } catch (err) {
      this.#opts.logger.error({ flow: this.name, err: describeError(err) }, 'trace pump failed');
      t.relinquish();
    } finally {
      if (this.#locals.get(t.key) === t) {
        this.#locals.delete(t.key);
        this.#opts.onRunOver?.(t);
      }
    }
  }

  #onEvent(event: FlowEvent): void {
    if (event.traceId === undefined) return;
    const t = this.#locals.get(event.traceId);
    if (t === undefined) return;
    // The runtime builds a fresh `extra` per event: these touch no other.
    if (t.traceparent !== undefined) event.extra.traceparent = t.traceparent;
    const extra = this.#opts.eventExtra;
    if (extra !== undefined) Object.assign(event.extra, extra);
    t.event(event);
  }
}

function describeError(err: unknown): { type: string } {
  return { type: err instanceof Error ? err.name : typeof err };
}
