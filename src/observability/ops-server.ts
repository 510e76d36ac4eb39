/**
 * The operations HTTP server: `/metrics` (Prometheus), `/healthz`
 * (liveness) and `/readyz` (readiness), on their own port so that probes
 * and scrapes never compete with gRPC traffic or need its credentials.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** The result of a readiness evaluation. */
export interface ReadinessReport {
  readonly ready: boolean;
  /** Each check by name: `ok`, or why it failed. */
  readonly checks: Readonly<Record<string, string>>;
}

/** What the ops server serves. */
export interface OpsHandlers {
  /** Prometheus text exposition and its content type. */
  metrics(): Promise<{ contentType: string; body: string }>;
  /** Current readiness (evaluated per request). */
  readiness(): Promise<ReadinessReport>;
}

/** A listening ops server. */
export interface OpsServer {
  /** The bound port (the real one when 0 was asked for). */
  readonly port: number;
  /** Stops listening and closes idle connections; resolves when closed. */
  close(): Promise<void>;
}

function send(res: ServerResponse, status: number, contentType: string, body: string, head: boolean): void {
  res.writeHead(status, { 'content-type': contentType, 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body) });
  res.end(head ? undefined : body);
}

const JSON_TYPE = 'application/json; charset=utf-8';

async function route(req: IncomingMessage, res: ServerResponse, handlers: OpsHandlers): Promise<void> {
  const method = req.method ?? 'GET';
  const path = (req.url ?? '/').split('?')[0];
  const head = method === 'HEAD';
  if (method !== 'GET' && !head) {
    res.setHeader('allow', 'GET, HEAD');
    send(res, 405, JSON_TYPE, '{"error":"method not allowed"}\n', head);
    return;
  }
  switch (path) {
    case '/metrics': {
      const { contentType, body } = await handlers.metrics();
      send(res, 200, contentType, body, head);
      return;
    }
    case '/healthz':
    case '/livez':
      send(res, 200, JSON_TYPE, '{"status":"ok"}\n', head);
      return;
    case '/readyz': {
      const report = await handlers.readiness();
      send(res, report.ready ? 200 : 503, JSON_TYPE, `${JSON.stringify({ status: report.ready ? 'ready' : 'not ready', checks: report.checks })}\n`, head);
      return;
    }
    default:
      send(res, 404, JSON_TYPE, '{"error":"not found","paths":["/metrics","/healthz","/readyz"]}\n', head);
  }
}

/**
 * Starts the ops server on `host:port` (0 = a free port).
 *
 * @throws the listen error (e.g. EADDRINUSE).
 */
export async function startOpsServer(host: string, port: number, handlers: OpsHandlers): Promise<OpsServer> {
  const server: Server = createServer((req, res) => {
    route(req, res, handlers).catch((err: unknown) => {
      if (!res.headersSent) send(res, 500, JSON_TYPE, `${JSON.stringify({ error: err instanceof Error ? err.name : 'error' })}\n`, false);
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 5_000;
  server.requestTimeout = 10_000;
  server.listen(port, host);
  // Rejects with the listen error (e.g. EADDRINUSE) instead.
  await once(server, 'listening');
  // Probes and scrapes alone never keep the process alive.
  server.unref();
  const bound = (server.address() as AddressInfo).port;
  let closing: Promise<void> | undefined;
  return {
    port: bound,
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        // A scrape still being answered gets a moment, then is cut.
        setTimeout(() => server.closeAllConnections(), 1000).unref();
      })),
  };
}
