/**
 * The server-facing durable store: the runtime's {@link StateStore} plus
 * what the service keeps across restarts (numbered per-trace events, trace
 * ownership, idempotency keys) and retention pruning.
 */
import type { FlowEvent, StateStore } from '../runtime/index.js';

/** One event as the service stores it: numbered per (tenant, trace id). */
export interface EventRecord {
  readonly tenant: string;
  /** The client's trace id. */
  readonly traceId: string;
  /** 1, 2, 3, … per (tenant, trace id); saving the same seq twice stores it once. */
  readonly seq: number;
  /** Hosted flow that produced the event. */
  readonly flow: string;
  /** Epoch milliseconds. */
  readonly ts: number;
  /** The event type (`node_start`, …). */
  readonly kind: string;
  readonly nodeName: string | undefined;
  readonly nodeId: string | undefined;
  /** The rest of the event: a JSON object. */
  readonly payload: Record<string, unknown>;
  /** `payload` already serialized (a writer's fast path); stores use it instead of `JSON.stringify(payload)` when set. */
  readonly payloadJson?: string;
  /**
   * The runtime event the record was made from, when there is one (see
   * `FlowEventRecord`): an in-memory store keeps its fields instead of the
   * payload, and a reader given it back needs no rebuilding.
   */
  readonly event?: FlowEvent;
}

/**
 * A trace as the store keeps it: who owns it and how far it got (the
 * durable row behind the host's in-memory `TraceRecord`).
 */
export interface StoredTrace {
  readonly tenant: string;
  readonly traceId: string;
  readonly flow: string;
  /** `RUNNING`, or the end status (`COMPLETED`, `FAILED`, `CANCELLED`, `DEADLINE_EXCEEDED`, `UNAVAILABLE`). */
  readonly status: string;
  /** Epoch ms of the first admission. */
  readonly createdAt: number;
  /** Epoch ms of the last change. */
  readonly updatedAt: number;
  /** Epoch ms of the end; undefined while running. */
  readonly endedAt: number | undefined;
}

/** An idempotency key of an Emit/Call/CallStream, per (tenant, flow). */
export interface IdempotencyRecord {
  readonly tenant: string;
  readonly flow: string;
  readonly key: string;
  readonly traceId: string;
  /** Epoch ms when the key was claimed. */
  readonly createdAt: number;
}

/**
 * Writes applied together, in one transaction: events first, then trace
 * rows. A trace row in a batch is written after every event of that trace
 * enqueued before it, so a stored end status implies complete history.
 */
export interface WriteBatch {
  readonly events: readonly EventRecord[];
  /** At most one row per (tenant, trace id); `createdAt` of an existing row is kept. */
  readonly traces: readonly StoredTrace[];
}

/**
 * What {@link ServiceStateStore.prune} deletes (epoch ms cutoffs). A trace's
 * events go with its trace row, so a history is never cut in the middle.
 */
export interface PruneCutoffs {
  /** Runtime events (`saveEvent`) with `ts` before this. */
  readonly eventsBefore: number;
  /** Trace rows last updated before this (ended or not), with all their events. */
  readonly tracesBefore: number;
  /** Idempotency keys created before this. */
  readonly keysBefore: number;
}

/** Rows deleted by a prune. */
export interface PruneResult {
  events: number;
  traces: number;
  keys: number;
}

/** Which implementation a store is. */
export type StoreKind = 'memory' | 'sqlite' | 'postgres';

/**
 * The store behind the server. Every implementation passes the same
 * contract suite (test/unit/state/contract.ts).
 */
export interface ServiceStateStore extends StateStore {
  readonly kind: StoreKind;
  /** Opens the store and applies pending schema migrations. Idempotent. */
  init(): Promise<void>;
  /** Applies a batch atomically; idempotent (events by (tenant, trace id, seq)). */
  write(batch: WriteBatch): Promise<void>;
  /** Events of (tenant, trace id) with `seq > afterSeq`, in seq order; at most `limit` (default all). */
  eventsAfter(tenant: string, traceId: string, afterSeq: number, limit?: number): Promise<EventRecord[]>;
  /** Highest stored seq of (tenant, trace id); 0 when none. */
  lastSeq(tenant: string, traceId: string): Promise<number>;
  /** The trace row of (tenant, trace id), if stored. */
  getTrace(tenant: string, traceId: string): Promise<StoredTrace | undefined>;
  /**
   * Claims an idempotency key for `record.traceId` unless a key created at or
   * after `notBefore` already exists (an older one is replaced).
   *
   * @returns the trace id holding the key afterwards (the claimant's, or the existing one).
   */
  claimKey(record: IdempotencyRecord, notBefore: number): Promise<string>;
  /** The trace id of a key created at or after `notBefore`, if any. */
  getKey(tenant: string, flow: string, key: string, notBefore: number): Promise<string | undefined>;
  /** Deletes a key if it still points at `traceId` (the emit it was claimed for failed). */
  releaseKey(tenant: string, flow: string, key: string, traceId: string): Promise<void>;
  /** Deletes what is older than the cutoffs. */
  prune(cutoffs: PruneCutoffs): Promise<PruneResult>;
  /** Resolves when the store answers a trivial query; rejects otherwise (readiness). */
  ping(): Promise<void>;
  /** Closes connections / the file. */
  close(): Promise<void>;
}
