/**
 * Demo flow `fanout`: `split` sends the message to four workers, `join`
 * (joinK, k = 4) waits for the four results of the trace, and `final`
 * returns `{ input, results }` with the results ordered by worker.
 */
import { create, joinK, Node, type Message } from '../runtime/index.js';
import { defineFlow } from '../runtime/define-flow.js';

interface WorkerResult {
  worker: number;
  input: unknown;
}

function isWorkerResult(value: unknown): value is WorkerResult {
  return typeof value === 'object' && value !== null && typeof (value as { worker?: unknown }).worker === 'number';
}

/** The `fanout` demo flow; see the module comment. */
export default defineFlow({
  name: 'fanout',
  description: 'Fans the message out to 4 workers, joins their 4 results (joinK) and returns them in worker order.',
  build: ({ queueMaxsize, logger }) => {
    const split = new Node((msg: Message) => msg, { name: 'split' });
    const workers = [0, 1, 2, 3].map(
      (i) => new Node((msg: Message) => ({ ...msg, payload: { worker: i, input: msg.payload } }), { name: `worker${i}` }),
    );
    const join = joinK('join', 4);
    const final = new Node(
      (msg: Message<unknown[]>) => {
        const results = msg.payload.filter(isWorkerResult).sort((a, b) => a.worker - b.worker);
        return { ...msg, payload: { input: results[0]?.input ?? null, results: results.map((r) => r.worker) } };
      },
      { name: 'final' },
    );
    return create([split.to(...workers), ...workers.map((w) => w.to(join)), join.to(final), final.to()], { queueMaxsize, logger });
  },
});
