/**
 * Every kind of trace at once, 50 concurrent callers: traces that complete,
 * fail, are cancelled or skipped interleave on one flow, and afterwards no
 * per-trace bookkeeping is left and the ended-trace cache holds at most
 * `endedTraceCacheSize` entries: see leak-harness.ts.
 */
import { describe, it } from 'vitest';
import { expectNoLeaks, KINDS, runTraces } from './leak-harness.js';

describe('bookkeeping under mixed traffic', () => {
  it.each([false, true])('is empty after 6 000 traces of every kind interleaved, within the ended-trace cache bound (emitErrorsToRookery: %s)', async (emitErrorsToRookery) => {
    expectNoLeaks(await runTraces({ kinds: KINDS, traces: 6_000, emitErrorsToRookery }));
  }, 30_000);
});
