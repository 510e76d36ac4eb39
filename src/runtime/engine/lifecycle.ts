import { FlowStoppedError } from '../errors.js';
import type { Engine } from './engine.js';

/**
 * A flow's lifecycle: not started, running, stopped for good.
 *
 * Messages emitted before `run` wait on their edges. `stop` is final: it
 * refuses new work, aborts every invocation, releases every waiter with
 * `FlowStoppedError`, waits for the last invocation to unwind and then
 * forgets all per-trace state.
 */
export class Lifecycle {
  /** True between `run` and `stop`: idle workers take work. */
  running = false;
  /** True from the start of `stop` on: no new work is accepted. */
  stopped = false;
  /** Node invocations running now, over all nodes (`stats().inflight`). */
  inflight = 0;
  #onIdle: (() => void) | undefined;
  readonly #e: Engine;

  constructor(engine: Engine) {
    this.#e = engine;
  }

  /** Starts every node's workers. Idempotent. @throws FlowStoppedError after `stop`. */
  run(): void {
    if (this.stopped) throw new FlowStoppedError('a stopped flow cannot run again');
    if (this.running) return;
    this.running = true;
    this.#e.scheduler.drainAll();
  }

  /** Stops the flow; resolves once no invocation runs. Idempotent. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.running = false;
    const e = this.#e;
    const reason = new FlowStoppedError();
    e.traces.abortInvocations(reason);
    e.scheduler.stop(reason);
    e.rookery.stop(reason);
    if (this.inflight > 0) await new Promise<void>((resolve) => (this.#onIdle = resolve));
    e.traces.clear();
    e.rookery.clear();
    e.chunks.clear();
  }

  /** Called when `inflight` reached 0: wakes a `stop` waiting for the last invocation. */
  idle(): void {
    this.#onIdle?.();
  }
}
