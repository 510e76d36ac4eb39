/**
 * Process entry point: `node dist/server/main.js` (what `npm start` runs).
 *
 * Loads the configuration (a bad value exits 2 with one line on stderr
 * naming the variable), starts the server, logs one JSON line with the
 * bound port, and on SIGTERM/SIGINT drains and exits 0. A second signal
 * exits at once with 1.
 */
import type { Logger } from 'pino';
import { createLogger } from '../observability/logger.js';
import { ConfigError, loadConfig, type ServerConfig } from './config.js';
import { startServer, type RunningServer } from './server.js';

function exitWithLine(line: string, code: number): never {
  process.stderr.write(`penguiflow: ${line.replace(/\s*\n\s*/g, ' ')}\n`);
  process.exit(code);
}

function errorFields(err: unknown): { type: string; message: string } {
  return err instanceof Error ? { type: err.name, message: err.message } : { type: typeof err, message: String(err) };
}

function installSignalHandlers(server: RunningServer, logger: Logger): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      logger.warn({ signal }, 'second signal received; exiting without draining');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'shutting down: draining in-flight calls');
    server.close().then(
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
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

async function main(): Promise<void> {
  let config: ServerConfig;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) exitWithLine(err.message, 2);
    throw err;
  }
  const logger = createLogger({ level: config.logLevel });
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
    { port: server.port, host: config.host, auth: config.auth, flows: server.flows.list().map((f) => f.name) },
    `penguiflow server listening on ${config.host}:${server.port}`,
  );
  installSignalHandlers(server, logger);
}

main().catch((err: unknown) => {
  process.stderr.write(`penguiflow: fatal: ${errorFields(err).message}\n`);
  process.exit(1);
});
