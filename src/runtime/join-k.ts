import type { Context } from './context.js';
import { isMessage, type Message } from './message.js';
import { Node } from './node.js';
import type { NodePolicy } from './policy.js';

/**
 * A node that waits for `k` messages of the same trace and then emits one
 * aggregate: a {@link Message} with the trace's headers and an array of the
 * `k` payloads in arrival order (or, for plain values, the array itself).
 *
 * Its per-trace bucket is freed when it emits, when the trace is cancelled
 * and when the trace ends with the bucket short (a branch failed), so a
 * partially filled join never leaks and never hangs a fetch.
 *
 * @throws RangeError when `k` is not a positive integer.
 */
export function joinK(name: string, k: number, opts: { policy?: NodePolicy } = {}): Node {
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`joinK needs a positive integer k, got ${k}`);
  const buckets = new Map<string, unknown[]>();
  const untraced: unknown[] = [];
  const fn = (msg: unknown, ctx: Context): unknown => {
    const key = ctx.traceId;
    let bucket: unknown[];
    if (key === undefined) bucket = untraced;
    else {
      let b = buckets.get(key);
      if (b === undefined) {
        b = [];
        buckets.set(key, b);
      }
      bucket = b;
    }
    bucket.push(msg);
    if (bucket.length < k) return undefined;
    const items = bucket.splice(0, k);
    if (key !== undefined && bucket.length === 0) buckets.delete(key);
    const first = items[0];
    if (isMessage(first)) {
      const aggregate: Message<unknown[]> = {
        payload: items.map((m) => (isMessage(m) ? m.payload : m)),
        headers: first.headers,
        traceId: first.traceId,
        ts: Date.now(),
        meta: Object.assign({}, ...items.map((m) => (isMessage(m) ? m.meta : {}))) as Record<string, unknown>,
      };
      if (first.deadline !== undefined) aggregate.deadline = first.deadline;
      return aggregate;
    }
    return items;
  };
  return new Node(fn, {
    name,
    policy: { validate: 'none', ...opts.policy },
    hooks: {
      onTraceEnd: (traceId) => void buckets.delete(traceId),
      stats: () => ({ buckets: buckets.size, buffered: untraced.length + [...buckets.values()].reduce((n, b) => n + b.length, 0) }),
    },
  });
}
