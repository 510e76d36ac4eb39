/**
 * The service's structured logger: pino, JSON, one object per line.
 *
 * Payloads, message metadata and credentials are redacted by default,
 * wherever they appear in a log object, because a single careless
 * `log.info({ msg })` must not leak a customer's data or a bearer token.
 */
import { pino, type DestinationStream, type Logger } from 'pino';

/** Paths pino replaces with `[redacted]` in every log object. */
export const REDACTED_PATHS: readonly string[] = [
  'payload',
  'meta',
  'binary',
  'token',
  'secret',
  'password',
  'authorization',
  'headers.authorization',
  'metadata.authorization',
  '*.payload',
  '*.meta',
  '*.binary',
  '*.token',
  '*.secret',
  '*.password',
  '*.authorization',
];

/** Options of {@link createLogger}. */
export interface CreateLoggerOptions {
  /** Minimum level; default `info`. `silent` disables logging. */
  level?: string;
  /** Where lines go; default stdout, written synchronously so nothing is lost on `process.exit`. */
  destination?: DestinationStream;
  /** Logger name (the `name` field of every line); default `penguiflow-server`. */
  name?: string;
}

/**
 * Creates the server logger.
 *
 * Lines are JSON with pino's standard fields (`level`, `time`, `msg`, `name`)
 * and ISO timestamps. Redaction covers {@link REDACTED_PATHS}; log errors
 * with `err: describeError(e)`-style objects rather than raw errors when the
 * error message might carry user data.
 */
export function createLogger(opts: CreateLoggerOptions = {}): Logger {
  return pino(
    {
      name: opts.name ?? 'penguiflow-server',
      level: opts.level ?? 'info',
      redact: { paths: [...REDACTED_PATHS], censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    opts.destination ?? pino.destination({ dest: 1, sync: true }),
  );
}

/** Paths of {@link REDACTED_PATHS} that hold message payloads (unredacted by `logPayloads`). */
const PAYLOAD_PATHS: ReadonlySet<string> = new Set(['payload', '*.payload', 'binary', '*.binary']);

/** Credential-bearing request metadata, redacted wherever it appears. */
const METADATA_PATHS: readonly string[] = [
  'metadata.cookie',
  '*.metadata.authorization',
  '*.headers.authorization',
  'metadata["x-api-key"]',
  'headers["x-api-key"]',
  'jwtSecret',
  '*.jwtSecret',
];

/** Options of {@link configureLogging}. */
export interface ConfigureLoggingOptions {
  /** JSON lines (default) when true; human-readable `time LEVEL msg key=value` lines when false. */
  structured?: boolean;
  /** Minimum level; default `info`. */
  level?: string;
  /** Extra redaction paths (`PENGUIFLOW_LOG_REDACT`). */
  redact?: readonly string[];
  /** Stop redacting payloads (`PENGUIFLOW_LOG_PAYLOADS=true`); meta and credentials stay redacted. */
  logPayloads?: boolean;
  /** Where lines go; default stdout, synchronously. */
  destination?: DestinationStream;
  /** Logger name; default `penguiflow-server`. */
  name?: string;
}

const LEVEL_NAMES: Readonly<Record<number, string>> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };

function textValue(v: unknown): string {
  if (typeof v === 'string') return /[\s"=]/.test(v) || v === '' ? JSON.stringify(v) : v;
  return JSON.stringify(v) ?? String(v);
}

/** Reformats pino's JSON lines as `time LEVEL [name] msg key=value …` (for `structured: false`). */
function textDestination(out: DestinationStream): DestinationStream {
  return {
    write(line: string): void {
      let obj: Record<string, unknown>;
      try {
        obj = JSON.parse(line) as Record<string, unknown>;
      } catch {
        out.write(line);
        return;
      }
      const { time, level, name, msg, pid: _pid, hostname: _hostname, ...rest } = obj;
      const parts = [textValue(time), LEVEL_NAMES[level as number] ?? textValue(level), `[${textValue(name)}]`, typeof msg === 'string' ? msg : textValue(msg ?? '')];
      for (const [k, v] of Object.entries(rest)) parts.push(`${k}=${textValue(v)}`);
      out.write(`${parts.join(' ')}\n`);
    },
  };
}

/**
 * Configures the service's logging, once, early in start-up (the
 * counterpart of PenguiFlow's `configure_logging(structured=True)`), and
 * returns the root logger every component derives its child loggers from.
 *
 * Redaction is always on: payloads (unless `logPayloads`), `meta`,
 * authorization/cookie/API-key metadata, secrets, plus `redact`.
 */
export function configureLogging(opts: ConfigureLoggingOptions = {}): Logger {
  const paths = [...REDACTED_PATHS.filter((p) => !(opts.logPayloads === true && PAYLOAD_PATHS.has(p))), ...METADATA_PATHS, ...(opts.redact ?? [])];
  const sink = opts.destination ?? pino.destination({ dest: 1, sync: true });
  return pino(
    {
      name: opts.name ?? 'penguiflow-server',
      level: opts.level ?? 'info',
      redact: { paths: [...new Set(paths)], censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      base: { pid: process.pid },
    },
    opts.structured === false ? textDestination(sink) : sink,
  );
}
