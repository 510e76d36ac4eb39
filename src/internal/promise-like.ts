/**
 * True for any thenable, not only native promises: node code and middlewares
 * may return promises from another realm or library.
 */
export function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}
