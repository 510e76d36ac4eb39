/**
 * Starts a real server in process on an ephemeral port for a test file.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { fromJson, toJson, type JsonValue } from '@bufbuild/protobuf';
import { ValueSchema, type Value } from '@bufbuild/protobuf/wkt';
import type { Message as WireMessage } from '../../../src/gen/penguiflow/v1/messages_pb.js';
import { createLogger } from '../../../src/observability/logger.js';
import { DEFAULT_TENANT, resolveConfig, startServer, type RunningServer, type ServerConfig, type StartServerOptions } from '../../../src/server/index.js';
import { StoreEventLog } from '../../../src/host/store-event-log.js';
import type { TraceRecord } from '../../../src/host/trace-record.js';
import { TestClient } from './client.js';

/** A running server with a client connected to it. */
export interface Harness {
  server: RunningServer;
  client: TestClient;
  address: string;
  /** A fresh extra client (e.g. to cancel from "elsewhere"). */
  newClient(): TestClient;
  stop(): Promise<void>;
}

/** Starts a server on 127.0.0.1:0 with quiet logs and the given overrides. */
export async function startHarness(overrides: Partial<ServerConfig> = {}, opts: StartServerOptions = {}): Promise<Harness> {
  const config = resolveConfig({ host: '127.0.0.1', port: 0, opsPort: 0, logLevel: 'silent', ...overrides });
  const server = await startServer(config, { logger: createLogger({ level: 'silent' }), ...opts });
  const address = `127.0.0.1:${server.port}`;
  const clients: TestClient[] = [];
  const newClient = (): TestClient => {
    const c = new TestClient(address);
    clients.push(c);
    return c;
  };
  const client = newClient();
  return {
    server,
    client,
    address,
    newClient,
    stop: async () => {
      for (const c of clients) c.close();
      await server.close({ drainTimeoutMs: 200 });
    },
  };
}

/** A JSON value as a protobuf Value (request payloads). */
export function value(json: JsonValue): Value {
  return fromJson(ValueSchema, json);
}

/** The JSON payload of an output message. */
export function payloadOf(msg: WireMessage | undefined): JsonValue {
  if (msg?.payload === undefined) return null;
  return toJson(ValueSchema, msg.payload);
}

/**
 * Resolves once `check` holds, re-checking every few milliseconds; throws
 * after `timeoutMs`. How tests synchronise: on a condition the server or
 * client exposes (a status, a count, a metric, a log line), never on time.
 */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 3000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > until) throw new Error('condition not met in time');
    await delay(10);
  }
}

/** The server's record of a trace (running or still remembered), if any. */
export function recordOf(server: RunningServer, flow: string, traceId: string, tenant = DEFAULT_TENANT): TraceRecord | undefined {
  return server.flows.get(flow).record(tenant, traceId);
}

/** Readers (Fetch, Call, CallStream, StreamTrace) waiting in the server for the trace's next update. */
export function readersOf(server: RunningServer, flow: string, traceId: string, tenant = DEFAULT_TENANT): number {
  return recordOf(server, flow, traceId, tenant)?.waiting ?? 0;
}

/** Live SubscribeEvents listeners of `tenant` in the server (registered before their replay is read). */
export function subscribersOf(server: RunningServer, tenant = DEFAULT_TENANT): number {
  if (!(server.eventLog instanceof StoreEventLog)) throw new Error('subscribersOf needs the store-backed event log');
  return server.eventLog.subscribers(tenant);
}

/** RPCs of `method` the server's metrics count as handled (with `code` when given, spelled as the `grpc_code` label: `OK`, `Canceled`, …). */
export async function handledCount(server: RunningServer, method: string, code?: string): Promise<number> {
  let n = 0;
  for (const line of (await server.metrics.render()).split('\n')) {
    if (!line.startsWith('grpc_server_handled_total{') || !line.includes(`grpc_method="${method}"`)) continue;
    if (code !== undefined && !line.includes(`grpc_code="${code}"`)) continue;
    n += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return n;
}
