/**
 * After thousands of traces cancelled while running, while queued behind
 * others, and while their node ignores its signal (its late result must be
 * discarded), no per-trace bookkeeping is left: see leak-harness.ts.
 */
import { describe, it } from 'vitest';
import { expectNoLeaks, runTraces } from './leak-harness.js';

describe('bookkeeping after cancelled traces', () => {
  it('is empty after 1 800 traces cancelled while running, while queued and while ignoring their signal', async () => {
    expectNoLeaks(await runTraces({ kinds: ['cancelRunning', 'cancelQueued', 'cancelIgnoring'], traces: 1_800, emitErrorsToRookery: false }));
  }, 30_000);
});
