/**
 * What the SQLite trace store's main thread and its transaction engine
 * exchange: operations and results made of primitives only (values already
 * turned into text by the store's codec), so they cross a worker boundary
 * as a cheap structured clone and the engine never needs the codec.
 */
import type {
  AcceptRequest,
  EndWrite,
  EventWrite,
  OutputWrite,
  ReplicaRow,
  TracePruneCutoffs,
  TraceState,
  UpdateKind,
} from './trace-store.js';

/** The columns of {@link TraceTuple}, in order, for a SELECT. */
export const TRACE_TUPLE_COLUMNS =
  'tenant, trace_id, flow, state, run, attempt, epoch, owner, cancel_requested, deadline, traceparent, error, created_at, updated_at, ended_at';

/**
 * A trace row as it crosses to the main thread (and as the main thread
 * reads it): an array, which SQLite returns and a structured clone copies
 * more cheaply than an object of as many properties. `error` is the
 * codec's text (null for none); `cancelRequested` is 0 or 1.
 */
export type TraceTuple = readonly [
  tenant: string,
  traceId: string,
  flow: string,
  state: TraceState,
  run: number,
  attempt: number,
  epoch: number,
  owner: string | null,
  cancelRequested: number,
  deadline: number | null,
  traceparent: string | null,
  error: string | null,
  createdAt: number,
  updatedAt: number,
  endedAt: number | null,
];

/** An {@link AcceptRequest} with its message as text. */
export type EncodedAccept = Omit<AcceptRequest, 'message'> & { readonly message: string };
/** An {@link OutputWrite} with its value as text. */
export type EncodedOutput = Omit<OutputWrite, 'value'> & { readonly value: string };
/** An {@link EndWrite} with its error as text (null for none). */
export type EncodedEnd = Omit<EndWrite, 'error'> & { readonly error: string | null };

/** A stored update with its value as text. */
export interface EncodedUpdate {
  readonly seq: number;
  readonly run: number;
  readonly kind: UpdateKind;
  readonly value: string;
}

/** A put-back with its value as text. */
export interface EncodedPutBack {
  readonly tenant: string;
  readonly traceId: string;
  readonly update: EncodedUpdate;
}

/** A commit batch with every value as text. */
export interface EncodedBatch {
  readonly accepts: readonly EncodedAccept[];
  readonly outputs: readonly EncodedOutput[];
  readonly putBacks: readonly EncodedPutBack[];
  readonly events: readonly EventWrite[];
  readonly ends: readonly EncodedEnd[];
}

/** How one accept was decided, rows as stored. */
export type RawAcceptResult =
  | {
      readonly kind: 'accepted';
      readonly row: TraceTuple;
      readonly input: number;
      readonly joined: boolean;
      readonly lastUpdateSeq: number;
      readonly lastEventSeq: number;
    }
  | { readonly kind: 'duplicate'; readonly traceId: string; readonly row: TraceTuple | undefined }
  | { readonly kind: 'over_quota' }
  | { readonly kind: 'queue_full' }
  | { readonly kind: 'cancelling'; readonly row: TraceTuple }
  | { readonly kind: 'other_flow'; readonly row: TraceTuple };

/** A claimed trace, messages as text. */
export interface RawClaim {
  readonly row: TraceTuple;
  readonly inputs: readonly string[];
  readonly storedUpdates: number;
  readonly lastUpdateSeq: number;
  readonly lastEventSeq: number;
  readonly previousOwner: string | undefined;
  readonly previousHeartbeat: number | undefined;
}

/** A take's result (trace-store.ts `TakeResult`) as the engine answers it: value as text, row as a tuple. */
export type RawTakeResult =
  | { readonly kind: 'update'; readonly update: EncodedUpdate; readonly row: TraceTuple }
  | { readonly kind: 'end'; readonly row: TraceTuple }
  | { readonly kind: 'empty'; readonly row: TraceTuple }
  | { readonly kind: 'missing' };

/** A cancellation's result (trace-store.ts `CancelRequestResult`) as the engine answers it: row as a tuple. */
export type RawCancelResult =
  | { readonly kind: 'missing' }
  | { readonly kind: 'ended'; readonly row: TraceTuple }
  | { readonly kind: 'cancelled'; readonly row: TraceTuple; readonly lastEventSeq: number }
  | { readonly kind: 'requested'; readonly row: TraceTuple };

/** One bounded step of a prune; `more` when a category hit the step's limit. */
export interface PruneStep {
  readonly traces: number;
  readonly updates: number;
  readonly keys: number;
  readonly replicas: number;
  readonly more: boolean;
}

/** The operations that run inside a write transaction, with their results. */
export interface EngineOps {
  commit: { args: { readonly batch: EncodedBatch }; result: { readonly accepts: readonly RawAcceptResult[]; readonly fenced: readonly string[] } };
  take: { args: { readonly tenant: string; readonly traceId: string }; result: RawTakeResult };
  requestCancel: { args: { readonly tenant: string; readonly traceId: string }; result: RawCancelResult };
  claim: { args: { readonly replica: string; readonly flow: string; readonly limit: number }; result: readonly RawClaim[] };
  release: { args: { readonly replica: string; readonly keys: readonly string[] | undefined }; result: number };
  heartbeat: { args: { readonly replica: Omit<ReplicaRow, 'heartbeatAt'> }; result: { readonly lapsed: boolean } };
  forgetReplica: { args: { readonly replica: string }; result: null };
  prune: { args: { readonly cutoffs: TracePruneCutoffs; readonly limit: number }; result: PruneStep };
}

/** The name of an engine operation. */
export type EngineOpName = keyof EngineOps;

/** One operation for the engine. */
export type EngineOp = { [K in EngineOpName]: { readonly op: K } & EngineOps[K]['args'] }[EngineOpName];

/** What an operation changed, for the in-process wake-up notice (empty parts omitted by the store). */
export interface NoticeParts {
  readonly traces: readonly string[];
  readonly runners: readonly string[];
  readonly flows: readonly string[];
  readonly tenants: readonly string[];
  readonly events: boolean;
}

/** The outcome of one operation. */
export type EngineOutcome =
  | { readonly ok: true; readonly value: unknown; readonly notice: NoticeParts | undefined }
  | { readonly ok: false; readonly message: string; readonly code: string | undefined };

/** Main thread → worker: operations to run in one transaction. */
export interface EngineRequest {
  readonly id: number;
  readonly ops: readonly EngineOp[];
}

/** Worker → main thread: one outcome per operation, in order, sent after the transaction committed. */
export type EngineReply =
  | { readonly id: number; readonly outcomes: readonly EngineOutcome[] }
  /** The whole transaction failed (could not begin or commit): every operation failed. */
  | { readonly id: number; readonly failed: { readonly message: string; readonly code: string | undefined } };

/** What the worker needs to open its connection. */
export interface EngineConfig {
  readonly path: string;
  readonly leaseMs: number;
  readonly idempotencyRetentionMs: number;
  readonly busyTimeoutMs: number;
}
