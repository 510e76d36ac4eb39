import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Deque } from '../../../src/internal/deque.js';

type Op =
  | { op: 'push'; v: number }
  | { op: 'unshift'; v: number }
  | { op: 'shift' }
  | { op: 'peek' }
  | { op: 'remove'; v: number }
  | { op: 'removeWhere'; mod: number }
  | { op: 'clear' };

const value = fc.integer({ min: 0, max: 20 });
const ops = fc.array(
  fc.oneof(
    { weight: 6, arbitrary: value.map((v): Op => ({ op: 'push', v })) },
    { weight: 2, arbitrary: value.map((v): Op => ({ op: 'unshift', v })) },
    { weight: 5, arbitrary: fc.constant<Op>({ op: 'shift' }) },
    { weight: 1, arbitrary: fc.constant<Op>({ op: 'peek' }) },
    { weight: 1, arbitrary: value.map((v): Op => ({ op: 'remove', v })) },
    { weight: 1, arbitrary: fc.integer({ min: 2, max: 5 }).map((mod): Op => ({ op: 'removeWhere', mod })) },
    { weight: 1, arbitrary: fc.constant<Op>({ op: 'clear' }) },
  ),
  { maxLength: 300 },
);

describe('Deque', () => {
  it('behaves exactly like an array used as a queue, across growth and wrap-around', () => {
    fc.assert(
      fc.property(ops, fc.integer({ min: 1, max: 40 }), (script, initialCapacity) => {
        const deque = new Deque<number>(initialCapacity);
        const model: number[] = [];
        for (const step of script) {
          switch (step.op) {
            case 'push':
              deque.push(step.v);
              model.push(step.v);
              break;
            case 'unshift':
              deque.unshift(step.v);
              model.unshift(step.v);
              break;
            case 'shift':
              expect(deque.shift()).toBe(model.shift());
              break;
            case 'peek':
              expect(deque.peek()).toBe(model[0]);
              break;
            case 'remove': {
              const at = model.indexOf(step.v);
              if (at >= 0) model.splice(at, 1);
              expect(deque.remove(step.v)).toBe(at >= 0);
              break;
            }
            case 'removeWhere': {
              const drop = (x: number): boolean => x % step.mod === 0;
              const removed = model.filter(drop);
              model.splice(0, model.length, ...model.filter((x) => !drop(x)));
              expect(deque.removeWhere(drop)).toEqual(removed);
              break;
            }
            case 'clear':
              deque.clear();
              model.length = 0;
              break;
          }
          expect(deque.length).toBe(model.length);
        }
        expect([...deque]).toEqual(model);
      }),
      { numRuns: 300 },
    );
  });

  it('keeps O(1) shifts on a long queue (100 000 elements drain in well under a second)', () => {
    const deque = new Deque<number>();
    for (let i = 0; i < 100_000; i++) deque.push(i);
    const t0 = performance.now();
    let sum = 0;
    for (let v = deque.shift(); v !== undefined; v = deque.shift()) sum += v;
    expect(sum).toBe((99_999 * 100_000) / 2);
    expect(performance.now() - t0).toBeLessThan(1000);
  });
});
