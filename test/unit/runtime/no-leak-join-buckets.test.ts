/**
 * joinK frees its per-trace bucket however the trace ends: after thousands
 * of joins that complete, are cancelled partially filled, or end short
 * because a branch failed, no bucket and no bookkeeping is left: see
 * leak-harness.ts.
 */
import { describe, it } from 'vitest';
import { expectNoLeaks, runTraces } from './leak-harness.js';

describe('joinK buckets', () => {
  it.each([false, true])('are all freed after 1 800 joins that complete, are cancelled half-filled or lose a branch (emitErrorsToRookery: %s)', async (emitErrorsToRookery) => {
    expectNoLeaks(await runTraces({ kinds: ['joinOk', 'joinCancel', 'joinFail'], traces: 1_800, emitErrorsToRookery }));
  }, 30_000);
});
