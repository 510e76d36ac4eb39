/**
 * Starting and stopping the gRPC server in process.
 */
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import type { Logger } from 'pino';
import { FlowService } from '../gen/penguiflow/v1/flow_service_pb.js';
import { createLogger } from '../observability/logger.js';
import { authInterceptor } from './auth.js';
import { CallRegistry } from './call-registry.js';
import type { ServerConfig } from './config.js';
import type { FlowDefinition } from './define-flow.js';
import { drainInterceptor } from './drain-interceptor.js';
import type { EventLog } from './event-log.js';
import { FlowHost } from './flow-host.js';
import { loadFlowDefinitions } from './flow-loader.js';
import { flowServiceImplementation } from './flow-service.js';
import type { BindingContext } from './grpc-binding.js';
import type { HandlerContext } from './handlers/handler-context.js';
import { InMemoryEventLog } from './in-memory-event-log.js';
import { addReflection } from './reflection.js';
import { flowServiceServerDefinition } from './service-definition.js';
import { ServiceError } from './status.js';

/** Name under which the health service reports FlowService. */
export const FLOW_SERVICE_NAME = FlowService.typeName;

/**
 * Transport cap above `maxMessageBytes`: requests up to the cap reach the
 * handler and get INVALID_ARGUMENT with a field violation when over the
 * configured limit; only absurdly larger ones are refused by grpc-js itself
 * (RESOURCE_EXHAUSTED) before any decoding.
 */
export const TRANSPORT_HEADROOM_BYTES = 1024 * 1024;

/** After the drain timeout, how long cut-off calls get to send their UNAVAILABLE before connections are dropped. */
const FORCE_GRACE_MS = 250;

/** Options of {@link startServer}. */
export interface StartServerOptions {
  /** Logger; default a JSON logger on stdout at `config.logLevel`. */
  logger?: Logger;
  /** Flows to host besides the demo flows and `config.flows` (embedding, tests). */
  flows?: readonly FlowDefinition[];
  /** Event log; default in memory. */
  eventLog?: EventLog;
  /** Environment consulted for NODE_ENV; default `process.env`. */
  env?: NodeJS.ProcessEnv;
}

/** Options of {@link RunningServer.close}. */
export interface CloseOptions {
  /** Override of `config.drainTimeoutMs`. */
  drainTimeoutMs?: number;
}

/** A started server. */
export interface RunningServer {
  /** The bound port (the real one when `config.port` was 0). */
  readonly port: number;
  /** The hosted flows (for diagnostics and tests). */
  readonly flows: FlowHost;
  /** The event log in use. */
  readonly eventLog: EventLog;
  /**
   * Shuts down: health turns NOT_SERVING, new calls get UNAVAILABLE,
   * SubscribeEvents streams end with UNAVAILABLE, other in-flight calls get
   * up to the drain timeout to finish, then are cut off with UNAVAILABLE
   * and connections dropped; finally the flows stop. Idempotent; resolves
   * when everything is stopped.
   */
  close(opts?: CloseOptions): Promise<void>;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

function bindAddress(host: string, port: number): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]:${port}` : `${host}:${port}`;
}

function bind(server: Server, address: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(address, ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port)));
  });
}

/**
 * Starts the gRPC server: loads and builds the flows, registers
 * FlowService, `grpc.health.v1.Health` (services "" and
 * "penguiflow.v1.FlowService") and server reflection, binds, runs the flows
 * and reports SERVING.
 *
 * @throws ConfigError for configuration that cannot be served (auth mode,
 *   flow modules); the bind error when the address is taken.
 */
export async function startServer(config: ServerConfig, opts: StartServerOptions = {}): Promise<RunningServer> {
  const logger = opts.logger ?? createLogger({ level: config.logLevel });
  const auth = authInterceptor(config.auth, logger, opts.env);
  const definitions = await loadFlowDefinitions({ demoFlows: config.demoFlows, modules: config.flows, definitions: opts.flows ?? [] });
  const eventLog = opts.eventLog ?? new InMemoryEventLog({ retentionMs: config.traceRetentionMs, maxReleasedTraces: config.maxRetainedTraces });
  const host = await FlowHost.create({
    definitions,
    queueMaxsize: config.queueMaxsize,
    eventLog,
    retentionMs: config.traceRetentionMs,
    maxRetainedTraces: config.maxRetainedTraces,
    logger,
  });

  const calls = new CallRegistry();
  const binding: BindingContext = { interceptors: [drainInterceptor(calls), auth], calls, logger };
  const ctx: HandlerContext = {
    host,
    eventLog,
    limits: { maxMessageBytes: config.maxMessageBytes, maxPayloadDepth: config.maxPayloadDepth, maxMetaKeys: config.maxMetaKeys },
    cancelOnDisconnect: config.cancelOnDisconnect,
    admissionWaitMs: config.admissionWaitMs,
    logger,
  };

  const server = new Server({ 'grpc.max_receive_message_length': config.maxMessageBytes + TRANSPORT_HEADROOM_BYTES });
  server.addService(flowServiceServerDefinition(), flowServiceImplementation(ctx, binding));
  const health = new HealthImplementation({ '': 'NOT_SERVING', [FLOW_SERVICE_NAME]: 'NOT_SERVING' });
  health.addToServer(server);
  addReflection(server);

  let port: number;
  try {
    port = await bind(server, bindAddress(config.host, config.port));
  } catch (err) {
    server.forceShutdown();
    await host.stop();
    throw err;
  }
  host.start();
  health.setStatus('', 'SERVING');
  health.setStatus(FLOW_SERVICE_NAME, 'SERVING');

  let closing: Promise<void> | undefined;
  const close = (closeOpts: CloseOptions = {}): Promise<void> => {
    closing ??= (async () => {
      const drainTimeoutMs = closeOpts.drainTimeoutMs ?? config.drainTimeoutMs;
      health.setStatus('', 'NOT_SERVING');
      health.setStatus(FLOW_SERVICE_NAME, 'NOT_SERVING');
      calls.startDraining(() => ServiceError.unavailable());
      const graceful = new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
      const drained = await Promise.race([graceful.then(() => true), delay(drainTimeoutMs).then(() => false)]);
      if (!drained) {
        logger.warn({ inFlight: calls.size, drainTimeoutMs }, 'drain timeout reached; cutting off in-flight calls');
        calls.abortAll(() => ServiceError.unavailable('the server shut down before the call completed'));
        const settled = await Promise.race([graceful.then(() => true), delay(FORCE_GRACE_MS).then(() => false)]);
        if (!settled) server.forceShutdown();
      }
      await host.stop();
    })();
    return closing;
  };

  return { port, flows: host, eventLog, close };
}
