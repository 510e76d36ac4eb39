/**
 * How flow authors describe a flow for the server to host.
 *
 * A flow module default-exports `defineFlow({ name, description?, build })`.
 * The server imports it, calls `build` once at start, adds its own event
 * middleware, runs the flow and exposes it over gRPC under `name`.
 */
import type { Logger } from 'pino';
import type { Flow } from './flow.js';

/** What the server hands to {@link FlowDefinition.build}. */
export interface FlowBuildContext {
  /**
   * The server's configured queue capacity (`PENGUIFLOW_QUEUE_MAXSIZE`).
   * Pass it to `create(..., { queueMaxsize })` so operators can tune every
   * hosted flow from one place.
   */
  readonly queueMaxsize: number;
  /** A child of the server logger bound to `{ flow: name }`; pass it to `create(..., { logger })`. */
  readonly logger: Logger;
}

/** A hosted flow: its name on the wire and how to build it. */
export interface FlowDefinition {
  /**
   * Name clients put in the `flow` field of every request. Unique per
   * server; 1–64 characters of `[A-Za-z0-9._-]`.
   */
  readonly name: string;
  /** Human-readable description, shown by ListFlows. */
  readonly description?: string;
  /**
   * Builds the flow. Called once at server start; must return a new,
   * not-yet-running `Flow` (the server calls `run()` after adding its
   * middleware and `stop()` at shutdown). May be async, e.g. to open a
   * connection pool first.
   */
  build(ctx: FlowBuildContext): Flow | Promise<Flow>;
}

/** Valid flow names: short, URL- and log-safe. */
export const FLOW_NAME_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * Declares a hosted flow. An identity function that checks its argument
 * early, so a typo surfaces when the module is imported rather than when
 * the first request arrives.
 *
 * ```ts
 * import { create, defineFlow, Node } from 'penguiflow';
 *
 * export default defineFlow({
 *   name: 'shout',
 *   build: ({ queueMaxsize, logger }) => {
 *     const shout = new Node((msg) => ({ ...msg, payload: String(msg.payload).toUpperCase() }), { name: 'shout' });
 *     return create([shout.to()], { queueMaxsize, logger });
 *   },
 * });
 * ```
 *
 * @throws TypeError when `name` does not match {@link FLOW_NAME_PATTERN} or `build` is not a function.
 */
export function defineFlow(definition: FlowDefinition): FlowDefinition {
  if (!isFlowDefinition(definition)) {
    throw new TypeError('defineFlow needs { name: string, build: function }');
  }
  if (!FLOW_NAME_PATTERN.test(definition.name)) {
    throw new TypeError(`invalid flow name ${JSON.stringify(definition.name)}: use 1-64 characters of [A-Za-z0-9._-]`);
  }
  return definition;
}

/** Structural check used when loading modules: an object with a string `name` and a `build` function. */
export function isFlowDefinition(value: unknown): value is FlowDefinition {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as { name?: unknown; build?: unknown; description?: unknown };
  return typeof v.name === 'string' && typeof v.build === 'function' && (v.description === undefined || typeof v.description === 'string');
}
