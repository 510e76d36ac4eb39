import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FixedDelayTimers } from '../../../src/internal/fixed-delay-timers.js';

describe('FixedDelayTimers', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('runs every uncancelled callback once, no earlier than its delay, in scheduling order (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 200 }),
        fc.array(fc.record({ gap: fc.integer({ min: 0, max: 50 }), cancelAfter: fc.option(fc.integer({ min: 0, max: 400 }), { nil: undefined }) }), { maxLength: 40 }),
        (delay, plan) => {
          vi.setSystemTime(0);
          const timers = new FixedDelayTimers(delay);
          const ran: { i: number; at: number; scheduledAt: number }[] = [];
          const cancelled = new Set<number>();
          const t0 = Date.now();
          plan.forEach((p, i) => {
            vi.advanceTimersByTime(p.gap);
            const scheduledAt = Date.now();
            const timer = timers.schedule(() => ran.push({ i, at: Date.now(), scheduledAt }));
            if (p.cancelAfter !== undefined) {
              setTimeout(() => {
                if (!ran.some((r) => r.i === i)) cancelled.add(i);
                timer.cancel();
              }, p.cancelAfter);
            }
          });
          vi.advanceTimersByTime(delay + 1000);
          const expected = plan.map((_, i) => i).filter((i) => !cancelled.has(i));
          expect(ran.map((r) => r.i)).toEqual(expected);
          for (const r of ran) expect(r.at - r.scheduledAt).toBeGreaterThanOrEqual(delay);
          expect(timers.size).toBe(0);
          expect(timers.armedFor).toBe(Infinity);
          expect(Date.now()).toBeGreaterThanOrEqual(t0);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('arms one timer for all pending entries, and none once everything is cancelled and reached', () => {
    vi.setSystemTime(1000);
    const timers = new FixedDelayTimers(100);
    const a = timers.schedule(() => undefined);
    vi.advanceTimersByTime(10);
    timers.schedule(() => undefined);
    expect(vi.getTimerCount()).toBe(1);
    expect(timers.armedFor).toBe(1100);
    a.cancel();
    vi.advanceTimersByTime(90);
    // The first was cancelled: the timer re-armed for the second, at 1110.
    expect(timers.armedFor).toBe(1110);
    vi.advanceTimersByTime(10);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('keeps running the others when a callback throws, and clear() cancels everything', () => {
    const timers = new FixedDelayTimers(5);
    const ran: number[] = [];
    timers.schedule(() => {
      throw new Error('boom');
    });
    timers.schedule(() => ran.push(2));
    vi.advanceTimersByTime(5);
    expect(ran).toEqual([2]);
    timers.schedule(() => ran.push(3));
    timers.clear();
    vi.advanceTimersByTime(50);
    expect(ran).toEqual([2]);
    expect(vi.getTimerCount()).toBe(0);
  });
});
