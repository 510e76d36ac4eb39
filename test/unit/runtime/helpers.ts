import { once } from 'node:events';
import { setImmediate, setTimeout } from 'node:timers/promises';
import { createMessage, type FlowEvent, type Message, type Middleware } from '../../../src/runtime/index.js';

/** A message for tenant `t` with the given payload (and optional deadline). */
export function msg<P>(payload: P, init: { traceId?: string; deadline?: number } = {}): Message<P> {
  return createMessage({ payload, headers: { tenant: 't' }, ...init });
}

/** A middleware recording every event, with helpers to query them. */
export function recorder(): { middleware: Middleware; events: FlowEvent[]; types: (traceId?: string) => string[] } {
  const events: FlowEvent[] = [];
  return {
    middleware: (e) => void events.push(e),
    events,
    types: (traceId) => events.filter((e) => traceId === undefined || e.traceId === traceId).map((e) => e.eventType),
  };
}

/** Resolves as soon as `cond` holds (checked now, then after each event-loop turn); fails after `ms`. */
export async function until(cond: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await setTimeout(1);
  }
}

/**
 * Lets `n` turns of the event loop pass: every microtask and I/O callback
 * queued before runs. Node code awaits it to finish after a given number of
 * turns, so completion orders are fixed without wall-clock sleeps.
 */
export async function turns(n = 1): Promise<void> {
  for (let i = 0; i < n; i++) await setImmediate();
}

/** Never settles on its own; rejects with the signal's reason once it aborts (node code that honours cancellation). */
export function untilAborted(signal: AbortSignal): Promise<never> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return once(signal, 'abort').then(() => Promise.reject(signal.reason));
}

/** A promise with its resolver exposed. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}
