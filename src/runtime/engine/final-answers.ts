import { finalAnswer, type Message } from '../message.js';
import type { TraceState } from './trace-state.js';

/** Text of the FinalAnswer sent when a message's deadline passed. */
export const DEADLINE_TEXT = 'Deadline exceeded';
/** Text of the FinalAnswer that ends a controller loop at `budgetHops`. */
export const HOP_BUDGET_TEXT = 'Hop budget exhausted';
/** Text of the FinalAnswer that ends a controller loop at `budgetTokens`. */
export const TOKEN_BUDGET_TEXT = 'Token budget exhausted';

/**
 * The message carrying a `FinalAnswer` the runtime itself sends to
 * Rookery in answer to `parent` (deadline passed, loop budget spent): the
 * parent's headers, trace and a copy of its meta.
 */
export function finalMessage(parent: Message | undefined, text: string, trace?: TraceState): Message {
  return {
    payload: finalAnswer(text),
    headers: parent?.headers ?? { tenant: 'default' },
    traceId: parent?.traceId ?? trace?.id ?? '',
    ts: Date.now(),
    meta: parent ? { ...parent.meta } : {},
  };
}
