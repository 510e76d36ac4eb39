/**
 * A growable ring-buffer FIFO.
 *
 * Every queue on the runtime's hot path (edges, fetch buffers, waiter lists)
 * is one of these: `Array.prototype.shift` is O(n) on large arrays, and a
 * ring buffer keeps push/shift O(1) without allocating per element.
 *
 * @internal Not part of the public API; exported for the runtime's own use.
 */
export class Deque<T> {
  #buf: (T | undefined)[];
  #head = 0;
  #size = 0;

  constructor(initialCapacity = 8) {
    let cap = 8;
    while (cap < initialCapacity) cap *= 2;
    this.#buf = new Array<T | undefined>(cap);
  }

  /** Number of elements held. */
  get length(): number {
    return this.#size;
  }

  /** Appends at the tail. */
  push(value: T): void {
    if (this.#size === this.#buf.length) this.#grow();
    this.#buf[(this.#head + this.#size) & (this.#buf.length - 1)] = value;
    this.#size++;
  }

  /** Removes and returns the head, or `undefined` when empty. */
  shift(): T | undefined {
    if (this.#size === 0) return undefined;
    const value = this.#buf[this.#head];
    this.#buf[this.#head] = undefined;
    this.#head = (this.#head + 1) & (this.#buf.length - 1);
    this.#size--;
    return value;
  }

  /** Returns the head without removing it. */
  peek(): T | undefined {
    return this.#size === 0 ? undefined : this.#buf[this.#head];
  }

  /** Removes every element; keeps the allocated capacity small. */
  clear(): void {
    this.#buf = new Array<T | undefined>(8);
    this.#head = 0;
    this.#size = 0;
  }

  /**
   * Keeps only the elements for which `keep` returns true, preserving order,
   * and returns the removed ones (in order).
   */
  removeWhere(drop: (value: T) => boolean): T[] {
    const removed: T[] = [];
    const kept: T[] = [];
    for (let i = 0; i < this.#size; i++) {
      const v = this.#buf[(this.#head + i) & (this.#buf.length - 1)] as T;
      if (drop(v)) removed.push(v);
      else kept.push(v);
    }
    if (removed.length === 0) return removed;
    this.clear();
    for (const v of kept) this.push(v);
    return removed;
  }

  /** Iterates head to tail without removing. */
  *[Symbol.iterator](): IterableIterator<T> {
    for (let i = 0; i < this.#size; i++) {
      yield this.#buf[(this.#head + i) & (this.#buf.length - 1)] as T;
    }
  }

  #grow(): void {
    const old = this.#buf;
    const next = new Array<T | undefined>(old.length * 2);
    for (let i = 0; i < this.#size; i++) next[i] = old[(this.#head + i) & (old.length - 1)];
    this.#buf = next;
    this.#head = 0;
  }
}
