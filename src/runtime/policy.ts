/**
 * Per-node reliability policy. Times are milliseconds.
 *
 * - `validate`: which side the flow's {@link ModelRegistry} checks (`both` by default).
 * - `timeoutMs`: aborts an invocation (its `ctx.signal` aborts with a `NodeTimeoutError`);
 *   absent means no timeout.
 * - `maxRetries`: attempts after the first; `maxRetries + 1` attempts in total.
 * - backoff before retry `n` (0-based) is `min(maxBackoffMs, backoffBaseMs * backoffMult ** n)`.
 * - `maxConcurrency`: invocations running at once on this node (default 1, as PenguiFlow).
 */
export interface NodePolicy {
  validate?: 'both' | 'in' | 'out' | 'none';
  timeoutMs?: number;
  maxRetries?: number;
  backoffBaseMs?: number;
  backoffMult?: number;
  maxBackoffMs?: number;
  maxConcurrency?: number;
}

/** A {@link NodePolicy} with every default filled in. */
export interface ResolvedPolicy {
  validate: 'both' | 'in' | 'out' | 'none';
  timeoutMs: number | undefined;
  maxRetries: number;
  backoffBaseMs: number;
  backoffMult: number;
  maxBackoffMs: number | undefined;
  maxConcurrency: number;
}

/**
 * Fills defaults and rejects nonsense (negative retries, zero concurrency,
 * non-finite timeouts) at graph construction instead of at first failure.
 */
export function resolvePolicy(policy: NodePolicy = {}): ResolvedPolicy {
  const resolved: ResolvedPolicy = {
    validate: policy.validate ?? 'both',
    timeoutMs: policy.timeoutMs,
    maxRetries: policy.maxRetries ?? 0,
    backoffBaseMs: policy.backoffBaseMs ?? 500,
    backoffMult: policy.backoffMult ?? 2,
    maxBackoffMs: policy.maxBackoffMs,
    maxConcurrency: policy.maxConcurrency ?? 1,
  };
  if (resolved.timeoutMs !== undefined && !(resolved.timeoutMs > 0 && Number.isFinite(resolved.timeoutMs))) {
    throw new RangeError(`NodePolicy.timeoutMs must be a positive finite number, got ${resolved.timeoutMs}`);
  }
  if (!Number.isInteger(resolved.maxRetries) || resolved.maxRetries < 0) {
    throw new RangeError(`NodePolicy.maxRetries must be a non-negative integer, got ${resolved.maxRetries}`);
  }
  if (!Number.isInteger(resolved.maxConcurrency) || resolved.maxConcurrency < 1) {
    throw new RangeError(`NodePolicy.maxConcurrency must be a positive integer, got ${resolved.maxConcurrency}`);
  }
  if (!(resolved.backoffBaseMs >= 0) || !(resolved.backoffMult >= 1)) {
    throw new RangeError('NodePolicy backoff requires backoffBaseMs >= 0 and backoffMult >= 1');
  }
  if (resolved.maxBackoffMs !== undefined && !(resolved.maxBackoffMs >= 0)) {
    throw new RangeError('NodePolicy.maxBackoffMs must be >= 0');
  }
  return resolved;
}

/** Backoff before retry `attempt` (0 = before the second attempt). */
export function backoffMs(policy: ResolvedPolicy, attempt: number): number {
  const raw = policy.backoffBaseMs * policy.backoffMult ** attempt;
  return policy.maxBackoffMs === undefined ? raw : Math.min(policy.maxBackoffMs, raw);
}
