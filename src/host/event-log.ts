/**
 * The per-trace FlowEvent log behind SubscribeEvents and GetHistory.
 *
 * An interface so that a durable store (SQLite, PostgreSQL; a later issue)
 * can replace the in-memory one without touching the handlers.
 */
import type { FlowEvent } from '../runtime/index.js';

/** A runtime event as the server records it: attributed to a flow, a tenant and a client trace id, and numbered. */
export interface LoggedEvent {
  /** Hosted flow that produced the event. */
  readonly flow: string;
  /** Tenant owning the trace. */
  readonly tenant: string;
  /** The client's trace id (never the runtime's internal key). */
  readonly traceId: string;
  /** Per-(tenant, trace id) sequence number: 1, 2, 3, … with no gaps. */
  readonly seq: number;
  /** The runtime event; its own `traceId` is the internal key, so use {@link traceId} instead. */
  readonly event: FlowEvent;
}

/** Receives each event as it is appended. Must not throw (a throw is caught and ignored). */
export type EventListener = (event: LoggedEvent) => void;

/**
 * Stores events per (tenant, trace id) and fans them out to live listeners.
 *
 * Sequence numbers are assigned by `append`, per (tenant, trace id) across
 * all flows, as the proto defines them. A trace's events are kept while the
 * trace is retained (see {@link retain}) and for a retention period after.
 */
export interface EventLog {
  /**
   * Records an event and delivers it synchronously to the tenant's
   * listeners, so a listener registered before a `history` call can
   * de-duplicate by `seq` and never miss one.
   */
  append(flow: string, tenant: string, traceId: string, event: FlowEvent): void;
  /**
   * Stored events of a trace with `seq > afterSeq`, in seq order.
   *
   * @returns undefined when the log knows nothing of the trace (never seen
   *   or already forgotten).
   */
  history(tenant: string, traceId: string, afterSeq?: number): Promise<readonly LoggedEvent[] | undefined>;
  /** Registers a listener for every event of `tenant` appended from now on; returns its unsubscribe function. */
  subscribe(tenant: string, listener: EventListener): () => void;
  /** Keeps a trace's events while it runs (reference-counted: one per hosted-flow record). */
  retain(tenant: string, traceId: string): void;
  /** Drops one {@link retain}; at zero the trace's events expire after the retention period. */
  release(tenant: string, traceId: string): void;
  /** Forgets expired traces; called periodically by the server. */
  sweep(now?: number): void;
}
