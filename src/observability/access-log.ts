/**
 * The access log: one line per RPC, written when the call ends.
 */
import { toJson } from '@bufbuild/protobuf';
import { ValueSchema, type Value } from '@bufbuild/protobuf/wkt';
import { pino, type Logger } from 'pino';
import type { RpcCall } from '../rpc/call.js';
import { runNext, whenSettled, type Interceptor } from '../rpc/interceptor.js';
import { grpcCodeOf, type ServiceErrorCode } from '../rpc/service-error.js';

/** Options of {@link accessLogInterceptor}. */
export interface AccessLogOptions {
  /** Include the request's message payload as `payload` (`PENGUIFLOW_LOG_PAYLOADS=true`); default false. */
  logPayloads?: boolean;
}

interface RequestShape {
  flow?: unknown;
  traceId?: unknown;
  message?: { traceId?: unknown; payload?: Value } | undefined;
}

function nonEmpty(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function payloadOf(req: RequestShape): unknown {
  const p = req.message?.payload;
  if (p === undefined) return undefined;
  try {
    return toJson(ValueSchema, p);
  } catch {
    return '[unencodable]';
  }
}

/**
 * pino's `isoTime` field (`,"time":"<ISO 8601>"`), formatted once per
 * millisecond: under load many lines share a millisecond, and formatting a
 * date is most of the cost of a line.
 */
function cachedIsoTime(): () => string {
  let lastMs = -1;
  let last = '';
  return () => {
    const ms = Date.now();
    if (ms !== lastMs) {
      lastMs = ms;
      last = `,"time":"${new Date(ms).toISOString()}"`;
    }
    return last;
  };
}

/**
 * A number already rounded to hundredths, as JSON writes it (`12`, `0.5`,
 * `3.07`), from integer parts: printing a fractional double is several
 * times slower than printing integers.
 */
function hundredths(value: number): string {
  if (!Number.isFinite(value) || value < 0 || value > 1e12) return JSON.stringify(value);
  const total = Math.round(value * 100);
  const whole = Math.floor(total / 100);
  const frac = total - whole * 100;
  if (frac === 0) return `${whole}`;
  if (frac % 10 === 0) return `${whole}.${frac / 10}`;
  return `${whole}.${frac < 10 ? '0' : ''}${frac}`;
}

type DirectWrite = (call: RpcCall, code: string, grpcCode: number, durationMs: number, traceId: string | undefined, flow: string | undefined) => void;

/**
 * Writes access lines straight to `log`'s destination, formatted as pino
 * formats them (level, the logger's time field and bindings, the fields,
 * then the message key), when `log` is a plain pino logger; undefined
 * otherwise (the caller then goes through `log.info`). Every field is a
 * number or a string escaped by `JSON.stringify`, so the line is valid JSON
 * whatever a client put in its trace id or flow name; building it directly
 * spares the generic serializer (a walk over the object, a closure per
 * field) on a line written for every RPC.
 */
function directWriter(log: Logger): DirectWrite | undefined {
  const internals = log as unknown as Record<symbol, unknown>;
  const bindings = internals[pino.symbols.chindingsSym];
  const stream = internals[pino.symbols.streamSym] as { write?: unknown } | undefined;
  const time = internals[pino.symbols.timeSym];
  const messageKey = internals[pino.symbols.messageKeySym];
  const level = log.levels.values.info;
  if (typeof bindings !== 'string' || typeof stream?.write !== 'function' || typeof time !== 'function' || typeof messageKey !== 'string' || level === undefined) return undefined;
  const out = stream as { write(line: string): unknown };
  const now = time === pino.stdTimeFunctions.isoTime ? cachedIsoTime() : (time as () => string);
  const head = `{"level":${level}`;
  const tail = `,${JSON.stringify(messageKey)}:"rpc"}\n`;
  return (call, code, grpcCode, durationMs, traceId, flow) => {
    if (!log.isLevelEnabled('info')) return;
    let line = `${head}${now()}${bindings},"method":${JSON.stringify(call.method)},"tenant":${JSON.stringify(call.identity?.tenant ?? '')},"code":"${code}","grpc_code":${grpcCode},"duration_ms":${hundredths(durationMs)}`;
    if (traceId !== undefined) line += `,"trace_id":${JSON.stringify(traceId)}`;
    if (flow !== undefined) line += `,"flow":${JSON.stringify(flow)}`;
    if (call.traceparent !== undefined) line += `,"traceparent":${JSON.stringify(call.traceparent)}`;
    line += `,"peer":${JSON.stringify(call.peer)}${tail}`;
    out.write(line);
  };
}

/**
 * The access-log interceptor: when each RPC ends, one info line
 * `{ msg: "rpc", method, tenant, code, grpc_code, duration_ms, trace_id?,
 * flow?, traceparent?, peer }`.
 *
 * `trace_id` is the client trace id the call concerns (the request's, or
 * the generated one for an Emit/Call/CallStream without one); `tenant` is
 * empty when authentication failed. Nothing else from the request or its
 * metadata is logged — never credentials, and payloads only with
 * `logPayloads` (and even then `meta` is not).
 */
export function accessLogInterceptor(logger: Logger, opts: AccessLogOptions = {}): Interceptor {
  const withPayload = opts.logPayloads ?? false;
  // Without payloads a line holds only the fixed fields below (no payload,
  // meta or credentials), so it skips pino's path redaction: with the
  // logger's wildcard paths that costs ~15 µs and ~60 KB of garbage per
  // line, the largest single cost of a Call under load (bench/grpc.ts).
  const log = withPayload ? logger.child({ log: 'access' }) : logger.child({ log: 'access' }, { redact: [] });
  const direct = withPayload ? undefined : directWriter(log);
  const write = (call: RpcCall, t0: number, code: ServiceErrorCode | 'OK'): void => {
    const req = call.request as RequestShape;
    const grpcCode = code === 'OK' ? 0 : grpcCodeOf(code);
    const durationMs = Math.round((performance.now() - t0) * 100) / 100;
    const traceId = call.traceId ?? nonEmpty(req.traceId) ?? nonEmpty(req.message?.traceId);
    const flow = nonEmpty(req.flow);
    if (direct !== undefined) {
      direct(call, code, grpcCode, durationMs, traceId, flow);
      return;
    }
    const line: Record<string, unknown> = { method: call.method, tenant: call.identity?.tenant ?? '', code, grpc_code: grpcCode, duration_ms: durationMs };
    if (traceId !== undefined) line.trace_id = traceId;
    if (flow !== undefined) line.flow = flow;
    if (call.traceparent !== undefined) line.traceparent = call.traceparent;
    line.peer = call.peer;
    if (withPayload) {
      const payload = payloadOf(req);
      if (payload !== undefined) line.payload = payload;
    }
    log.info(line, 'rpc');
  };
  return (next) => {
    if (!log.isLevelEnabled('info')) return next;
    return (call) => {
      const t0 = performance.now();
      return whenSettled(runNext(next, call), (code, res) => {
        const traceId = (res as { traceId?: unknown } | undefined)?.traceId;
        if (call.traceId === undefined && typeof traceId === 'string' && traceId !== '') call.traceId = traceId;
        write(call, t0, code);
      });
    };
  };
}
