/**
 * Process entry point: `node dist/server/main.js` (what `npm start` runs).
 *
 * Loads the configuration (a bad value exits 2 with one line on stderr
 * naming the variable), starts the server, logs one JSON line with the
 * bound port, and on SIGTERM/SIGINT drains and exits 0. A second signal
 * exits at once with 1. A signal that arrives while the server is still
 * starting is honoured as soon as it has started; a drain that overruns its
 * timeout by {@link DRAIN_WATCHDOG_MS} exits 1.
 */
import type { Logger } from 'pino';
import { configureLogging } from '../observability/logger.js';
import { ConfigError, loadConfig, type ServerConfig } from './config.js';
import { startServer, type RunningServer } from './server.js';

function exitWithLine(line: string, code: number): never {
  process.stderr.write(`penguiflow: ${line.replace(/\s*\n\s*/g, ' ')}\n`);
  process.exit(code);
}

function errorFields(err: unknown): { type: string; message: string } {
  return err instanceof Error ? { type: err.name, message: err.message } : { type: typeof err, message: String(err) };
}

/** Slack past the drain timeout before a stuck shutdown is abandoned (exit 1). */
const DRAIN_WATCHDOG_MS = 5_000;

/**
 * Handles SIGTERM/SIGINT from the very start: the first signal drains (at
 * once, or as soon as the server has started), a second one exits 1 at
 * once without draining.
 */
function installSignalHandlers(logger: Logger, drainTimeoutMs: number): { started(server: RunningServer): void } {
  let stopping = false;
  let server: RunningServer | undefined;
  let pending: NodeJS.Signals | undefined;
  const drain = (srv: RunningServer, signal: NodeJS.Signals): void => {
    logger.info({ signal, drainTimeoutMs }, 'shutting down: draining in-flight calls and traces');
    const watchdog = setTimeout(() => {
      logger.error({ drainTimeoutMs }, 'shutdown did not finish in time; exiting without completing it');
      process.exit(1);
    }, drainTimeoutMs + DRAIN_WATCHDOG_MS);
    watchdog.unref();
    srv.close().then(
      () => {
        logger.info('server stopped');
        process.exit(0);
      },
      (err: unknown) => {
        logger.error({ err: errorFields(err) }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      logger.warn({ signal }, 'second signal received; exiting without draining');
      process.exit(1);
    }
    stopping = true;
    if (server === undefined) {
      logger.info({ signal }, 'signal received while starting; shutting down once started');
      pending = signal;
      return;
    }
    drain(server, signal);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  return {
    started: (srv) => {
      server = srv;
      if (pending !== undefined) drain(srv, pending);
    },
  };
}

async function main(): Promise<void> {
  let config: ServerConfig;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) exitWithLine(err.message, 2);
    throw err;
  }
  const logger = configureLogging({ structured: config.logFormat === 'json', level: config.logLevel, redact: config.logRedact, logPayloads: config.logPayloads, sync: config.logSync });
  const signals = installSignalHandlers(logger, config.drainTimeoutMs);
  process.on('uncaughtException', (err) => {
    logger.fatal({ err: errorFields(err) }, 'uncaught exception; exiting');
    process.exit(1);
  });
  process.on('unhandledRejection', (reason) => {
    logger.fatal({ err: errorFields(reason) }, 'unhandled promise rejection; exiting');
    process.exit(1);
  });
  let server: RunningServer;
  try {
    server = await startServer(config, { logger });
  } catch (err) {
    if (err instanceof ConfigError) exitWithLine(err.message, 2);
    logger.fatal({ err: errorFields(err) }, 'server failed to start');
    process.exit(1);
  }
  logger.info(
    { port: server.port, opsPort: server.opsPort, host: config.host, auth: config.auth, flows: server.flows.list().map((f) => f.name) },
    `penguiflow server listening on ${config.host}:${server.port} (ops http on port ${server.opsPort}: /metrics /healthz /readyz)`,
  );
  signals.started(server);
}

main().catch((err: unknown) => {
  process.stderr.write(`penguiflow: fatal: ${errorFields(err).message}\n`);
  process.exit(1);
});
