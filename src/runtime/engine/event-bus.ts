import { isPromiseLike } from '../../internal/promise-like.js';
import { FlowEvent, type FlowEventInit, type FlowEventType, type Middleware } from '../events.js';
import { describeError } from '../logger.js';
import { toStoredEvent, type StateStore, type StoredEvent } from '../state-store.js';
import type { Engine } from './engine.js';
import type { Runner } from './scheduler.js';
import type { TraceState } from './trace-state.js';

/** Placeholder `extra` of the scratch init between events (never handed out). */
const NO_EXTRA: Record<string, unknown> = Object.freeze({});

/**
 * Where a flow's {@link FlowEvent}s go: every middleware, in order, then the
 * state store. Nothing is built while nobody listens (no middleware, no
 * store), so an unobserved flow pays one branch per event. Middlewares are
 * not awaited; a middleware or store that throws or rejects is logged and
 * never breaks the flow.
 */
export class EventBus {
  /** True when a middleware or a state store listens. */
  on: boolean;
  readonly #middlewares: Middleware[];
  readonly #store: StateStore | undefined;
  readonly #flowId: string;
  #seq = 0;
  readonly #e: Engine;
  /** The constructor of FlowEvent copies its init, so one scratch init serves every event (several per hop) instead of an object literal each. */
  readonly #init: FlowEventInit = {
    eventType: 'node_start',
    ts: 0,
    nodeName: undefined,
    nodeId: undefined,
    traceId: undefined,
    attempt: 0,
    latencyMs: undefined,
    queueDepthIn: 0,
    queueDepthOut: 0,
    outgoingEdges: 0,
    queueMaxsize: 0,
    tracePending: undefined,
    traceInflight: undefined,
    traceCancelled: false,
    extra: NO_EXTRA,
  };

  constructor(engine: Engine, flowId: string, middlewares: readonly Middleware[], store: StateStore | undefined) {
    this.#e = engine;
    this.#flowId = flowId;
    this.#middlewares = [...middlewares];
    this.#store = store;
    this.on = this.#middlewares.length > 0 || store !== undefined;
  }

  /** Adds a middleware; it sees events emitted from now on. */
  add(m: Middleware): void {
    this.#middlewares.push(m);
    this.on = true;
  }

  /** Emits one event about node `r` (none for trace-level events) and `trace`, with queue depths read now. */
  emit(type: FlowEventType, r: Runner | undefined, trace: TraceState | undefined, attempt: number, latencyMs: number | undefined, extra?: Record<string, unknown>): void {
    if (!this.on) return;
    let qin = 0;
    let qout = 0;
    let outgoing = 0;
    if (r !== undefined) {
      // Plain loops: this runs for every event, and an iterator per event shows up under load.
      const ins = r.inEdges;
      for (let i = 0; i < ins.length; i++) qin += ins[i]!.buffer.length;
      if (r.loop !== undefined) qin += r.loop.buffer.length;
      const outs = r.outEdges;
      for (let i = 0; i < outs.length; i++) qout += outs[i]!.buffer.length;
      outgoing = outs.length;
    }
    const init = this.#init;
    init.eventType = type;
    init.ts = Date.now();
    init.nodeName = r?.node.name;
    init.nodeId = r?.node.id;
    init.traceId = trace?.id;
    init.attempt = attempt;
    init.latencyMs = latencyMs;
    init.queueDepthIn = qin;
    init.queueDepthOut = qout;
    init.outgoingEdges = outgoing;
    init.queueMaxsize = this.#e.queueMaxsize;
    init.tracePending = trace?.pending;
    init.traceInflight = trace?.invocations.size;
    init.traceCancelled = trace?.cancelled ?? false;
    init.extra = extra ?? {};
    const event = new FlowEvent(init);
    init.extra = NO_EXTRA;
    for (const m of this.#middlewares) {
      try {
        const ret = m(event);
        if (isPromiseLike(ret)) ret.then(undefined, (err: unknown) => this.#failed('middleware failed; event skipped for it', err, event));
      } catch (err) {
        this.#failed('middleware failed; event skipped for it', err, event);
      }
    }
    if (this.#store !== undefined) {
      const stored = toStoredEvent(`${this.#flowId}-${++this.#seq}`, event);
      try {
        this.#store.saveEvent(stored).then(undefined, (err: unknown) => this.#failed('state store saveEvent failed', err, event));
      } catch (err) {
        this.#failed('state store saveEvent failed', err, event);
      }
    }
  }

  /** The stored events of a trace. @throws Error when no state store is configured. */
  loadHistory(traceId: string): Promise<StoredEvent[]> {
    if (!this.#store) return Promise.reject(new Error('loadHistory needs a stateStore'));
    return this.#store.loadHistory(traceId);
  }

  #failed(what: string, err: unknown, event: FlowEvent): void {
    this.#e.log().error({ err: describeError(err), event: event.eventType, node: event.nodeName }, what);
  }
}
