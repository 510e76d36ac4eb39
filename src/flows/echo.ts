/**
 * Demo flow `echo`: one node that returns its input message unchanged.
 * The smallest useful round trip, for smoke tests and latency baselines.
 */
import { create, Node, type Message } from '../runtime/index.js';
import { defineFlow } from '../runtime/define-flow.js';

/** The `echo` demo flow; see the module comment. */
export default defineFlow({
  name: 'echo',
  description: 'Returns its input message unchanged.',
  build: ({ queueMaxsize, logger }) => {
    const echo = new Node((msg: Message) => msg, { name: 'echo' });
    return create([echo.to()], { queueMaxsize, logger });
  },
});
