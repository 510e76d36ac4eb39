import type { Message, StreamChunk } from './message.js';
import type { Node } from './node.js';
import type { PlaybookFactory } from './playbook.js';

/** Arguments of {@link Context.emitChunk} and `Flow.emitChunk`. */
export interface EmitChunkArgs {
  /** The message being answered; gives the chunk its trace and headers. */
  parent: Message;
  text: string;
  /** Defaults to the parent's trace id. */
  streamId?: string;
  /** Explicit sequence number; by default the next one of the stream (0, 1, 2, …). */
  seq?: number;
  /** Marks the last chunk; the stream's numbering restarts after it. */
  done?: boolean;
  meta?: Record<string, unknown>;
  /** Target node(s); by default the node's successors (Rookery for an egress node). */
  to?: Node | Node[];
}

/**
 * What node code gets besides its message.
 *
 * `signal` aborts when the trace is cancelled, the node's `timeoutMs` or the
 * message's `deadline` passes, or the flow stops. JavaScript cannot kill a
 * promise, so node code must pass `signal` to `fetch`, database drivers and
 * timers. Code that ignores it is abandoned when the signal fires: the
 * runtime stops waiting, releases the node's concurrency slot (so a retry or
 * the next message may start while the abandoned code still runs) and
 * discards whatever it later returns or emits.
 */
export interface Context {
  /** Trace of the message being processed; undefined for untraced payloads. */
  readonly traceId: string | undefined;
  readonly signal: AbortSignal;
  /** The node running this invocation. */
  readonly node: Node;
  /** The node's successors, in declaration order (empty for an egress node). */
  readonly successors: readonly Node[];
  /**
   * Sends `msg` to the node's successors (or `to`, which must be successors or
   * the node itself when it may loop); awaits while a target edge is full.
   * Rejects with `TraceCancelled` once the trace is cancelled.
   */
  emit(msg: unknown, to?: Node | Node[]): Promise<void>;
  /** Numbers and sends a {@link StreamChunk} wrapped in a {@link Message}; returns the chunk. */
  emitChunk(args: EmitChunkArgs): Promise<StreamChunk>;
  /**
   * Takes the next message waiting on this node's incoming edges (only from
   * the given predecessors when `from` is set), awaiting one if none waits.
   */
  fetch(from?: Node | Node[]): Promise<unknown>;
  /**
   * Runs a sub-flow built by `factory` for `parent` and returns its first
   * output. Cancelling this trace cancels the playbook; a playbook whose
   * trace is cancelled cancels this trace.
   */
  callPlaybook(factory: PlaybookFactory, parent: Message, opts?: { timeoutMs?: number }): Promise<unknown>;
}
