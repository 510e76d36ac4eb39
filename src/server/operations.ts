/**
 * The operations layer of a server: metrics, access log, tracing, flow
 * event logging, readiness and the ops HTTP port, wired around the gRPC
 * server by `startServer`.
 */
import type { HealthImplementation } from 'grpc-health-check';
import type { Logger } from 'pino';
import { accessLogInterceptor } from '../observability/access-log.js';
import { ServerMetrics, type GrpcType } from '../observability/metrics.js';
import { startOpsServer, type OpsServer, type ReadinessReport } from '../observability/ops-server.js';
import { nodeSpans, tracingInterceptor } from '../observability/tracing.js';
import { logFlowEvents } from '../runtime/index.js';
import type { ServerConfig } from './config.js';
import type { FlowCatalog } from '../host/flow-catalog.js';
import { Readiness, type ReadinessCheck } from './lifecycle.js';
import type { Interceptor } from '../rpc/interceptor.js';
import { flowServiceServerDefinition } from './grpc/service-definition.js';
import { parseTraceKey } from '../host/trace-key.js';

/** What {@link createOperations} needs. */
export interface OperationsOptions {
  config: ServerConfig;
  logger: Logger;
  catalog: FlowCatalog;
  /** Full name of the served service, e.g. `penguiflow.v1.FlowService`. */
  service: string;
  /** Extra readiness checks (state store, …). */
  readinessChecks?: readonly ReadinessCheck[];
  /** Register process metrics; default true. */
  processMetrics?: boolean;
}

/** A server's operations layer. */
export interface Operations {
  readonly metrics: ServerMetrics;
  /** Run first in the chain, in this order: tracing, gRPC metrics, access log. */
  readonly interceptors: readonly Interceptor[];
  /** Creates the readiness that drives `health` (statuses of `services`); call once. */
  attachHealth(health: HealthImplementation, services: readonly string[]): Readiness;
  /** Starts the ops HTTP server on `config.host:config.opsPort`. */
  listen(): Promise<OpsServer>;
  /** Current readiness (NOT ready before {@link attachHealth}). */
  readiness(): Promise<ReadinessReport>;
}

function grpcTypes(): Record<string, GrpcType> {
  const out: Record<string, GrpcType> = {};
  for (const [name, def] of Object.entries(flowServiceServerDefinition())) {
    out[name] = def.requestStream ? (def.responseStream ? 'bidi_stream' : 'client_stream') : def.responseStream ? 'server_stream' : 'unary';
  }
  return out;
}

/**
 * Builds the operations layer and attaches, to every hosted flow, the
 * metrics middleware, `logFlowEvents` (ordinary events at debug, failures
 * at warn; client trace id and tenant instead of the internal key) and the
 * node-span middleware.
 */
export function createOperations(opts: OperationsOptions): Operations {
  const { config, logger, catalog } = opts;
  const metrics = new ServerMetrics({ tenantLabel: config.metricsTenantLabel, processMetrics: opts.processMetrics ?? true });
  metrics.trackInflight(function* () {
    for (const f of catalog.list()) yield [f.name, f.tracesInFlight] as const;
  });
  const tenantOf = (event: { traceId: string | undefined }): string | undefined => (event.traceId === undefined ? undefined : parseTraceKey(event.traceId)?.tenant);
  const clientTraceId = (event: { traceId: string | undefined }): string | undefined => (event.traceId === undefined ? undefined : parseTraceKey(event.traceId)?.traceId);
  for (const hosted of catalog.list()) {
    hosted.flow.addMiddleware(metrics.flowMiddleware(hosted.name, { tenantOf }));
    hosted.flow.addMiddleware(
      logFlowEvents(logger.child({ flow: hosted.name }), {
        level: 'debug',
        errorLevel: 'warn',
        fields: (event) => {
          const owner = event.traceId === undefined ? undefined : parseTraceKey(event.traceId);
          return owner === undefined ? undefined : { trace_id: owner.traceId, tenant: owner.tenant };
        },
      }),
    );
    hosted.flow.addMiddleware(nodeSpans({ flow: hosted.name, clientTraceId }));
  }

  const interceptors: Interceptor[] = [tracingInterceptor(opts.service), metrics.grpcInterceptor({ service: opts.service, methods: grpcTypes() })];
  if (config.accessLog) interceptors.push(accessLogInterceptor(logger, { logPayloads: config.logPayloads }));

  let readiness: Readiness | undefined;
  const evaluate = (): Promise<ReadinessReport> =>
    readiness === undefined ? Promise.resolve({ ready: false, checks: { started: 'starting' } }) : readiness.evaluate();
  return {
    metrics,
    interceptors,
    attachHealth: (health, services) => {
      readiness = new Readiness({
        health,
        services,
        checks: opts.readinessChecks ?? [],
        flowsRunning: () => catalog.list().every((f) => f.flow.running),
      });
      return readiness;
    },
    listen: () =>
      startOpsServer(config.host, config.opsPort, {
        metrics: async () => ({ contentType: metrics.contentType, body: await metrics.render() }),
        readiness: evaluate,
      }),
    readiness: evaluate,
  };
}
