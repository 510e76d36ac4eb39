import { setTimeout as sleep } from 'node:timers/promises';
import { isPromiseLike } from '../../internal/promise-like.js';
import { DeadlineExceededError, FlowError, FlowErrorCode, FlowStoppedError, NodeTimeoutError, TraceCancelled } from '../errors.js';
import { describeError } from '../logger.js';
import { isMessage, type Message } from '../message.js';
import { backoffMs } from '../policy.js';
import type { ContextHost } from './context-host.js';
import type { Item } from './edge.js';
import type { Engine } from './engine.js';
import type { EventBus } from './event-bus.js';
import { DEADLINE_TEXT, finalMessage } from './final-answers.js';
import { Invocation } from './invocation.js';
import type { Lifecycle } from './lifecycle.js';
import type { Rookery } from './rookery.js';
import type { Runner, Scheduler } from './scheduler.js';
import type { TraceLifecycle } from './trace-lifecycle.js';
import type { TraceState } from './trace-state.js';

/** What every attempt of one invocation shares. */
interface AttemptArgs {
  readonly r: Runner;
  readonly trace: TraceState | undefined;
  readonly value: unknown;
  readonly deadline: number | undefined;
  /** Output schema to enforce, when the node validates its output. */
  readonly outSchema: { parse(value: unknown): unknown } | undefined;
  readonly staged: unknown[];
}

/**
 * Runs one dispatched item through its node: cancellation and deadline
 * checks, input and output validation, attempts with timeouts, retries with
 * exponential backoff, and the final failure.
 *
 * A hop whose node code returns a plain value and whose successors have room
 * runs synchronously to its end: no promise, timer or suspended frame of its
 * own. Only code that returns a promise gets a timer (for `timeoutMs` or the
 * deadline) and an async continuation.
 */
export class Executor {
  readonly #e: Engine;
  readonly #life: Lifecycle;
  readonly #bus: EventBus;
  readonly #traces: TraceLifecycle;
  readonly #rookery: Rookery;
  readonly #scheduler: Scheduler;
  readonly #context: ContextHost;

  /** Built last: keeps every other part at hand (this is the per-hop path). */
  constructor(engine: Engine) {
    this.#e = engine;
    this.#life = engine.life;
    this.#bus = engine.bus;
    this.#traces = engine.traces;
    this.#rookery = engine.rookery;
    this.#scheduler = engine.scheduler;
    this.#context = engine.context;
  }

  /** Runs `item` on `r` (whose slot the scheduler already took) and completes it. */
  execute(r: Runner, item: Item): void {
    const staged: unknown[] = [];
    let pending: Promise<void> | undefined;
    try {
      pending = this.#invoke(r, item, staged);
    } catch (err) {
      this.#unexpected(r, err);
    }
    // Completion always runs in a later microtask, also for a hop that
    // finished synchronously: whoever dispatched (an emit putting a message
    // on several ingress edges, a node routing to several successors) has
    // then placed all its work before any of it is accounted as done.
    if (pending === undefined) {
      queueMicrotask(() => this.#complete(r, item.trace, staged));
      return;
    }
    pending.then(
      () => this.#complete(r, item.trace, staged),
      (err: unknown) => {
        this.#unexpected(r, err);
        this.#complete(r, item.trace, staged);
      },
    );
  }

  #unexpected(r: Runner, err: unknown): void {
    if (!(err instanceof TraceCancelled) && !(err instanceof FlowStoppedError)) {
      this.#e.log().error({ err: describeError(err), node: r.node.name }, 'unexpected runtime error');
    }
  }

