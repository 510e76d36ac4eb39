/**
 * Waiting for one event of an emitter, or for a signal to abort.
 *
 * `events.once(emitter, name, { signal })` does the same, but it is kept
 * off the hot path it was tried on: a server stream waits here every time
 * the transport's buffer is full (several times per CallStream), and
 * `events.once` costs about twice as much per wait (measured on the
 * development machine: 2.0–3.5 µs against 3.9–6.2 µs per wait resolved by
 * the event; `npm run bench:grpc` showed +9 % server CPU per streamed chunk
 * with it). It also rejects with an `AbortError` wrapping the reason, where
 * callers want the reason itself (a `ServiceError` that becomes the call's
 * status). test/unit/internal/once-or-abort.test.ts holds it to the
 * behaviour of `events.once`.
 */

/** The part of an `EventEmitter` this needs. */
export interface OnceEmitter {
  once(event: string, listener: () => void): unknown;
  removeListener(event: string, listener: () => void): unknown;
}

/**
 * Resolves on the next `event` of `emitter`; rejects with `signal.reason`
 * when the signal aborts first (at once when it already has). Either way
 * both listeners are removed: nothing is left on the emitter or the signal.
 */
export function onceOrAbort(emitter: OnceEmitter, event: string, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<void>((resolve, reject) => {
    const onEvent = (): void => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    };
    const onAbort = (): void => {
      emitter.removeListener(event, onEvent);
      reject(signal.reason as Error);
    };
    emitter.once(event, onEvent);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
