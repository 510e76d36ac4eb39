import { describe, expect, it } from 'vitest';
import { waitInQueue, type QueuedWaiter } from '../../../src/internal/abortable-wait.js';

function queue(): { items: QueuedWaiter<string>[]; push: (w: QueuedWaiter<string>) => void; remove: (w: QueuedWaiter<string>) => boolean } {
  const items: QueuedWaiter<string>[] = [];
  return {
    items,
    push: (w) => void items.push(w),
    remove: (w) => {
      const i = items.indexOf(w);
      if (i < 0) return false;
      items.splice(i, 1);
      return true;
    },
  };
}

describe('waitInQueue', () => {
  it('resolves when served, and a later abort changes nothing', async () => {
    const q = queue();
    const controller = new AbortController();
    let abandoned = 0;
    const p = waitInQueue(controller.signal, q.push, q.remove, () => abandoned++);
    q.items.shift()!.resolve('served');
    controller.abort(new Error('late'));
    await expect(p).resolves.toBe('served');
    expect(abandoned).toBe(0);
  });

  it('an abort while queued takes the waiter out, reports it abandoned and rejects with the reason', async () => {
    const q = queue();
    const controller = new AbortController();
    let abandoned = 0;
    const p = waitInQueue(controller.signal, q.push, q.remove, () => abandoned++);
    expect(q.items).toHaveLength(1);
    const reason = new Error('gone');
    controller.abort(reason);
    await expect(p).rejects.toBe(reason);
    expect(q.items).toHaveLength(0);
    expect(abandoned).toBe(1);
  });

  it('an already aborted signal rejects at once without queueing; no signal just queues', async () => {
    const q = queue();
    let abandoned = 0;
    const reason = new Error('before');
    await expect(waitInQueue(AbortSignal.abort(reason), q.push, q.remove, () => abandoned++)).rejects.toBe(reason);
    expect([q.items.length, abandoned]).toEqual([0, 1]);
    const p = waitInQueue<string>(undefined, q.push, q.remove);
    q.items.shift()!.reject(new Error('served with an error'));
    await expect(p).rejects.toThrow('served with an error');
  });
});
