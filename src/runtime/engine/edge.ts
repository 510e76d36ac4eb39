import { Deque } from '../../internal/deque.js';
import type { TraceState } from './trace-state.js';

/** A message in transit and the trace it belongs to (undefined: untraced). */
export interface Item {
  readonly value: unknown;
  readonly trace: TraceState | undefined;
}

/** An emitter waiting for room on a full edge. */
export interface Putter {
  readonly item: Item;
  resolve(): void;
  reject(reason: unknown): void;
}

/**
 * One directed edge: a bounded FIFO from a source (a node, or OpenSea when
 * `sourceName` is undefined) to one target node. Items are never reordered;
 * emitters that find it full wait in `putters`, also FIFO.
 */
export class Edge {
  readonly buffer = new Deque<Item>();
  readonly putters = new Deque<Putter>();

  constructor(
    readonly sourceName: string | undefined,
    readonly targetIndex: number,
    /** `<= 0` means unbounded. */
    readonly capacity: number,
  ) {}

  /** True when one more item fits in the buffer. */
  hasRoom(): boolean {
    return this.capacity <= 0 || this.buffer.length < this.capacity;
  }

  /**
   * Removes the head item and, if an emitter was waiting for room, moves its
   * item in behind and wakes it (keeping FIFO across the two queues).
   */
  take(): Item | undefined {
    const item = this.buffer.shift();
    if (item !== undefined) this.admitWaiting();
    return item;
  }

  /** Moves waiting emitters' items into the buffer while there is room. */
  admitWaiting(): void {
    while (this.putters.length > 0 && this.hasRoom()) {
      const p = this.putters.shift()!;
      this.buffer.push(p.item);
      p.resolve();
    }
  }
}
