import { PlaybookTimeoutError, TraceCancelled } from './errors.js';
import type { Flow } from './flow.js';
import type { Message } from './message.js';

/** Builds the sub-flow of a playbook; called once per `callPlaybook`. */
export type PlaybookFactory = () => Flow | Promise<Flow>;

/** Options of {@link callPlaybook}. */
export interface CallPlaybookOptions {
  /** Bound on the whole playbook; on expiry its trace is cancelled and a `PlaybookTimeoutError` thrown. */
  timeoutMs?: number;
  /** The flow the caller runs in: when the playbook's trace is cancelled, the parent trace is too. */
  runtime?: Flow;
  /** Aborting it (e.g. the caller's `ctx.signal`) cancels the playbook's trace. */
  signal?: AbortSignal;
}

/**
 * Runs a sub-flow for one message and returns its first output.
 *
 * The sub-flow is built by `factory`, started, fed `parent` under the
 * parent's trace id, and always stopped afterwards. Cancellation crosses the
 * boundary both ways: aborting `signal` cancels the playbook's trace and
 * rejects with the abort reason; a playbook whose trace is cancelled from
 * inside rejects with `TraceCancelled` and cancels the parent trace in
 * `runtime`.
 */
export async function callPlaybook(factory: PlaybookFactory, parent: Message, opts: CallPlaybookOptions = {}): Promise<unknown> {
  const flow = await factory();
  const traceId = parent.traceId;
  const local = new AbortController();
  const onParentAbort = (): void => {
    void flow.cancel(traceId);
    local.abort(opts.signal?.reason);
  };
  let timer: ReturnType<typeof setTimeout> | undefined;
  if (opts.signal?.aborted) throw opts.signal.reason;
  opts.signal?.addEventListener('abort', onParentAbort, { once: true });
  if (opts.timeoutMs !== undefined) {
    const ms = opts.timeoutMs;
    timer = setTimeout(() => {
      void flow.cancel(traceId);
      local.abort(new PlaybookTimeoutError(ms));
    }, ms);
  }
  flow.run();
  try {
    await flow.emit(parent, { traceId, signal: local.signal });
    return await flow.fetch({ traceId, signal: local.signal });
  } catch (err) {
    if (local.signal.aborted) throw local.signal.reason;
    if (err instanceof TraceCancelled && opts.runtime) void opts.runtime.cancel(traceId);
    throw err;
  } finally {
    if (timer !== undefined) clearTimeout(timer);
    opts.signal?.removeEventListener('abort', onParentAbort);
    await flow.stop();
  }
}
