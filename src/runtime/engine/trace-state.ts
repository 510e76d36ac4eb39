import type { FlowError, TraceStatus } from '../errors.js';
import type { Invocation } from './invocation.js';
import { OutputBucket } from './output-bucket.js';

/**
 * The runtime's bookkeeping for one live trace. It exists from the first
 * emit (or a fetch waiting for a trace not yet emitted) until the trace has
 * ended and its outputs were fetched; then only its final status is kept, in
 * a bounded cache.
 */
export class TraceState {
  /** Messages of the trace queued on edges, waiting to enter an edge, or being processed. */
  pending = 0;
  /** Emitted at least once since (re)start; a fetch-only state is not started. */
  started = false;
  ended = false;
  cancelled = false;
  failure: FlowError | undefined;
  deadlineHit = false;
  readonly outputs: OutputBucket;
  /** Attempts running now (and retry backoffs); their count is the trace's in-flight figure. */
  readonly invocations = new Set<Invocation>();
  streams: Map<string, number> | undefined;
  /** Resolves the cancel in progress once `pending` reaches 0. */
  onIdle: (() => void) | undefined;
  cancelDone: Promise<void> | undefined;
  /** Tail of the per-trace round-trip chain used by `Flow.call`. */
  roundTrip: Promise<unknown> | undefined;

  constructor(
    readonly id: string,
    capacity: number,
  ) {
    this.outputs = new OutputBucket(capacity, this);
  }

  /** The status the trace ends with, given what happened so far. */
  status(): TraceStatus {
    if (this.cancelled) return 'CANCELLED';
    if (this.failure) return 'FAILED';
    if (this.deadlineHit) return 'DEADLINE_EXCEEDED';
    return 'COMPLETED';
  }

  /** Clears per-run flags when a finished trace id is emitted again. */
  restart(): void {
    this.ended = false;
    this.failure = undefined;
    this.deadlineHit = false;
    this.started = true;
  }

  /** Next sequence number of a stream of this trace; numbering restarts after `done`. */
  nextSeq(streamId: string, explicit: number | undefined, done: boolean): number {
    this.streams ??= new Map();
    const seq = explicit ?? this.streams.get(streamId) ?? 0;
    if (done) this.streams.delete(streamId);
    else this.streams.set(streamId, seq + 1);
    if (this.streams.size === 0) this.streams = undefined;
    return seq;
  }
}
