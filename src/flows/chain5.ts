/**
 * Demo flow `chain5`: five identity nodes in a row (hop1 → … → hop5).
 * Measures the per-hop cost of the runtime; the gRPC benchmark calls it.
 */
import { create, Node, type Adjacency, type Message } from '../runtime/index.js';
import { defineFlow } from '../runtime/define-flow.js';

/** The `chain5` demo flow; see the module comment. */
export default defineFlow({
  name: 'chain5',
  description: 'Five identity hops in a row; returns its input message.',
  build: ({ queueMaxsize, logger }) => {
    const hops = [1, 2, 3, 4, 5].map((i) => new Node((msg: Message) => msg, { name: `hop${i}` }));
    const adjacencies: Adjacency[] = hops.map((node, i) => {
      const next = hops[i + 1];
      return next === undefined ? node.to() : node.to(next);
    });
    return create(adjacencies, { queueMaxsize, logger });
  },
});
