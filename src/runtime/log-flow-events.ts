import type { Logger } from 'pino';
import type { FlowEvent, FlowEventType, Middleware } from './events.js';
import { runtimeLogger } from './logger.js';

/** Options of {@link logFlowEvents}. */
export interface LogFlowEventsOptions {
  /** Level of ordinary events; default `info`. */
  level?: 'trace' | 'debug' | 'info';
  /** Level of node_error / node_timeout / node_failed; default `error`. */
  errorLevel?: 'warn' | 'error';
  /** Called with each latency sample (node_success and failures), e.g. to feed a histogram. */
  latencyCallback?: (event: FlowEvent) => void;
  /** Extra fixed fields on every line, e.g. `{ flow: 'checkout' }`. */
  bindings?: Record<string, string>;
  /** Per-event fields merged over the event's payload (e.g. a service's own trace id and tenant for the runtime's trace key). */
  fields?: (event: FlowEvent) => Record<string, unknown> | undefined;
}

const ERROR_EVENTS: ReadonlySet<FlowEventType> = new Set(['node_error', 'node_timeout', 'node_failed']);

/**
 * A middleware writing one structured log line per {@link FlowEvent} through
 * pino: the event's flat payload (`event`, `node_name`, `trace_id`,
 * `latency_ms`, queue depths, …). Events carry no message payloads, so
 * nothing a caller sent reaches the log through it.
 */
export function logFlowEvents(logger?: Logger, opts: LogFlowEventsOptions = {}): Middleware {
  const base = logger ?? runtimeLogger();
  const log = opts.bindings ? base.child(opts.bindings) : base;
  const level = opts.level ?? 'info';
  const errorLevel = opts.errorLevel ?? 'error';
  return (event) => {
    if (opts.latencyCallback && event.latencyMs !== undefined) opts.latencyCallback(event);
    const lvl = ERROR_EVENTS.has(event.eventType) ? errorLevel : level;
    if (!log.isLevelEnabled(lvl)) return;
    const extra = opts.fields?.(event);
    log[lvl](extra === undefined ? event.toPayload() : { ...event.toPayload(), ...extra }, event.eventType);
  };
}
