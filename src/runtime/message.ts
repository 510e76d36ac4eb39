import { randomFillSync } from 'node:crypto';

/** Routing and tenancy headers carried by every {@link Message}. */
export interface Headers {
  /** Tenant that owns the message; the tenant boundary of the service. */
  tenant: string;
  /** Optional topic used by routers. */
  topic?: string;
  /** Optional priority; larger means more important. Informational in the runtime. */
  priority?: number;
}

/**
 * The envelope that flows through a graph.
 *
 * `traceId` correlates every message, chunk, output and event of one request;
 * `deadline` is an absolute epoch-millisecond bound after which the runtime
 * never hands the message to user code.
 */
export interface Message<P = unknown> {
  payload: P;
  headers: Headers;
  traceId: string;
  /** Creation time, epoch milliseconds. */
  ts: number;
  /** Absolute deadline, epoch milliseconds. */
  deadline?: number;
  meta: Record<string, unknown>;
}

/** Arguments of {@link createMessage}. */
export interface MessageInit<P> {
  payload: P;
  headers: Headers;
  traceId?: string;
  deadline?: number;
  meta?: Record<string, unknown>;
}

/** Random bytes drawn from the CSPRNG in batches: one system call per 256 trace ids. */
const pool = Buffer.alloc(16 * 256);
let poolOffset = pool.length;

/**
 * A new random trace id: 32 lowercase hex characters, the digits of a
 * random (version 4) UUID without its dashes.
 */
export function newTraceId(): string {
  if (poolOffset === pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const at = poolOffset;
  poolOffset += 16;
  pool[at + 6] = (pool[at + 6]! & 0x0f) | 0x40;
  pool[at + 8] = (pool[at + 8]! & 0x3f) | 0x80;
  return pool.toString('hex', at, at + 16);
}

/**
 * Builds a {@link Message}. A missing `traceId` gets a fresh random one,
 * `ts` is now, and `meta` defaults to an empty object (never shared).
 */
export function createMessage<P>(init: MessageInit<P>): Message<P> {
  const msg: Message<P> = {
    payload: init.payload,
    headers: init.headers,
    traceId: init.traceId ?? newTraceId(),
    ts: Date.now(),
    meta: init.meta ?? {},
  };
  if (init.deadline !== undefined) msg.deadline = init.deadline;
  return msg;
}

/**
 * Structural check for a {@link Message}: an object with a string `traceId`,
 * an object `headers` and a `payload` key. Plain copies (`{ ...msg }`) pass.
 */
export function isMessage(value: unknown): value is Message {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Partial<Message>;
  return typeof v.traceId === 'string' && typeof v.headers === 'object' && v.headers !== null && 'payload' in v;
}

/** One piece of a streamed answer, numbered per `streamId` from 0. */
export interface StreamChunk {
  streamId: string;
  seq: number;
  text: string;
  /** True on the last chunk of a stream; numbering restarts after it. */
  done: boolean;
  meta: Record<string, unknown>;
}

/** True for objects shaped like a {@link StreamChunk}. */
export function isStreamChunk(value: unknown): value is StreamChunk {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Partial<StreamChunk>;
  return typeof v.streamId === 'string' && typeof v.seq === 'number' && typeof v.text === 'string' && typeof v.done === 'boolean';
}

/** The terminal answer of a controller loop or a deadline/budget stop. */
export interface FinalAnswer {
  text: string;
  citations: string[];
}

/** Builds a {@link FinalAnswer} with no citations unless given. */
export function finalAnswer(text: string, citations: string[] = []): FinalAnswer {
  return { text, citations };
}

/** True for objects shaped like a {@link FinalAnswer}. */
export function isFinalAnswer(value: unknown): value is FinalAnswer {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Partial<FinalAnswer>;
  return typeof v.text === 'string' && Array.isArray(v.citations);
}

/**
 * Working memory of a controller loop. A node that returns a {@link Message}
 * whose payload is a `WM` is re-run on it with `hops` incremented until a
 * budget ends the loop or the node returns something else.
 */
export interface WM {
  query: string;
  facts: unknown[];
  hops: number;
  /** Maximum number of node invocations in the loop; `null`/absent: unbounded. */
  budgetHops?: number | null;
  tokensUsed: number;
  /** Token budget; the loop ends once `tokensUsed >= budgetTokens`. */
  budgetTokens?: number | null;
  confidence: number;
}

/** Builds a {@link WM} with zeroed counters. */
export function createWM(init: Partial<WM> & { query: string }): WM {
  return { facts: [], hops: 0, tokensUsed: 0, confidence: 0, ...init };
}

/** True for objects shaped like a {@link WM}. */
export function isWM(value: unknown): value is WM {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Partial<WM>;
  return typeof v.query === 'string' && typeof v.hops === 'number' && Array.isArray(v.facts) && typeof v.tokensUsed === 'number';
}
