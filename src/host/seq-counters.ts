/**
 * The per-trace sequence counters of the event log: the next `seq` of each
 * (tenant, trace id), kept while the trace is retained and for a retention
 * period after its release.
 *
 * Every event and every trace start, end, retain and release looks one up,
 * so they are keyed by tenant then trace id (no key string is built and
 * hashed per call), the last one found is reused (a trace's events come in
 * bursts), and released counters are linked through themselves in release
 * order, so expiry scans only the oldest.
 */

/** One trace's counter. */
export interface SeqCounter {
  readonly tenant: string;
  readonly traceId: string;
  /** The last seq given out; the next event gets `seq + 1`. */
  seq: number;
  /** Holders (hosted-flow records) that keep it. */
  refs: number;
  /** Epoch ms of the last release (or of the creation of a counter nobody holds). */
  releasedAt: number;
  /** Epoch ms when the counter was created: the trace row's `createdAt`. */
  readonly createdAt: number;
  prev: SeqCounter | null;
  next: SeqCounter | null;
  released: boolean;
}

/** Counters by (tenant, trace id); see the module comment. */
export class SeqCounters {
  readonly #byTenant = new Map<string, Map<string, SeqCounter>>();
  #size = 0;
  #last: SeqCounter | undefined;
  #head: SeqCounter | null = null;
  #tail: SeqCounter | null = null;
  #releasedCount = 0;
  readonly #maxReleased: number;

  /** @param maxReleased most released counters kept; the oldest released are forgotten first. */
  constructor(maxReleased: number) {
    this.#maxReleased = maxReleased;
  }

  /** Counters in memory. */
  get size(): number {
    return this.#size;
  }

  /** The counter of (tenant, trace id), if in memory. */
  get(tenant: string, traceId: string): SeqCounter | undefined {
    const last = this.#last;
    if (last !== undefined && last.traceId === traceId && last.tenant === tenant) return last;
    const c = this.#byTenant.get(tenant)?.get(traceId);
    if (c !== undefined) this.#last = c;
    return c;
  }

  /**
   * Creates the counter of (tenant, trace id), starting after `seq`. A
   * counter nobody holds yet (`held` false) counts as released now, so it
   * expires unless retained.
   */
  create(tenant: string, traceId: string, seq: number, held: boolean, now = Date.now()): SeqCounter {
    let byId = this.#byTenant.get(tenant);
    if (byId === undefined) {
      byId = new Map();
      this.#byTenant.set(tenant, byId);
    }
    const c: SeqCounter = { tenant, traceId, seq, refs: 0, releasedAt: held ? 0 : now, createdAt: now, prev: null, next: null, released: false };
    byId.set(traceId, c);
    this.#size++;
    this.#last = c;
    if (!held) this.#noteReleased(c);
    return c;
  }

  /** Adds a holder (creating the counter when needed): it no longer expires. */
  retain(tenant: string, traceId: string): void {
    const c = this.get(tenant, traceId) ?? this.create(tenant, traceId, 0, true);
    c.refs++;
    this.#unlink(c);
  }

  /** Drops a holder; at zero the counter expires after the retention period (or the cap). */
  release(tenant: string, traceId: string, now = Date.now()): void {
    const c = this.get(tenant, traceId);
    if (c === undefined || c.refs === 0) return;
    c.refs--;
    if (c.refs > 0) return;
    c.releasedAt = now;
    this.#noteReleased(c);
  }

  /** Forgets counters released at least `retentionMs` before `now`, oldest release first. */
  sweep(now: number, retentionMs: number): void {
    for (let c = this.#head; c !== null && now - c.releasedAt >= retentionMs; c = this.#head) this.#forget(c);
  }

  /** Appends `c` to the released list (moving it if it was there) and forgets the oldest over the cap. */
  #noteReleased(c: SeqCounter): void {
    this.#unlink(c);
    c.prev = this.#tail;
    if (this.#tail === null) this.#head = c;
    else this.#tail.next = c;
    this.#tail = c;
    c.released = true;
    this.#releasedCount++;
    while (this.#releasedCount > this.#maxReleased && this.#head !== null) this.#forget(this.#head);
  }

  #unlink(c: SeqCounter): void {
    if (!c.released) return;
    if (c.prev === null) this.#head = c.next;
    else c.prev.next = c.next;
    if (c.next === null) this.#tail = c.prev;
    else c.next.prev = c.prev;
    c.prev = null;
    c.next = null;
    c.released = false;
    this.#releasedCount--;
  }

  #forget(c: SeqCounter): void {
    this.#unlink(c);
    if (this.#last === c) this.#last = undefined;
    const byId = this.#byTenant.get(c.tenant);
    if (byId?.get(c.traceId) !== c) return;
    byId.delete(c.traceId);
    this.#size--;
    if (byId.size === 0) this.#byTenant.delete(c.tenant);
  }
}
