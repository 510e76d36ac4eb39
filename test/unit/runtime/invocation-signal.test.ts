/**
 * `ctx.signal` is hand-written (a lazily created AbortController and one
 * cleared timer, for speed: see the header of engine/invocation.ts). It must
 * behave like the platform composition it replaces: `AbortSignal.any` over
 * the cancel/stop controller and a timer that aborts with the timeout's
 * reason. Random scripts of reads, aborts, timers and disposal are run on
 * both, and every observation must match.
 */
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Invocation, type InvocationHost } from '../../../src/runtime/engine/invocation.js';
import { Node } from '../../../src/runtime/index.js';

type Step = { op: 'read' } | { op: 'abort'; reason: number } | { op: 'arm'; ms: number; reason: number } | { op: 'advance'; ms: number } | { op: 'dispose' };

const step = fc.oneof(
  fc.constant<Step>({ op: 'read' }),
  fc.integer({ min: 0, max: 3 }).map((reason): Step => ({ op: 'abort', reason })),
  fc.record({ ms: fc.integer({ min: 0, max: 20 }), reason: fc.integer({ min: 0, max: 3 }) }).map(({ ms, reason }): Step => ({ op: 'arm', ms, reason })),
  fc.integer({ min: 0, max: 25 }).map((ms): Step => ({ op: 'advance', ms })),
  fc.constant<Step>({ op: 'dispose' }),
);

const reasons = [new Error('cancelled'), new Error('stopped'), new Error('timed out'), new Error('deadline')];

/** The platform version: AbortSignal.any over the trace controller and a timer's controller. */
class Reference {
  readonly trace = new AbortController();
  readonly timeout = new AbortController();
  readonly signal = AbortSignal.any([this.trace.signal, this.timeout.signal]);
  timer: ReturnType<typeof setTimeout> | undefined;
}

describe('ctx.signal (hand-written) against AbortSignal.any', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('aborts at the same moments, with the same first reason, firing listeners once', () => {
    const node = new Node((m: unknown) => m, { name: 'n' });
    fc.assert(
      fc.property(fc.array(step, { maxLength: 12 }), (script) => {
        const inv = new Invocation({} as InvocationHost, node, undefined, 0);
        const ref = new Reference();
        let read = false;
        const heard = { inv: [] as unknown[], ref: [] as unknown[] };
        for (const s of script) {
          switch (s.op) {
            case 'read':
              if (!read) {
                read = true;
                inv.signal.addEventListener('abort', () => heard.inv.push(inv.signal.reason));
                ref.signal.addEventListener('abort', () => heard.ref.push(ref.signal.reason));
              }
              break;
            case 'abort':
              inv.abort(reasons[s.reason]);
              ref.trace.abort(reasons[s.reason]);
              break;
            case 'arm':
              inv.dispose();
              clearTimeout(ref.timer);
              inv.armTimer(s.ms, () => reasons[s.reason]!);
              ref.timer = setTimeout(() => ref.timeout.abort(reasons[s.reason]), Math.max(0, s.ms));
              break;
            case 'advance':
              vi.advanceTimersByTime(s.ms);
              break;
            case 'dispose':
              inv.dispose();
              clearTimeout(ref.timer);
              break;
          }
          expect(inv.aborted).toBe(ref.signal.aborted);
          expect(inv.reason).toBe(ref.signal.reason);
          if (read) {
            expect(inv.signal.aborted).toBe(ref.signal.aborted);
            expect(inv.signal.reason).toBe(ref.signal.reason);
            expect(heard.inv).toEqual(heard.ref);
          }
        }
        inv.dispose();
        clearTimeout(ref.timer);
      }),
      { numRuns: 500 },
    );
  });
});
