/**
 * The trace records of one hosted flow, with their retention.
 */
import { OldestFirst } from '../util/oldest-first.js';
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
  /** Ended records in end order, so expiry scans only the oldest. */
  readonly #ended = new Map<string, TraceRecord>();
  readonly #oldestEnded = new OldestFirst(() => this.#ended.values());
  readonly #opts: TraceTableOptions;

  constructor(opts: TraceTableOptions) {
    this.#opts = opts;
  }

  /** Records currently remembered (running and ended). */
  get size(): number {
    return this.#records.size;
  }

  /** Ended records currently remembered. */
  get endedCount(): number {
    return this.#ended.size;
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

  /** Creates and registers a running record. @throws Error when the key is already present. */
  create(key: string, tenant: string, traceId: string): TraceRecord {
    if (this.#records.has(key)) throw new Error('trace record already exists');
    const record = new TraceRecord(key, tenant, traceId, this.#opts.capacity);
    this.#records.set(key, record);
    return record;
  }

  /** Notes that `record` ended now: starts its retention and enforces the cap. */
  markEnded(record: TraceRecord): void {
    if (this.#records.get(record.key) !== record) return;
    this.#ended.delete(record.key);
    this.#ended.set(record.key, record);
    while (this.#ended.size > this.#opts.maxEnded) {
      const oldest = this.#oldestEnded.next();
      if (oldest === undefined) break;
      this.delete(oldest);
    }
  }

  /** Notes that an ended `record` runs again (its trace id was re-emitted). */
  markRunning(record: TraceRecord): void {
    this.#ended.delete(record.key);
  }

  /** Forgets a record now. */
  delete(record: TraceRecord): void {
    if (this.#records.get(record.key) !== record) return;
    this.#records.delete(record.key);
    this.#ended.delete(record.key);
    if (this.#last === record) this.#last = undefined;
    this.#opts.onForget?.(record);
  }

  /** Forgets ended records older than the retention time. */
  sweep(now = Date.now()): void {
    for (const record of this.#ended.values()) {
      if (record.endedAt !== undefined && now - record.endedAt < this.#opts.retentionMs) break;
      this.delete(record);
    }
  }
}
