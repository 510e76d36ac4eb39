/**
 * Waiting in a queue until served, or until a signal aborts.
 */

/** A queued waiter: settled by whoever serves the queue. */
export interface QueuedWaiter<T> {
  readonly resolve: (value: T) => void;
  readonly reject: (reason: unknown) => void;
}

/**
 * Queues a waiter with `enqueue` and returns the promise it settles.
 *
 * With a `signal`, the waiter stops listening as soon as it is settled,
 * and an abort while it is still queued takes it out (`dequeue` returns
 * whether it was still there), calls `onAbandoned` and rejects with the
 * signal's reason. A waiter already served when the abort arrives is left
 * alone. An already aborted signal rejects at once without queueing (and
 * calls `onAbandoned` too: the waiter left unserved either way).
 */
export function waitInQueue<T>(
  signal: AbortSignal | undefined,
  enqueue: (waiter: QueuedWaiter<T>) => void,
  dequeue: (waiter: QueuedWaiter<T>) => boolean,
  onAbandoned?: () => void,
): Promise<T> {
  if (signal?.aborted) {
    onAbandoned?.();
    return Promise.reject(signal.reason as Error);
  }
  return new Promise<T>((resolve, reject) => {
    if (signal === undefined) {
      enqueue({ resolve, reject });
      return;
    }
    const onAbort = (): void => {
      if (!dequeue(waiter)) return;
      onAbandoned?.();
      reject(signal.reason);
    };
    const waiter: QueuedWaiter<T> = {
      resolve: (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      reject: (reason) => {
        signal.removeEventListener('abort', onAbort);
        reject(reason);
      },
    };
    enqueue(waiter);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
