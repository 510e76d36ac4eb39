import { createMessage, type FlowEvent, type Message, type Middleware } from '../../../src/runtime/index.js';

/** A message for tenant `t` with the given payload (and optional deadline). */
export function msg<P>(payload: P, init: { traceId?: string; deadline?: number } = {}): Message<P> {
  return createMessage({ payload, headers: { tenant: 't' }, ...init });
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A middleware recording every event, with helpers to query them. */
export function recorder(): { middleware: Middleware; events: FlowEvent[]; types: (traceId?: string) => string[] } {
  const events: FlowEvent[] = [];
  return {
    middleware: (e) => void events.push(e),
    events,
    types: (traceId) => events.filter((e) => traceId === undefined || e.traceId === traceId).map((e) => e.eventType),
  };
}

/** Resolves when `cond` holds, polling on macrotasks; fails after `ms`. */
export async function until(cond: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(1);
  }
}

/** A promise with its resolver exposed. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}
