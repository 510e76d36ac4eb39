/**
 * A first-in first-out queue with O(1) amortised `push` and `shift`.
 *
 * `Array.prototype.shift` is O(n); trace logs and waiter lists are shifted on
 * every delivery, so this keeps a head index and compacts the backing array
 * only once the consumed prefix dominates it.
 */
export class Fifo<T> {
  #items: (T | undefined)[] = [];
  #head = 0;

  /** Number of queued items. */
  get length(): number {
    return this.#items.length - this.#head;
  }

  /** Appends an item at the tail. */
  push(item: T): void {
    this.#items.push(item);
  }

  /** Puts an item back at the head (it becomes the next {@link shift}). */
  unshift(item: T): void {
    if (this.#head > 0) this.#items[--this.#head] = item;
    else this.#items.unshift(item);
  }

  /** Removes and returns the oldest item; undefined when empty. */
  shift(): T | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head] = undefined;
    this.#head++;
    if (this.#head === this.#items.length) {
      this.#items = [];
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }

  /** The oldest item without removing it; undefined when empty. */
  peek(): T | undefined {
    return this.#head < this.#items.length ? this.#items[this.#head] : undefined;
  }

  /**
   * Removes the first item that is identical (`===`) to `item`.
   * O(n); used only for rare removals such as a waiter whose call was
   * cancelled.
   *
   * @returns true when the item was found and removed.
   */
  remove(item: T): boolean {
    for (let i = this.#head; i < this.#items.length; i++) {
      if (this.#items[i] === item) {
        this.#items.splice(i, 1);
        return true;
      }
    }
    return false;
  }

  /** Drops every item. */
  clear(): void {
    this.#items = [];
    this.#head = 0;
  }

  /** Iterates from oldest to newest without consuming. */
  *[Symbol.iterator](): Iterator<T> {
    for (let i = this.#head; i < this.#items.length; i++) yield this.#items[i] as T;
  }
}
