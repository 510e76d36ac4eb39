/**
 * {@link ServiceStateStore} in process memory: tests, and `PENGUIFLOW_STORE=memory`.
 * Everything is lost with the process.
 */
import { InMemoryStateStore, type RemoteBinding, type StoredEvent } from '../runtime/index.js';
import type { EventRecord, IdempotencyRecord, PruneCutoffs, PruneResult, ServiceStateStore, StoredTrace, WriteBatch } from './types.js';

const SEP = '\u001f';

/** In-memory store. */
export class MemoryStateStore implements ServiceStateStore {
  readonly kind = 'memory' as const;
  readonly #runtime = new InMemoryStateStore();
  /** Events per trace, kept sorted by seq. */
  readonly #events = new Map<string, EventRecord[]>();
  readonly #traces = new Map<string, StoredTrace>();
  readonly #keys = new Map<string, IdempotencyRecord>();
  #closed = false;

  init(): Promise<void> {
    return Promise.resolve();
  }

  saveEvent(event: StoredEvent): Promise<void> {
    return this.#runtime.saveEvent(event);
  }

  loadHistory(traceId: string): Promise<StoredEvent[]> {
    return this.#runtime.loadHistory(traceId);
  }

  saveRemoteBinding(binding: RemoteBinding): Promise<void> {
    return this.#runtime.saveRemoteBinding(binding);
  }

  write(batch: WriteBatch): Promise<void> {
    if (this.#closed) return Promise.reject(new Error('store closed'));
    for (const e of batch.events) {
      const id = e.tenant + SEP + e.traceId;
      let list = this.#events.get(id);
      if (list === undefined) {
        list = [];
        this.#events.set(id, list);
      }
      const last = list.at(-1);
      if (last === undefined || last.seq < e.seq) {
        list.push({ ...e });
        continue;
      }
      // Out of order or a retry: insert unless present.
      let lo = 0;
      let hi = list.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (list[mid]!.seq < e.seq) lo = mid + 1;
        else hi = mid;
      }
      if (list[lo]?.seq !== e.seq) list.splice(lo, 0, { ...e });
    }
    for (const t of batch.traces) {
      const id = t.tenant + SEP + t.traceId;
      const old = this.#traces.get(id);
      this.#traces.set(id, { ...t, createdAt: old?.createdAt ?? t.createdAt });
    }
    return Promise.resolve();
  }

  eventsAfter(tenant: string, traceId: string, afterSeq: number, limit = Number.POSITIVE_INFINITY): Promise<EventRecord[]> {
    const list = this.#events.get(tenant + SEP + traceId) ?? [];
    const out: EventRecord[] = [];
    for (const e of list) {
      if (e.seq <= afterSeq) continue;
      if (out.length >= limit) break;
      out.push({ ...e });
    }
    return Promise.resolve(out);
  }

  lastSeq(tenant: string, traceId: string): Promise<number> {
    return Promise.resolve(this.#events.get(tenant + SEP + traceId)?.at(-1)?.seq ?? 0);
  }

  getTrace(tenant: string, traceId: string): Promise<StoredTrace | undefined> {
    const t = this.#traces.get(tenant + SEP + traceId);
    return Promise.resolve(t === undefined ? undefined : { ...t });
  }

  claimKey(record: IdempotencyRecord, notBefore: number): Promise<string> {
    const id = [record.tenant, record.flow, record.key].join(SEP);
    const found = this.#keys.get(id);
    if (found !== undefined && found.createdAt >= notBefore) return Promise.resolve(found.traceId);
    this.#keys.set(id, { ...record });
    return Promise.resolve(record.traceId);
  }

  getKey(tenant: string, flow: string, key: string, notBefore: number): Promise<string | undefined> {
    const found = this.#keys.get([tenant, flow, key].join(SEP));
    return Promise.resolve(found !== undefined && found.createdAt >= notBefore ? found.traceId : undefined);
  }

  releaseKey(tenant: string, flow: string, key: string, traceId: string): Promise<void> {
    const id = [tenant, flow, key].join(SEP);
    if (this.#keys.get(id)?.traceId === traceId) this.#keys.delete(id);
    return Promise.resolve();
  }

  prune(cutoffs: PruneCutoffs): Promise<PruneResult> {
    const result: PruneResult = { events: 0, traces: 0, keys: 0 };
    for (const [id, t] of this.#traces) {
      if (t.updatedAt < cutoffs.tracesBefore) {
        this.#traces.delete(id);
        result.traces++;
        result.events += this.#events.get(id)?.length ?? 0;
        this.#events.delete(id);
      }
    }
    // Runtime events (saveEvent) stay: InMemoryStateStore has no pruning.
    for (const [id, k] of this.#keys) {
      if (k.createdAt < cutoffs.keysBefore) {
        this.#keys.delete(id);
        result.keys++;
      }
    }
    return Promise.resolve(result);
  }

  ping(): Promise<void> {
    return this.#closed ? Promise.reject(new Error('store closed')) : Promise.resolve();
  }

  close(): Promise<void> {
    this.#closed = true;
    return Promise.resolve();
  }
}
