/**
 * Idempotency keys of Emit/Call/CallStream for one hosted flow.
 */
import { OldestFirst } from '../internal/oldest-first.js';

/** A key already claimed by an earlier request. */
export interface IdempotencyEntry {
  /** Trace id the first request emitted (or is emitting). */
  readonly traceId: string;
  /** Resolves true once the first request's message was admitted, false if it failed. */
  readonly outcome: Promise<boolean>;
}

/** The first request for a key: it must emit, then report how that went. */
export interface IdempotencyClaim {
  /** Reports the emit's result; a failure releases the key so a retry can emit. */
  settle(admitted: boolean): void;
}

interface Entry extends IdempotencyEntry {
  createdAt: number;
  resolve(admitted: boolean): void;
}

/**
 * Remembers `(tenant, key) → trace id` for `retentionMs` (the proto's
 * "retention window"), at most `maxEntries` keys (oldest forgotten first).
 *
 * The first request to claim a key wins; concurrent duplicates wait for its
 * outcome instead of emitting, so the work runs once even when a client
 * retries before the first attempt returned. If the first request fails to
 * emit, the key is released and the next claimant emits.
 */
export class IdempotencyCache {
  readonly #entries = new Map<string, Entry>();
  readonly #oldest = new OldestFirst(() => this.#entries.keys());
  readonly #retentionMs: number;
  readonly #maxEntries: number;

  constructor(retentionMs: number, maxEntries: number) {
    this.#retentionMs = retentionMs;
    this.#maxEntries = Math.max(1, maxEntries);
  }

  /** Keys currently remembered. */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * Claims `key` for `traceId`.
   *
   * @returns `{ claim }` when this request owns the key and must emit, or
   *   `{ existing }` when an earlier request holds it.
   */
  claim(tenant: string, key: string, traceId: string, now = Date.now()): { claim: IdempotencyClaim } | { existing: IdempotencyEntry } {
    const id = `${tenant}\u001f${key}`;
    const found = this.#entries.get(id);
    if (found !== undefined && now - found.createdAt < this.#retentionMs) return { existing: found };
    if (found !== undefined) this.#entries.delete(id);
    let resolve!: (admitted: boolean) => void;
    const outcome = new Promise<boolean>((r) => (resolve = r));
    const entry: Entry = { traceId, outcome, createdAt: now, resolve };
    this.#entries.set(id, entry);
    while (this.#entries.size > this.#maxEntries) {
      const oldest = this.#oldest.next();
      if (oldest === undefined) break;
      this.#entries.delete(oldest);
    }
    return {
      claim: {
        settle: (admitted) => {
          if (!admitted && this.#entries.get(id) === entry) this.#entries.delete(id);
          entry.resolve(admitted);
        },
      },
    };
  }

  /** Forgets keys older than the retention window. */
  sweep(now = Date.now()): void {
    for (const [id, entry] of this.#entries) {
      if (now - entry.createdAt < this.#retentionMs) break;
      this.#entries.delete(id);
    }
  }
}
