/**
 * Starting and stopping the gRPC server in process.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Server, type ServerCredentials } from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import type { Logger } from 'pino';
import { FlowService } from '../gen/penguiflow/v1/flow_service_pb.js';
import { configureLogging } from '../observability/logger.js';
import type { ServerMetrics } from '../observability/metrics.js';
import type { OpsServer } from '../observability/ops-server.js';
import { authInterceptor } from './auth/auth-interceptor.js';
import { CallRegistry } from '../rpc/call-registry.js';
import type { ServerConfig } from './config.js';
import type { FlowDefinition } from '../runtime/define-flow.js';
import { drainInterceptor } from './interceptors/drain.js';
import type { EventLog } from '../host/event-log.js';
import { FlowCatalog } from '../host/flow-catalog.js';
import { demoFlows } from '../flows/index.js';
import { loadFlowDefinitions } from '../host/flow-loader.js';
import { flowServiceImplementation } from './grpc/flow-service.js';
import type { BindingContext } from './grpc/grpc-binding.js';
import type { HandlerContext } from './handlers/handler-context.js';
import { createEventLog } from '../host/event-log-factory.js';
import { idleBy, waitForTraces, type ReadinessCheck } from './lifecycle.js';
import { createOperations } from './operations.js';
import { addReflection } from './grpc/reflection.js';
import { flowServiceServerDefinition } from './grpc/service-definition.js';
import { ServiceError } from '../rpc/service-error.js';
import { StoreEventLog } from '../host/store-event-log.js';
import { TenantQuota } from '../host/tenant-quota.js';
import { serverCredentials } from './grpc/tls.js';
import { FixedDelayTimers } from '../internal/fixed-delay-timers.js';

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
  /** Event log; default per `config.store` (a caller-supplied log is not closed by the server). */
  eventLog?: EventLog;
  /** Environment consulted for NODE_ENV; default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Dependencies readiness waits for (e.g. the state store): `/readyz` and gRPC health are NOT_SERVING while one fails. */
  readinessChecks?: readonly ReadinessCheck[];
  /** Register prom-client's process metrics in this server's registry; default true. */
  processMetrics?: boolean;
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
  readonly flows: FlowCatalog;
  /** The event log in use. */
  readonly eventLog: EventLog;
  /** The bound ops HTTP port (/metrics, /healthz, /readyz); the real one when `config.opsPort` was 0. */
  readonly opsPort: number;
  /** This server's metrics (its own prom-client registry). */
  readonly metrics: ServerMetrics;
  /**
   * Shuts down: health turns NOT_SERVING, new calls get UNAVAILABLE,
   * SubscribeEvents streams end with UNAVAILABLE, other in-flight calls get
   * up to the drain timeout to finish, then are cut off with UNAVAILABLE
   * and connections dropped; finally the flows stop. Idempotent; resolves
   * when everything is stopped.
   */
  close(opts?: CloseOptions): Promise<void>;
}

