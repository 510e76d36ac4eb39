/**
 * The trace records of one hosted flow, with their retention.
 */
import { TraceRecord } from './trace-record.js';

/** Options of {@link TraceTable}. */
export interface TraceTableOptions {
  /** Capacity of each record's update log (the flow's queue size); <= 0 = unbounded. */
  capacity: number;
  /** How long an ended record is remembered after its end. */
  retentionMs: number;
  /** Most ended records remembered; the oldest ended are forgotten first. */
  maxEnded: number;
  /** Called when a record is forgotten (after retention, cap or {@link TraceTable.delete}). */
  onForget?: (record: TraceRecord) => void;
}

/**
 * Live and recently ended {@link TraceRecord}s of one flow, by runtime trace
 * key.
 *
 * A running record is kept as long as its trace runs. An ended one keeps
 * its unread updates and its outcome (so Fetch can answer `end`, and Cancel
 * `cancelled=false`) for `retentionMs` or until `maxEnded` newer traces
 * ended, whichever comes first; then it is forgotten and the trace id is
 * NOT_FOUND.
 */
export class TraceTable {
  readonly #records = new Map<string, TraceRecord>();
  /**
   * Ended records in end order (oldest first), linked through the records
   * themselves, so expiry scans only the oldest and every trace's end costs
   * pointer updates rather than hash-map operations.
   */
  #endedHead: TraceRecord | null = null;
  #endedTail: TraceRecord | null = null;
  #endedCount = 0;
  readonly #opts: TraceTableOptions;
  /** Resolvers of {@link whenIdle} promises, settled when no record runs any more. */
  #idleWaiters: (() => void)[] = [];

  constructor(opts: TraceTableOptions) {
    this.#opts = opts;
  }

  /** Records currently remembered (running and ended). */
  get size(): number {
    return this.#records.size;
  }

  /** Ended records currently remembered. */
  get endedCount(): number {
    return this.#endedCount;
  }

  /** Records of traces that have not ended (running, or still being admitted). */
  get running(): number {
    return this.#records.size - this.#endedCount;
  }

  /**
   * Resolves once no record runs ({@link running} is 0): at once when none
   * does, else when the last one ends or is forgotten. A record created
   * meanwhile is waited for too.
   */
  whenIdle(): Promise<void> {
    if (this.running === 0) return Promise.resolve();
    return new Promise<void>((resolve) => this.#idleWaiters.push(resolve));
  }

  #wakeIfIdle(): void {
    if (this.#idleWaiters.length === 0 || this.running !== 0) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const wake of waiters) wake();
  }

  /** The record `get` found last: lookups come in bursts for one trace (its admission, then every event of a synchronous chain). */
  #last: TraceRecord | undefined;

  /** The record of a runtime trace key, if remembered. */
  get(key: string): TraceRecord | undefined {
    const last = this.#last;
    if (last !== undefined && last.key === key) return last;
    const record = this.#records.get(key);
    if (record !== undefined) this.#last = record;
    return record;
  }

  /**
   * Creates and registers a running record. The caller has just found no
   * record under `key` ({@link get}); a record still there would be replaced.
   */
  create(key: string, tenant: string, traceId: string): TraceRecord {
    const record = new TraceRecord(key, tenant, traceId, this.#opts.capacity);
    this.#records.set(key, record);
    record.registered = true;
    this.#last = record;
    return record;
  }

  /** Notes that `record` ended now: starts its retention and enforces the cap. */
  markEnded(record: TraceRecord): void {
    if (!record.registered) return;
    this.#unlinkEnded(record);
    record.endedPrev = this.#endedTail;
    if (this.#endedTail === null) this.#endedHead = record;
    else this.#endedTail.endedNext = record;
    this.#endedTail = record;
    record.inEndedList = true;
    this.#endedCount++;
    while (this.#endedCount > this.#opts.maxEnded && this.#endedHead !== null) this.delete(this.#endedHead);
    this.#wakeIfIdle();
  }

  /** Notes that an ended `record` runs again (its trace id was re-emitted). */
  markRunning(record: TraceRecord): void {
    this.#unlinkEnded(record);
  }

  /** Forgets a record now. */
  delete(record: TraceRecord): void {
    if (!record.registered) return;
    record.registered = false;
    if (this.#records.get(record.key) === record) this.#records.delete(record.key);
    this.#unlinkEnded(record);
    if (this.#last === record) this.#last = undefined;
    this.#opts.onForget?.(record);
    this.#wakeIfIdle();
  }

  #unlinkEnded(record: TraceRecord): void {
    if (!record.inEndedList) return;
    if (record.endedPrev === null) this.#endedHead = record.endedNext;
    else record.endedPrev.endedNext = record.endedNext;
    if (record.endedNext === null) this.#endedTail = record.endedPrev;
    else record.endedNext.endedPrev = record.endedPrev;
    record.endedPrev = null;
    record.endedNext = null;
    record.inEndedList = false;
    this.#endedCount--;
  }

  /** Forgets ended records older than the retention time. */
  sweep(now = Date.now()): void {
    for (let record = this.#endedHead; record !== null; record = this.#endedHead) {
      if (record.endedAt !== undefined && now - record.endedAt < this.#opts.retentionMs) break;
      this.delete(record);
    }
  }
}
