/**
 * What readers of a trace (Fetch, Call, CallStream, StreamTrace) receive:
 * its updates in order, then its end.
 */
import { FlowError, FlowErrorCode, isMessage, isStreamChunk, type StreamChunk } from '../runtime/index.js';
import type { StoredUpdate, TraceRow, UpdateKind } from '../state/cluster/trace-store.js';

/** How a trace ended, as readers see it. `UNAVAILABLE`: this server stopped serving the trace (it shut down) before it ended. */
export type TraceEndStatus = 'COMPLETED' | 'FAILED' | 'CANCELLED' | 'DEADLINE_EXCEEDED' | 'UNAVAILABLE';

/** One update of a trace, in the order the trace produced it at the flow's egress. */
export type TraceItem =
  | { readonly kind: 'chunk'; readonly chunk: StreamChunk }
  /** An output: usually a runtime `Message`, but node code may return any value. */
  | { readonly kind: 'output'; readonly value: unknown }
  | { readonly kind: 'error'; readonly error: FlowError };

/** The end of a trace: sticky, returned to every read once the updates are drained. */
export interface TraceOutcome {
  readonly kind: 'end';
  readonly status: TraceEndStatus;
  /** The trace's last FlowError; set only when `status` is FAILED (and known). */
  readonly error: FlowError | undefined;
}

/** What a read returns: the next update, or the end once there are no more. */
export type TraceDelivery = TraceItem | TraceOutcome;

/** Whatever carries the signal that aborts a wait (an RPC call); read only when a wait begins. */
export interface SignalSource {
  readonly signal: AbortSignal;
}

/** Sorts a value that left a flow's egress into an update. */
export function classify(value: unknown): TraceItem {
  if (value instanceof FlowError) return { kind: 'error', error: value };
  if (isMessage(value) && isStreamChunk(value.payload)) return { kind: 'chunk', chunk: value.payload };
  if (isStreamChunk(value)) return { kind: 'chunk', chunk: value };
  return { kind: 'output', value };
}

/** The value a store keeps for an update. */
export function storedValueOf(item: TraceItem): { readonly kind: UpdateKind; readonly value: unknown } {
  switch (item.kind) {
    case 'chunk':
      return { kind: 'chunk', value: item.chunk };
    case 'output':
      return { kind: 'output', value: item.value };
    case 'error':
      return { kind: 'error', value: flowErrorPayload(item.error) };
  }
}

/** A stored update as readers receive it. */
export function itemOf(update: StoredUpdate): TraceItem {
  switch (update.kind) {
    case 'chunk':
      return { kind: 'chunk', chunk: update.value as StreamChunk };
    case 'output':
      return { kind: 'output', value: update.value };
    case 'error':
      return { kind: 'error', error: update.value instanceof FlowError ? update.value : reviveFlowError(update.value) };
  }
}

/** The stored form of a FlowError: what `toPayload` gives (no stack, no cause). */
export function flowErrorPayload(error: FlowError): Record<string, unknown> {
  return error.toPayload();
}

/** A FlowError rebuilt from its stored payload (read back by another replica or after a restart). */
export function reviveFlowError(payload: unknown): FlowError {
  const p = (typeof payload === 'object' && payload !== null ? payload : {}) as Record<string, unknown>;
  const code = typeof p.code === 'string' && (Object.values(FlowErrorCode) as string[]).includes(p.code) ? (p.code as FlowErrorCode) : FlowErrorCode.NODE_EXCEPTION;
  const error = new FlowError({
    code,
    message: typeof p.message === 'string' ? p.message : 'node failed',
    traceId: typeof p.traceId === 'string' ? p.traceId : undefined,
    nodeName: typeof p.nodeName === 'string' ? p.nodeName : undefined,
    nodeId: typeof p.nodeId === 'string' ? p.nodeId : undefined,
    metadata: typeof p.metadata === 'object' && p.metadata !== null ? (p.metadata as Record<string, unknown>) : {},
  });
  // exceptionType is derived from a cause in the constructor; the stored one is the truth.
  Object.defineProperty(error, 'exceptionType', { value: typeof p.exceptionType === 'string' ? p.exceptionType : undefined });
  return error;
}

const PLAIN: Readonly<Record<TraceEndStatus, TraceOutcome>> = {
  COMPLETED: { kind: 'end', status: 'COMPLETED', error: undefined },
  FAILED: { kind: 'end', status: 'FAILED', error: undefined },
  CANCELLED: { kind: 'end', status: 'CANCELLED', error: undefined },
  DEADLINE_EXCEEDED: { kind: 'end', status: 'DEADLINE_EXCEEDED', error: undefined },
  UNAVAILABLE: { kind: 'end', status: 'UNAVAILABLE', error: undefined },
};

/** An outcome; the error-free ones are shared constants. */
export function outcome(status: TraceEndStatus, error?: FlowError): TraceOutcome {
  return error === undefined ? PLAIN[status] : { kind: 'end', status, error };
}

/** The outcome a stored, ended trace answers with. */
export function outcomeOfRow(row: TraceRow): TraceOutcome {
  if (row.state === 'QUEUED' || row.state === 'RUNNING') return PLAIN.UNAVAILABLE;
  if (row.state === 'FAILED' && row.error !== undefined && row.error !== null) {
    return outcome('FAILED', row.error instanceof FlowError ? row.error : reviveFlowError(row.error));
  }
  return PLAIN[row.state];
}
