import type { FlowEvent } from './events.js';

/** A {@link FlowEvent} as persisted by a {@link StateStore}. */
export interface StoredEvent {
  /** Unique id of the event; saving the same id twice stores it once. */
  id: string;
  traceId: string | undefined;
  /** Epoch milliseconds. */
  ts: number;
  /** The event type (`node_start`, …). */
  kind: string;
  nodeName: string | undefined;
  nodeId: string | undefined;
  /** {@link FlowEvent.toPayload} of the event. */
  payload: Record<string, unknown>;
}

/** Where a trace was handed to a remote agent (PenguiFlow's A2A binding). */
export interface RemoteBinding {
  traceId: string;
  contextId?: string;
  taskId: string;
  agentUrl: string;
}

/**
 * Durable history of a flow. The runtime calls `saveEvent` for every event
 * without awaiting it on the hot path; a store that throws or rejects is
 * logged and never breaks a flow.
 */
export interface StateStore {
  /** Persists one event; must be idempotent by `event.id` (retries are safe). */
  saveEvent(event: StoredEvent): Promise<void>;
  /** All stored events of a trace, in the order they were emitted. */
  loadHistory(traceId: string): Promise<StoredEvent[]>;
  /** Records a remote binding of a trace. */
  saveRemoteBinding(binding: RemoteBinding): Promise<void>;
}

/** Converts a runtime event into its stored form. */
export function toStoredEvent(id: string, event: FlowEvent): StoredEvent {
  return {
    id,
    traceId: event.traceId,
    ts: event.ts,
    kind: event.eventType,
    nodeName: event.nodeName,
    nodeId: event.nodeId,
    payload: event.toPayload(),
  };
}

/**
 * A {@link StateStore} in process memory: for tests and single-process use.
 * History is lost with the process.
 */
export class InMemoryStateStore implements StateStore {
  readonly #byTrace = new Map<string, StoredEvent[]>();
  readonly #ids = new Set<string>();
  readonly #bindings: RemoteBinding[] = [];

  saveEvent(event: StoredEvent): Promise<void> {
    if (this.#ids.has(event.id)) return Promise.resolve();
    this.#ids.add(event.id);
    const key = event.traceId ?? '';
    let list = this.#byTrace.get(key);
    if (!list) {
      list = [];
      this.#byTrace.set(key, list);
    }
    list.push(event);
    return Promise.resolve();
  }

  loadHistory(traceId: string): Promise<StoredEvent[]> {
    return Promise.resolve([...(this.#byTrace.get(traceId) ?? [])]);
  }

  saveRemoteBinding(binding: RemoteBinding): Promise<void> {
    this.#bindings.push({ ...binding });
    return Promise.resolve();
  }

  /** Bindings saved so far (copies). */
  remoteBindings(): RemoteBinding[] {
    return this.#bindings.map((b) => ({ ...b }));
  }
}
