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
