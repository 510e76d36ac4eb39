/**
 * Trace keys: one string for (tenant, trace id), used by the stores, the
 * notifications and the runtime. The runtime keys its per-trace bookkeeping by the
 * `traceId` option of `Flow.emit`, so the server emits under a key that joins
 * tenant and trace id. Two tenants can then use the same trace id without
 * sharing runtime state, while node code still sees the client's trace id in
 * `msg.traceId`.
 */

/**
 * Separator between tenant and trace id. U+001F (unit separator) cannot occur
 * in either part, because both are validated against a charset without
 * control characters, so the key is unambiguous.
 */
const SEPARATOR = '\u001f';

/** The runtime trace key of `(tenant, traceId)`. */
export function traceKey(tenant: string, traceId: string): string {
  return tenant + SEPARATOR + traceId;
}

/**
 * Splits a runtime trace key back into tenant and trace id.
 *
 * @returns undefined for a key the server did not make (no separator), e.g.
 *   a trace started by node code itself through a playbook.
 */
export function parseTraceKey(key: string): { tenant: string; traceId: string } | undefined {
  const at = key.indexOf(SEPARATOR);
  if (at < 0) return undefined;
  return { tenant: key.slice(0, at), traceId: key.slice(at + 1) };
}