  /** The end of one item's execution: bookkeeping, staged outputs, the runner's next item. */
  #complete(r: Runner, trace: TraceState | undefined, staged: unknown[]): void {
    const life = this.#life;
    r.active--;
    life.inflight--;
    // Final outputs become visible only now, together with the bookkeeping,
    // so whoever fetches the last output finds the trace already ended.
    if (staged.length > 0) this.#rookery.publish(trace, staged);
    this.#traces.release(trace);
    this.#rookery.serve(trace);
    if (life.inflight === 0) life.idle();
    this.#scheduler.drain(r);
  }

  /**
   * Checks, attempts with retries, routing. Returns undefined when
   * everything finished synchronously (a node whose code returned a plain
   * value and whose successors had room): most hops.
   */
  #invoke(r: Runner, item: Item, staged: unknown[]): Promise<void> | undefined {
    const bus = this.#bus;
    const node = r.node;
    const trace = item.trace;
    if (trace?.cancelled) {
      bus.emit('trace_cancel_drop', r, trace, 0, undefined);
      return undefined;
    }
    let value = item.value;
    const deadline = isMessage(value) ? value.deadline : undefined;
    if (deadline !== undefined && deadline <= Date.now()) {
      bus.emit('deadline_skip', r, trace, 0, undefined, { deadline });
      if (trace) trace.deadlineHit = true;
      return this.#rookery.deliver(trace, finalMessage(value as Message, DEADLINE_TEXT), staged);
    }
    const schemas = this.#e.registry?.get(node.name);
    const validate = node.policy.validate;
    if (schemas && (validate === 'both' || validate === 'in')) {
      const parsed = schemas.in.safeParse(value);
      if (!parsed.success) {
        const error = this.#flowError(r, trace, FlowErrorCode.NODE_EXCEPTION, `input validation failed: ${parsed.error.message}`, parsed.error);
        bus.emit('node_failed', r, trace, 0, undefined, { code: error.code, exception: error.message, exceptionType: 'ZodError' });
        return this.#fail(trace, error, staged);
      }
      value = parsed.data;
    }
    return this.#attempt({ r, trace, value, deadline, outSchema: schemas && (validate === 'both' || validate === 'out') ? schemas.out : undefined, staged }, 0);
  }

  /** One attempt of an invocation: synchronous to the end when the node's code returns a plain value. */
  #attempt(a: AttemptArgs, attempt: number): Promise<void> | undefined {
    const { r, trace, deadline } = a;
    const node = r.node;
    const inv = new Invocation(this.#context, node, trace, r.index);
    trace?.invocations.add(inv);
    let timeoutMs = node.policy.timeoutMs;
    let byDeadline = false;
    if (deadline !== undefined) {
      const left = deadline - Date.now();
      if (timeoutMs === undefined || left < timeoutMs) {
        timeoutMs = left;
        byDeadline = true;
      }
    }
    this.#bus.emit('node_start', r, trace, attempt, undefined);
    const t0 = performance.now();
    let result: unknown;
    try {
      result = (node.fn as unknown as (msg: unknown, ctx: Invocation) => unknown)(a.value, inv);
      if (isPromiseLike(result)) {
        // The timer is armed only once the code is known to wait: a
        // synchronous node returns before any timer could fire, and a
        // timer per hop (with a distinct duration per deadline) is a
        // measurable share of a hop's cost.
        if (timeoutMs !== undefined) {
          const ms = timeoutMs;
          inv.armTimer(ms - (performance.now() - t0), byDeadline ? () => new DeadlineExceededError(trace?.id) : () => new NodeTimeoutError(node.name, ms));
        }
        return this.#settleAttempt(a, attempt, inv, t0, inv.race(result));
      }
      if (inv.aborted) throw inv.reason;
      if (a.outSchema !== undefined) result = a.outSchema.parse(result);
    } catch (err) {
      inv.dispose();
      trace?.invocations.delete(inv);
      return this.#afterFailure(a, attempt, performance.now() - t0, inv.aborted ? inv.reason : err);
    }
    inv.dispose();
    trace?.invocations.delete(inv);
    this.#bus.emit('node_success', r, trace, attempt, performance.now() - t0);
    return this.#scheduler.forward(r, trace, result, a.staged);
  }

  /** The rest of an attempt whose node code returned a promise. */
  async #settleAttempt(a: AttemptArgs, attempt: number, inv: Invocation, t0: number, pending: Promise<unknown>): Promise<void> {
    let result: unknown;
    let failure: unknown;
    let failed = false;
    try {
      result = await pending;
      if (inv.aborted) throw inv.reason;
      if (a.outSchema !== undefined) result = a.outSchema.parse(result);
    } catch (err) {
      failed = true;
      failure = inv.aborted ? inv.reason : err;
    }
    // Disposed before anything else happens, so the events that follow count
    // the trace's in-flight invocations without this one.
    inv.dispose();
    a.trace?.invocations.delete(inv);
    const latencyMs = performance.now() - t0;
    if (failed) return this.#afterFailure(a, attempt, latencyMs, failure);
    this.#bus.emit('node_success', a.r, a.trace, attempt, latencyMs);
    await this.#scheduler.forward(a.r, a.trace, result, a.staged);
  }

  /** A failed attempt: cancelled, stopped, out of time, retried or failed for good. */
  async #afterFailure(a: AttemptArgs, attempt: number, latencyMs: number, failure: unknown): Promise<void> {
    const { r, trace, deadline, value, staged } = a;
    const bus = this.#bus;
    const policy = r.node.policy;
    if (trace?.cancelled || failure instanceof TraceCancelled) {
      bus.emit('node_trace_cancelled', r, trace, attempt, latencyMs);
      return;
    }
    if (failure instanceof FlowStoppedError || this.#life.stopped) return;
    if (failure instanceof DeadlineExceededError) {
      // The message's time ran out, not the node: a time-bound abort (node_timeout
      // tagged DEADLINE_EXCEEDED), never retried, answered like a deadline skip.
      bus.emit('node_timeout', r, trace, attempt, latencyMs, { code: FlowErrorCode.DEADLINE_EXCEEDED, deadline, exception: failure.message, exceptionType: failure.name });
      if (trace) trace.deadlineHit = true;
      await this.#rookery.deliver(trace, finalMessage(isMessage(value) ? value : undefined, DEADLINE_TEXT, trace), staged);
      return;
    }
    const timedOut = failure instanceof NodeTimeoutError;
    const info = describeError(failure);
    bus.emit(timedOut ? 'node_timeout' : 'node_error', r, trace, attempt, latencyMs, { exception: info.message, exceptionType: info.type });
    if (attempt < policy.maxRetries) {
      const sleepMs = backoffMs(policy, attempt);
      bus.emit('node_retry', r, trace, attempt, latencyMs, { sleepMs });
      if (sleepMs > 0 && !(await this.#backoff(r, trace, sleepMs))) {
        bus.emit('node_trace_cancelled', r, trace, attempt, undefined);
        return;
      }
      await this.#attempt(a, attempt + 1);
      return;
    }
    const code = timedOut ? FlowErrorCode.NODE_TIMEOUT : FlowErrorCode.NODE_EXCEPTION;
    const error = this.#flowError(r, trace, code, info.message, failure, { attempts: attempt + 1 });
    bus.emit('node_failed', r, trace, attempt, latencyMs, { code, exception: info.message, exceptionType: info.type });
    await this.#fail(trace, error, staged);
  }

  /**
   * Sleeps before a retry, as an invocation of its own (it counts as the
   * trace's in-flight work and aborts with it); false when the trace was
   * cancelled or the flow stopped meanwhile.
   */
  async #backoff(r: Runner, trace: TraceState | undefined, ms: number): Promise<boolean> {
    const inv = new Invocation(this.#context, r.node, trace, r.index);
    trace?.invocations.add(inv);
    try {
      await sleep(ms, undefined, { signal: inv.signal });
      return !this.#life.stopped && !trace?.cancelled;
    } catch {
      return false;
    } finally {
      inv.dispose();
      trace?.invocations.delete(inv);
    }
  }

  #flowError(r: Runner, trace: TraceState | undefined, code: FlowErrorCode, message: string, cause: unknown, metadata: Record<string, unknown> = {}): FlowError {
    return new FlowError({ code, message, traceId: trace?.id, nodeName: r.node.name, nodeId: r.node.id, metadata, cause });
  }

  /** A node failed for good: the trace ends FAILED; with `emitErrorsToRookery` the error is its output. */
  async #fail(trace: TraceState | undefined, error: FlowError, staged: unknown[]): Promise<void> {
    if (trace) trace.failure = error;
    if (this.#e.emitErrorsToRookery) await this.#rookery.deliver(trace, error, staged);
  }
}
