/**
 * The set of flows a server hosts, with their shared housekeeping.
 */
import type { Logger } from 'pino';
import type { Flow } from '../runtime/index.js';
import { ConfigError } from './config-error.js';
import type { FlowDefinition } from '../runtime/define-flow.js';
import type { EventLog } from './event-log.js';
import { HostedFlow } from './hosted-flow.js';
import { HostError } from './host-error.js';
import type { DurableTraces } from './store-event-log.js';

/** Options of {@link FlowCatalog.create}. */
export interface FlowCatalogOptions {
  definitions: readonly FlowDefinition[];
  /** Passed to every `build` (see `FlowBuildContext.queueMaxsize`). */
  queueMaxsize: number;
  eventLog: EventLog;
  retentionMs: number;
  maxRetainedTraces: number;
  logger: Logger;
  /** Persists trace ownership and idempotency keys; see `HostedFlowOptions.durable`. */
  durable?: DurableTraces | undefined;
}

/**
 * The flows a server hosts, by name: builds, runs and stops each
 * {@link HostedFlow}, looks them up, and periodically forgets expired
 * traces, idempotency keys and events.
 */
export class FlowCatalog {
  readonly #flows: ReadonlyMap<string, HostedFlow>;
  readonly #eventLog: EventLog;
  readonly #sweepEveryMs: number;
  #timer: ReturnType<typeof setInterval> | undefined;

  private constructor(flows: ReadonlyMap<string, HostedFlow>, eventLog: EventLog, retentionMs: number) {
    this.#flows = flows;
    this.#eventLog = eventLog;
    this.#sweepEveryMs = Math.max(50, Math.min(10_000, Math.floor(retentionMs / 2)));
  }

  /**
   * Builds every defined flow (not running yet).
   *
   * @throws ConfigError naming `PENGUIFLOW_FLOWS` when a `build` throws or
   *   returns something other than a `Flow`.
   */
  static async create(opts: FlowCatalogOptions): Promise<FlowCatalog> {
    const flows = new Map<string, HostedFlow>();
    for (const def of opts.definitions) {
      const logger = opts.logger.child({ flow: def.name });
      let flow: Flow | undefined;
      try {
        flow = await def.build({ queueMaxsize: opts.queueMaxsize, logger });
      } catch (err) {
        const why = err instanceof Error ? err.message.split('\n')[0] : String(err);
        throw new ConfigError('PENGUIFLOW_FLOWS', `invalid configuration: PENGUIFLOW_FLOWS: building flow ${JSON.stringify(def.name)} failed (${why})`);
      }
      if (!isFlowLike(flow) || flow === undefined) {
        throw new ConfigError('PENGUIFLOW_FLOWS', `invalid configuration: PENGUIFLOW_FLOWS: build() of flow ${JSON.stringify(def.name)} must return a Flow`);
      }
      flows.set(
        def.name,
        new HostedFlow({
          name: def.name,
          description: def.description ?? '',
          flow,
          eventLog: opts.eventLog,
          retentionMs: opts.retentionMs,
          maxRetainedTraces: opts.maxRetainedTraces,
          logger,
          durable: opts.durable,
        }),
      );
    }
    return new FlowCatalog(flows, opts.eventLog, opts.retentionMs);
  }

  /** The hosted flow named `name`. @throws HostError FLOW_NOT_FOUND when there is none. */
  get(name: string): HostedFlow {
    const flow = this.#flows.get(name);
    if (flow === undefined) throw HostError.flowNotFound(name);
    return flow;
  }

  /** The hosted flow named `name`, if any. */
  find(name: string): HostedFlow | undefined {
    return this.#flows.get(name);
  }

  /** Every hosted flow, sorted by name. */
  list(): HostedFlow[] {
    return [...this.#flows.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** Traces in flight (admitted, not yet ended) over all hosted flows. */
  get tracesInFlight(): number {
    let n = 0;
    for (const flow of this.#flows.values()) n += flow.tracesInFlight;
    return n;
  }

  /**
   * Resolves once no hosted flow has a trace in flight, all at the same
   * moment (a flow that gets a new trace while another is awaited is
   * awaited again). Signalled by the flows as their traces end: no polling.
   */
  async whenIdle(): Promise<void> {
    for (;;) {
      let busy: HostedFlow | undefined;
      for (const flow of this.#flows.values()) {
        if (flow.tracesInFlight > 0) {
          busy = flow;
          break;
        }
      }
      if (busy === undefined) return;
      await busy.whenIdle();
    }
  }

  /** Runs every flow and starts the housekeeping timer. */
  start(): void {
    for (const flow of this.#flows.values()) flow.start();
    this.#timer ??= setInterval(() => this.sweep(), this.#sweepEveryMs);
    // Housekeeping alone must not keep the process alive.
    this.#timer.unref();
  }

  /** Forgets everything past its retention, now. */
  sweep(now = Date.now()): void {
    for (const flow of this.#flows.values()) flow.sweep(now);
    this.#eventLog.sweep(now);
  }

  /** Stops the timer and every flow (their running traces end as UNAVAILABLE). */
  async stop(): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    await Promise.all([...this.#flows.values()].map((f) => f.stop()));
  }
}

/**
 * Checked by shape, not `instanceof Flow`: a flow module may build its flow
 * with its own copy of the runtime.
 */
function isFlowLike(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    ['run', 'stop', 'emit', 'fetch', 'cancel', 'addMiddleware', 'stats'].every((m) => typeof v[m] === 'function') &&
    typeof v.graph === 'object' &&
    typeof v.queueMaxsize === 'number'
  );
}