function bindAddress(host: string, port: number): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]:${port}` : `${host}:${port}`;
}

function bind(server: Server, address: string, credentials: ServerCredentials): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(address, credentials, (err, port) => (err ? reject(err) : resolve(port)));
  });
}

/** `/readyz` and gRPC health fail while the state store does not answer or its writes fail. */
function storeReadiness(durable: StoreEventLog | undefined): ReadinessCheck[] {
  if (durable === undefined) return [];
  return [{ name: 'state_store', check: () => durable.ping().then(() => true, () => false) }];
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
  const logger =
    opts.logger ?? configureLogging({ structured: config.logFormat === 'json', level: config.logLevel, redact: config.logRedact, logPayloads: config.logPayloads, sync: config.logSync });
  const auth = authInterceptor(config.auth, logger, opts.env, config);
  const credentials = serverCredentials(config);
  const definitions = await loadFlowDefinitions({ demoFlows: config.demoFlows ? demoFlows : [], modules: config.flows, definitions: opts.flows ?? [] });
  // A durable store (PENGUIFLOW_STORE) backs the event log, trace ownership and idempotency keys.
  const created = opts.eventLog === undefined ? await createEventLog(config, logger) : undefined;
  const eventLog = opts.eventLog ?? created!.eventLog;
  const durable = created?.durable ?? (eventLog instanceof StoreEventLog ? eventLog : undefined);
  // The memory store this server opens for PENGUIFLOW_STORE=memory always answers: no readiness check for it.
  const storeToCheck = created?.durable.store.kind === 'memory' ? undefined : durable;
  const catalog = await FlowCatalog.create({
    definitions,
    queueMaxsize: config.queueMaxsize,
    eventLog,
    retentionMs: config.traceRetentionMs,
    maxRetainedTraces: config.maxRetainedTraces,
    logger,
    durable,
  });

  const ops = createOperations({ config, logger, catalog, service: FLOW_SERVICE_NAME, readinessChecks: [...(opts.readinessChecks ?? []), ...storeReadiness(storeToCheck)], processMetrics: opts.processMetrics ?? true });
  const calls = new CallRegistry();
  const binding: BindingContext = { interceptors: [...ops.interceptors, drainInterceptor(calls), auth], calls, logger };
  const ctx: HandlerContext = {
    catalog,
    eventLog,
    limits: { maxMessageBytes: config.maxMessageBytes, maxPayloadDepth: config.maxPayloadDepth, maxMetaKeys: config.maxMetaKeys },
    cancelOnDisconnect: config.cancelOnDisconnect,
    admissionWaitMs: config.admissionWaitMs,
    admissionTimers: new FixedDelayTimers(config.admissionWaitMs),
    tenantQuota: new TenantQuota(config.tenantMaxInflight),
    logger,
  };

  const server = new Server({ 'grpc.max_receive_message_length': config.maxMessageBytes + TRANSPORT_HEADROOM_BYTES });
  server.addService(flowServiceServerDefinition(), flowServiceImplementation(ctx, binding));
  const health = new HealthImplementation({ '': 'NOT_SERVING', [FLOW_SERVICE_NAME]: 'NOT_SERVING' });
  health.addToServer(server);
  addReflection(server);
  const readiness = ops.attachHealth(health, ['', FLOW_SERVICE_NAME]);

  let port: number;
  let opsServer: OpsServer | undefined;
  try {
    opsServer = await ops.listen();
    port = await bind(server, bindAddress(config.host, config.port), credentials);
  } catch (err) {
    server.forceShutdown();
    await opsServer?.close();
    await catalog.stop();
    await created?.durable?.close();
    throw err;
  }
  catalog.start();
  durable?.start();
  await readiness.start();
  const opsBound = opsServer;

  let closing: Promise<void> | undefined;
  const close = (closeOpts: CloseOptions = {}): Promise<void> => {
    closing ??= (async () => {
      const drainTimeoutMs = closeOpts.drainTimeoutMs ?? config.drainTimeoutMs;
      const deadline = Date.now() + drainTimeoutMs;
      readiness.startDraining();
      calls.startDraining(() => ServiceError.unavailable());
      const graceful = new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
      // FlowService calls are what the drain waits for; other streams (a
      // Health.Watch, reflection) never end on their own and are cut below.
      const drained = await Promise.race([graceful.then(() => true), idleBy(calls.whenIdle(), deadline)]);
      if (!drained) {
        logger.warn({ inFlight: calls.size, drainTimeoutMs }, 'drain timeout reached; cutting off in-flight calls');
        calls.abortAll(() => ServiceError.unavailable('the server shut down before the call completed'));
        const settled = await Promise.race([graceful.then(() => true), sleep(FORCE_GRACE_MS, false, { ref: false })]);
        if (!settled) server.forceShutdown();
      } else {
        // Traces started by Emit (no call waits for them) may finish too.
        const left = await waitForTraces(catalog, deadline);
        if (left > 0) logger.warn({ tracesInFlight: left, drainTimeoutMs }, 'drain timeout reached; stopping flows with traces in flight');
        const settled = await Promise.race([graceful.then(() => true), sleep(FORCE_GRACE_MS, false, { ref: false })]);
        if (!settled) server.forceShutdown();
      }
      await catalog.stop();
      ctx.admissionTimers.clear();
      // Writes the buffered history and closes the store this server opened.
      await created?.durable?.close();
      await opsBound.close();
    })();
    return closing;
  };

  return { port, opsPort: opsBound.port, metrics: ops.metrics, flows: catalog, eventLog, close };
}
