import { pino, type Logger } from 'pino';

let defaultLogger: Logger | undefined;

/**
 * The runtime's own logger (`penguiflow`), used for problems that must not
 * break a flow: a throwing middleware, a failing state store. It writes JSON
 * to stderr at `PENGUIFLOW_LOG_LEVEL` (default `info`). Created lazily so
 * importing the runtime costs nothing.
 */
export function runtimeLogger(): Logger {
  defaultLogger ??= pino(
    { name: 'penguiflow', level: process.env.PENGUIFLOW_LOG_LEVEL ?? 'info' },
    pino.destination({ dest: 2, sync: false }),
  );
  return defaultLogger;
}

/** Describes an unknown thrown value without its stack (stacks can carry payload fragments). */
export function describeError(err: unknown): { type: string; message: string } {
  if (err instanceof Error) return { type: err.name, message: err.message };
  return { type: typeof err, message: String(err) };
}
