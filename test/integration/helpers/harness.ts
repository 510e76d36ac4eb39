/**
 * Starts a real server in process on an ephemeral port for a test file.
 */
import { fromJson, toJson, type JsonValue } from '@bufbuild/protobuf';
import { ValueSchema, type Value } from '@bufbuild/protobuf/wkt';
import type { Message as WireMessage } from '../../../src/gen/penguiflow/v1/messages_pb.js';
import { createLogger } from '../../../src/observability/logger.js';
import { resolveConfig, startServer, type RunningServer, type ServerConfig, type StartServerOptions } from '../../../src/server/index.js';
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

/** Waits `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` until it returns true or `timeoutMs` passes. */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 3000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > until) throw new Error('condition not met in time');
    await sleep(10);
  }
}
