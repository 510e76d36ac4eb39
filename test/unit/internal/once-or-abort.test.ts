/**
 * onceOrAbort replaces `events.once(emitter, name, { signal })` on the
 * stream hot path (see its header): it must behave the same, except that
 * an abort rejects with the signal's reason itself.
 */
import { EventEmitter, once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { onceOrAbort } from '../../../src/internal/once-or-abort.js';

type Wait = (emitter: EventEmitter, signal: AbortSignal) => Promise<unknown>;
const ours: Wait = (emitter, signal) => onceOrAbort(emitter, 'drain', signal);
const platform: Wait = (emitter, signal) => once(emitter, 'drain', { signal });

describe.each([
  ['onceOrAbort', ours],
  ['events.once', platform],
] as const)('%s', (name, wait) => {
  it('resolves on the event and leaves no listener behind', async () => {
    const emitter = new EventEmitter();
    const ac = new AbortController();
    const waiting = wait(emitter, ac.signal);
    expect(emitter.listenerCount('drain')).toBe(1);
    emitter.emit('drain');
    await waiting;
    expect(emitter.listenerCount('drain')).toBe(0);
    ac.abort(new Error('late'));
    emitter.emit('drain'); // a second event finds nobody waiting
  });

  it('rejects when the signal aborts first (the reason itself, or an AbortError carrying it) and leaves no listener behind', async () => {
    const emitter = new EventEmitter();
    const ac = new AbortController();
    const reason = new Error('call over');
    const waiting = wait(emitter, ac.signal);
    ac.abort(reason);
    const err: unknown = await waiting.then(() => undefined, (e: unknown) => e);
    if (name === 'onceOrAbort') expect(err).toBe(reason);
    else expect(err).toMatchObject({ name: 'AbortError', cause: reason });
    expect(emitter.listenerCount('drain')).toBe(0);
  });

  it('rejects at once for a signal already aborted, without listening', async () => {
    const emitter = new EventEmitter();
    const reason = new Error('already over');
    const err: unknown = await wait(emitter, AbortSignal.abort(reason)).then(() => undefined, (e: unknown) => e);
    expect(name === 'onceOrAbort' ? err : (err as { cause?: unknown }).cause).toBe(reason);
    expect(emitter.listenerCount('drain')).toBe(0);
  });
});
