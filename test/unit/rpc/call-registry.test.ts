import { describe, expect, it } from 'vitest';
import { CallRegistry, type ActiveCall } from '../../../src/rpc/call-registry.js';

function activeCall(endOnDrain = false): ActiveCall & { reasons: Error[] } {
  const reasons: Error[] = [];
  return { method: 'Call', endOnDrain, reasons, abort: (reason) => reasons.push(reason) };
}

describe('CallRegistry', () => {
  it('signals idle when the last call leaves, not before', async () => {
    const calls = new CallRegistry();
    await calls.whenIdle(); // no call: at once
    const [a, b] = [activeCall(), activeCall()];
    calls.add(a);
    calls.add(b);
    let idle = false;
    const waiting = calls.whenIdle().then(() => (idle = true));
    calls.delete(a);
    calls.delete(a); // a second delete changes nothing
    await Promise.resolve();
    expect([idle, calls.size]).toEqual([false, 1]);
    calls.delete(b);
    await waiting;
    expect(idle).toBe(true);
  });

  it('ends open-ended streams when draining starts and every call on abortAll', () => {
    const calls = new CallRegistry();
    const [stream, unary] = [activeCall(true), activeCall()];
    calls.add(stream);
    calls.add(unary);
    calls.startDraining(() => new Error('draining'));
    expect(calls.draining).toBe(true);
    expect([stream.reasons.length, unary.reasons.length]).toEqual([1, 0]);
    calls.abortAll(() => new Error('cut off'));
    expect(unary.reasons.map((r) => r.message)).toEqual(['cut off']);
  });
});
