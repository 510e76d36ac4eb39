import { describe, expect, it } from 'vitest';
import { OldestFirst } from '../../../src/internal/oldest-first.js';

describe('OldestFirst', () => {
  it('hands out entries oldest first across deletions and re-insertions', () => {
    const map = new Map<string, number>();
    const oldest = new OldestFirst(() => map.keys());
    for (const k of ['a', 'b', 'c', 'd']) map.set(k, 0);
    expect(oldest.next()).toBe('a');
    map.delete('a');
    map.delete('c'); // removed out of order
    map.delete('b');
    map.set('b', 1); // re-inserted: now the newest
    expect(oldest.next()).toBe('d');
    map.delete('d');
    expect(oldest.next()).toBe('b');
    map.delete('b');
    expect(oldest.next()).toBeUndefined();
    map.set('e', 0);
    expect(oldest.next()).toBe('e');
  });

  it('keeps a bounded FIFO cache exact under heavy churn', () => {
    const set = new Set<number>();
    const oldest = new OldestFirst(() => set.values());
    for (let i = 0; i < 50_000; i++) {
      set.add(i);
      while (set.size > 100) set.delete(oldest.next()!);
    }
    expect([...set]).toEqual(Array.from({ length: 100 }, (_, i) => 49_900 + i));
  });
});
