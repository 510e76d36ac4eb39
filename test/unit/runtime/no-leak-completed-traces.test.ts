/**
 * After thousands of completed, retried, failed-after-retries and
 * deadline-skipped traces (outputs fetched before or after the end), no
 * per-trace bookkeeping is left: see leak-harness.ts.
 */
import { describe, it } from 'vitest';
import { expectNoLeaks, runTraces } from './leak-harness.js';

describe('bookkeeping after traces that complete or fail', () => {
  it.each([false, true])('is empty after 2 400 completed, retried, failed and deadline-skipped traces (emitErrorsToRookery: %s)', async (emitErrorsToRookery) => {
    expectNoLeaks(await runTraces({ kinds: ['ok', 'retryOk', 'fail', 'deadline'], traces: 2_400, emitErrorsToRookery }));
  }, 30_000);
});
