/** Options of {@link mapConcurrent}. */
export interface MapConcurrentOptions {
  /** Workers running at once; default 8. */
  maxConcurrency?: number;
  /** Stops starting new items once aborted and rejects with its reason. */
  signal?: AbortSignal;
}

/**
 * Maps `items` through `worker` with at most `maxConcurrency` in flight and
 * returns results in input order. The first rejection rejects the whole call
 * and no further items start.
 *
 * @throws RangeError when `maxConcurrency < 1`.
 */
export async function mapConcurrent<T, R>(items: Iterable<T>, worker: (item: T) => Promise<R>, opts: MapConcurrentOptions = {}): Promise<R[]> {
  const limit = opts.maxConcurrency ?? 8;
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`maxConcurrency must be a positive integer, got ${limit}`);
  const list = [...items];
  const results = new Array<R>(list.length);
  let next = 0;
  let failed = false;
  const run = async (): Promise<void> => {
    while (!failed && next < list.length) {
      opts.signal?.throwIfAborted();
      const i = next++;
      try {
        results[i] = await worker(list[i] as T);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  const workers: Promise<void>[] = [];
  for (let w = 0; w < Math.min(limit, list.length); w++) workers.push(run());
  await Promise.all(workers);
  return results;
}
