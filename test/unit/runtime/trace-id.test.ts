import { describe, expect, it } from 'vitest';
import { createMessage, newTraceId } from '../../../src/runtime/index.js';

describe('trace ids', () => {
  it('are the 32 hex digits of a random version-4 UUID, distinct across many batches of the random pool', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 5000; i++) {
      const id = newTraceId();
      expect(id).toMatch(/^[0-9a-f]{12}4[0-9a-f]{3}[89ab][0-9a-f]{15}$/);
      seen.add(id);
    }
    expect(seen.size).toBe(5000);
  });

  it('are given to messages created without one', () => {
    const a = createMessage({ payload: 1, headers: { tenant: 't' } });
    const b = createMessage({ payload: 1, headers: { tenant: 't' } });
    expect(a.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(a.traceId).not.toBe(b.traceId);
  });
});
