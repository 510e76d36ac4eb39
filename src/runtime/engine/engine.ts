import type { Logger } from 'pino';
import type { Flow, FlowOptions } from '../flow.js';
import type { Graph } from '../graph.js';
import { runtimeLogger } from '../logger.js';
import type { ModelRegistry } from '../registry.js';
import { ContextHost } from './context-host.js';
import { EventBus } from './event-bus.js';
import { Executor } from './executor.js';
import { Lifecycle } from './lifecycle.js';
import { Rookery } from './rookery.js';
import { Scheduler } from './scheduler.js';
import { StreamChunks } from './stream-chunks.js';
import { TraceLifecycle } from './trace-lifecycle.js';

/**
 * The machinery behind one {@link Flow}, one concept per part:
 *
 * | part | concept |
 * |---|---|
 * | `life` | run, stop, invocations in flight |
 * | `scheduler` | edges, backpressure, dispatch to idle workers, forwarding results |
 * | `executor` | one invocation: checks, attempts, timeouts, retries with backoff |
 * | `rookery` | outputs and the fetches waiting for them |
 * | `traces` | a trace's pending work, its end, its cancellation, the ended-trace cache |
 * | `context` | what node code's `ctx` does on this flow |
 * | `chunks` | stream chunk numbering |
 * | `bus` | events to middlewares and the state store |
 *
 * Parts are built in this order and call each other by name
 * (`this.#e.rookery.serve(…)`), so each file shows which concept it hands
 * over to; on the per-hop path (scheduler, executor) a part keeps the parts
 * built before it in fields of its own. Nothing here is public: `Flow` is
 * the facade.
 */
export class Engine {
  readonly graph: Graph;
  readonly queueMaxsize: number;
  readonly emitErrorsToRookery: boolean;
  readonly registry: ModelRegistry | undefined;
  readonly life: Lifecycle;
  readonly bus: EventBus;
  readonly chunks: StreamChunks;
  readonly traces: TraceLifecycle;
  readonly rookery: Rookery;
  readonly scheduler: Scheduler;
  readonly executor: Executor;
  readonly context: ContextHost;
  readonly #logger: Logger | undefined;

  constructor(
    /** The facade, handed to playbooks as their parent runtime. */
    readonly flow: Flow,
    graph: Graph,
    options: FlowOptions,
  ) {
    this.graph = graph;
    this.queueMaxsize = options.queueMaxsize ?? 64;
    this.emitErrorsToRookery = options.emitErrorsToRookery ?? false;
    this.registry = options.registry;
    this.#logger = options.logger;
    this.life = new Lifecycle(this);
    this.bus = new EventBus(this, flow.id, options.middlewares ?? [], options.stateStore);
    this.chunks = new StreamChunks();
    this.traces = new TraceLifecycle(this, options.endedTraceCacheSize ?? 10_000);
    this.rookery = new Rookery(this);
    this.scheduler = new Scheduler(this);
    this.context = new ContextHost(this);
    this.executor = new Executor(this);
  }

  /** Where middleware, store and hook failures are logged: the flow's logger, else the runtime's. */
  log(): Logger {
    return this.#logger ?? runtimeLogger();
  }
}
