import { PlaybookTimeoutError, TraceCancelled } from './errors.js';
import type { Flow } from './flow.js';
import type { Message } from './message.js';

/** Builds the sub-flow of a playbook; called once per `callPlaybook`. */
export type PlaybookFactory = () => Flow | Promise<Flow>;

/** Options of {@link callPlaybook}. */
export interface CallPlaybookOptions {
  /**
   * Bound on the whole playbook; on expiry its trace is cancelled and a
   * `PlaybookTimeoutError` thrown. Its timer (`AbortSignal.timeout`) does not
   * keep the process alive.
   */
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
  if (opts.signal?.aborted) throw opts.signal.reason;
  // The playbook ends early when the caller aborts or its time is up,
  // whichever comes first; AbortSignal.any keeps the first reason. (One
  // uncleared timeout per playbook call is fine; per hop it would not be:
  // see engine/invocation.ts.)
  const timeout = opts.timeoutMs === undefined ? undefined : AbortSignal.timeout(opts.timeoutMs);
  const sources = [opts.signal, timeout].filter((s) => s !== undefined);
  const signal = sources.length < 2 ? sources[0] : AbortSignal.any(sources);
  const cancel = (): void => void flow.cancel(traceId);
  signal?.addEventListener('abort', cancel, { once: true });
  flow.run();
  try {
    await flow.emit(parent, { traceId, ...(signal ? { signal } : {}) });
    return await flow.fetch({ traceId, ...(signal ? { signal } : {}) });
  } catch (err) {
    if (signal?.aborted) throw timeout !== undefined && signal.reason === timeout.reason ? new PlaybookTimeoutError(opts.timeoutMs!) : signal.reason;
    if (err instanceof TraceCancelled && opts.runtime) void opts.runtime.cancel(traceId);
    throw err;
  } finally {
    signal?.removeEventListener('abort', cancel);
    await flow.stop();
  }
}
