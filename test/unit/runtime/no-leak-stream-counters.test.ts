/**
 * Stream numbering is per trace and forgotten with it: after thousands of
 * streams that finish (`done`) or are cancelled mid-stream (their buffered
 * chunks dropped), no stream counter and no bookkeeping is left: see
 * leak-harness.ts.
 */
import { describe, it } from 'vitest';
import { expectNoLeaks, runTraces } from './leak-harness.js';

describe('stream counters', () => {
  it('are all forgotten after 1 200 streams that finish or are cancelled mid-stream', async () => {
    expectNoLeaks(await runTraces({ kinds: ['streamOk', 'streamCancel'], traces: 1_200, emitErrorsToRookery: false }));
  }, 30_000);
});
