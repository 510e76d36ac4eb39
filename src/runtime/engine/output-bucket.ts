import { Deque } from '../../internal/deque.js';
import type { TraceState } from './trace-state.js';

/** A fetch waiting for output. */
export interface Waiter {
  resolve(value: unknown): void;
  reject(reason: unknown): void;
}

/** An output buffered in Rookery. `taken` lets two indexes share it. */
export interface OutputEntry {
  readonly value: unknown;
  readonly bucket: OutputBucket;
  taken: boolean;
}

/** A producer waiting for room in a full bucket. */
export interface OutputPutter {
  readonly value: unknown;
  resolve(): void;
  reject(reason: unknown): void;
}

/**
 * Rookery's buffer for one trace (or for untraced outputs): bounded by the
 * flow's `queueMaxsize`, FIFO, with its own fetch waiters.
 */
export class OutputBucket {
  readonly entries = new Deque<OutputEntry>();
  readonly waiters = new Deque<Waiter>();
  readonly putters = new Deque<OutputPutter>();
  /** Entries not yet taken (the deque may hold taken ones until they reach the head). */
  live = 0;

  constructor(
    readonly capacity: number,
    /** The trace whose outputs these are; undefined for untraced outputs. */
    readonly trace: TraceState | undefined,
  ) {}

  hasRoom(): boolean {
    return this.capacity <= 0 || this.live < this.capacity;
  }

  /** Takes the oldest live entry. */
  takeEntry(): OutputEntry | undefined {
    for (;;) {
      const e = this.entries.shift();
      if (e === undefined) return undefined;
      if (e.taken) continue;
      e.taken = true;
      this.live--;
      return e;
    }
  }

  /** Drops every buffered entry and returns how many were live. */
  dropAll(): number {
    const n = this.live;
    for (const e of this.entries) e.taken = true;
    this.entries.clear();
    this.live = 0;
    return n;
  }
}
