/**
 * Demo flow `flaky`: its node fails the first `payload.failures` attempts of
 * each trace (default 1), then returns `{ attempts }`. It retries up to 3
 * times (4 attempts, 10 ms backoff doubling), so `failures >= 4` fails for
 * good: the trace gets a FlowError (NODE_EXCEPTION), delivered as an output
 * (`emitErrorsToRookery`) and as the FAILED end.
 */
import { create, Node, type Context, type Message } from '../runtime/index.js';
import { defineFlow } from '../runtime/define-flow.js';
import { intField } from './payload-fields.js';

/** Retries of the flaky node (attempts = MAX_RETRIES + 1). */
export const FLAKY_MAX_RETRIES = 3;

/** The `flaky` demo flow; see the module comment. */
export default defineFlow({
  name: 'flaky',
  description: `Fails its first payload.failures attempts (default 1) and retries up to ${FLAKY_MAX_RETRIES} times; returns { attempts }.`,
  build: ({ queueMaxsize, logger }) => {
    // Attempts per trace; freed when the trace ends so the map stays small.
    const attempts = new Map<string, number>();
    const node = new Node(
      (msg: Message, ctx: Context) => {
        const key = ctx.traceId ?? msg.traceId;
        const attempt = (attempts.get(key) ?? 0) + 1;
        attempts.set(key, attempt);
        const failures = intField(msg.payload, 'failures', 1, 0, 1000);
        if (attempt <= failures) throw new Error(`flaky failure ${attempt} of ${failures}`);
        return { ...msg, payload: { attempts: attempt } };
      },
      {
        name: 'flaky',
        policy: { maxRetries: FLAKY_MAX_RETRIES, backoffBaseMs: 10, backoffMult: 2, maxConcurrency: 64 },
        hooks: {
          onTraceEnd: (traceId) => void attempts.delete(traceId),
          stats: () => ({ tracked: attempts.size }),
        },
      },
    );
    return create([node.to()], { queueMaxsize, logger, emitErrorsToRookery: true });
  },
});
