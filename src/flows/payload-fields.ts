/**
 * Reading optional numeric knobs from a demo flow's JSON payload.
 */

/**
 * `payload[field]` as an integer clamped to `[min, max]`; `fallback` when
 * the payload is not an object or the field is not a finite number. Demo
 * flows are reachable by anyone who can call the server, so every knob is
 * bounded.
 */
export function intField(payload: unknown, field: string, fallback: number, min: number, max: number): number {
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) return fallback;
  const raw = (payload as Record<string, unknown>)[field];
  if (typeof raw !== 'number' || !Number.isFinite(raw)) return fallback;
  return Math.min(max, Math.max(min, Math.trunc(raw)));
}
