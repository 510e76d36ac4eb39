import { createRequire } from 'node:module';
import type { Logger, pino as createPino } from 'pino';

let defaultLogger: Logger | undefined;

/**
 * The runtime's own logger (`penguiflow`), used for problems that must not
 * break a flow: a throwing middleware, a failing state store. It writes JSON
 * to stderr at `PENGUIFLOW_LOG_LEVEL` (default `info`).
 *
 * pino is loaded on the first call, not when `penguiflow` is imported: most
 * flows pass their own logger or never log, and loading pino (its streams and
 * worker-thread transport) costs tens of milliseconds of start-up.
 */
export function runtimeLogger(): Logger {
  if (defaultLogger === undefined) {
    const { pino } = createRequire(import.meta.url)('pino') as { pino: typeof createPino };
    defaultLogger = pino({ name: 'penguiflow', level: process.env.PENGUIFLOW_LOG_LEVEL ?? 'info' }, pino.destination({ dest: 2, sync: false }));
  }
  return defaultLogger;
}

/** Describes an unknown thrown value without its stack (stacks can carry payload fragments). */
export function describeError(err: unknown): { type: string; message: string } {
  if (err instanceof Error) return { type: err.name, message: err.message };
  return { type: typeof err, message: String(err) };
}
