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

/**
 * Most bytes of log lines buffered while stdout is slower than the server
 * (asynchronous destination); lines past it are dropped and counted on
 * stderr rather than growing memory without bound or blocking the event
 * loop on a stuck log pipe.
 */
export const LOG_BUFFER_MAX_BYTES = 16 * 1024 * 1024;

/** How often (in dropped lines) a still-blocked stdout is reported again on stderr. */
const DROP_REPORT_EVERY = 10_000;

/**
 * stdout as a pino destination.
 *
 * Asynchronous by default: a line is handed to the kernel by libuv while the
 * event loop goes on, and lines written meanwhile are coalesced into the next
 * write, so logging under load costs the server a string append per line
 * instead of a blocking `write(2)`. Buffered lines are flushed synchronously
 * on `process.exit` (pino registers that) and so survive a clean or fatal
 * exit of the process; only a SIGKILL can lose the last few milliseconds of
 * lines. `sync: true` (`PENGUIFLOW_LOG_SYNC`) writes every line before the
 * call returns instead.
 */
export function stdoutDestination(sync = false): DestinationStream {
  if (sync) return pino.destination({ dest: 1, sync: true });
  // Buffer mode: each line becomes a Buffer once and a write joins them.
  // In its default (string) mode sonic-boom appends every line to a string
  // and measures that string's byte length, flattening kilobytes per line
  // while a write is in flight, which under load made the access log the
  // largest allocator in the process. pino.destination still registers the
  // flush on exit.
  const dest = pino.destination({ dest: 1, sync: false, maxLength: LOG_BUFFER_MAX_BYTES, contentMode: 'buffer' });
  let dropped = 0;
  dest.on('drop', () => {
    if (dropped++ % DROP_REPORT_EVERY === 0) {
      process.stderr.write(`penguiflow: stdout is not keeping up with the logs; ${dropped} line(s) dropped so far (buffer limit ${LOG_BUFFER_MAX_BYTES} bytes)\n`);
    }
  });
  const bytes = dest as unknown as { write(data: Buffer): boolean };
  return { write: (line: string) => bytes.write(Buffer.from(line)) };
}

/** Options of {@link createLogger}. */
export interface CreateLoggerOptions {
  /** Minimum level; default `info`. `silent` disables logging. */
  level?: string;
  /** Where lines go; default stdout through {@link stdoutDestination} (asynchronous, flushed on exit). */
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
    opts.destination ?? stdoutDestination(),
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
  /** Where lines go; default stdout through {@link stdoutDestination}. */
  destination?: DestinationStream;
  /** Write each line to stdout before returning (`PENGUIFLOW_LOG_SYNC`); default false: asynchronous, flushed on exit. Ignored with `destination`. */
  sync?: boolean;
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
  const sink = opts.destination ?? stdoutDestination(opts.sync ?? false);
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
