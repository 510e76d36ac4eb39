/**
 * gRPC client for the container smoke test (run with tsx from the repo, so
 * it uses the same service definition the server registers).
 *
 *   tsx test/container/grpc-check.ts echo <host:port>            Call echo as tenant "smoke" (x-tenant-id, as a mesh
 *                                                                 sidecar would set it) and expect the payload back;
 *                                                                 a Call without x-tenant-id must be UNAUTHENTICATED
 *                                                                 (header auth mode is really on).
 *   tsx test/container/grpc-check.ts health <host:port>          grpc.health.v1 Check for penguiflow.v1.FlowService,
 *                                                                 without credentials (what a Kubernetes gRPC readiness
 *                                                                 probe sends) must answer SERVING.
 *   tsx test/container/grpc-check.ts slow <host:port> <ms>       Call slow and expect { sleptMs }; used to prove that
 *                                                                 `podman stop` lets an in-flight call finish.
 *
 * Prints one line per check; exits 1 on the first failure.
 */
import * as grpc from '@grpc/grpc-js';
import { fromJson, toJson, type JsonValue } from '@bufbuild/protobuf';
import { ValueSchema } from '@bufbuild/protobuf/wkt';
import { service as healthService } from 'grpc-health-check';
import { TestClient } from '../integration/helpers/client.js';

function fail(line: string): never {
  console.error(`grpc-check: FAIL: ${line}`);
  process.exit(1);
}

async function callFlow(client: TestClient, flow: string, payload: JsonValue, tenant: string | undefined, timeoutMs: number): Promise<JsonValue> {
  const res = await client.unary('Call', { flow, message: { payload: fromJson(ValueSchema, payload) } }, { timeoutMs, ...(tenant === undefined ? {} : { tenant }) });
  if (res.result.case !== 'output') fail(`${flow}: expected an output, got ${res.result.case ?? 'nothing'}`);
  const out = res.result.value.payload;
  return out === undefined ? null : toJson(ValueSchema, out);
}

async function checkHealth(address: string): Promise<void> {
  const Health = grpc.makeGenericClientConstructor(healthService, 'Health');
  const client = new Health(address, grpc.credentials.createInsecure()) as unknown as grpc.Client & {
    Check(req: { service: string }, md: grpc.Metadata, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res: { status: string | number }) => void): void;
  };
  try {
    const res = await new Promise<{ status: string | number }>((resolve, reject) =>
      client.Check({ service: 'penguiflow.v1.FlowService' }, new grpc.Metadata(), { deadline: Date.now() + 30_000 }, (err, r) => (err ? reject(err) : resolve(r))),
    );
    if (res.status !== 'SERVING' && res.status !== 1) fail(`health Check answered ${String(res.status)}`);
    console.log('grpc-check: grpc.health.v1 Check (no credentials) SERVING OK');
  } finally {
    client.close();
  }
}

async function main(): Promise<void> {
  const [mode, address, arg] = process.argv.slice(2);
  if (address === undefined || (mode !== 'echo' && mode !== 'slow' && mode !== 'health')) fail('usage: grpc-check.ts echo|health|slow <host:port> [ms]');
  if (mode === 'health') {
    await checkHealth(address);
    return;
  }
  const client = new TestClient(address);
  try {
    if (mode === 'echo') {
      const sent = { hello: 'container', n: 42 };
      const got = await callFlow(client, 'echo', sent, 'smoke', 30_000);
      if (JSON.stringify(got) !== JSON.stringify(sent)) fail(`echo returned ${JSON.stringify(got)}`);
      console.log('grpc-check: Call echo OK');
      try {
        await callFlow(client, 'echo', sent, undefined, 30_000);
        fail('a Call without x-tenant-id succeeded; expected UNAUTHENTICATED');
      } catch (err) {
        const code = (err as grpc.ServiceError).code;
        if (code !== grpc.status.UNAUTHENTICATED) throw err;
        console.log('grpc-check: Call without x-tenant-id is UNAUTHENTICATED OK');
      }
    } else {
      const ms = Number(arg ?? '1500');
      const got = await callFlow(client, 'slow', { ms }, 'smoke', ms + 20_000);
      if (JSON.stringify(got) !== JSON.stringify({ sleptMs: ms })) fail(`slow returned ${JSON.stringify(got)}`);
      console.log(`grpc-check: in-flight Call slow (${ms} ms) finished OK`);
    }
  } finally {
    client.close();
  }
}

main().catch((err: unknown) => {
  const e = err as Partial<grpc.ServiceError>;
  fail(e.code !== undefined ? `${grpc.status[e.code]}: ${e.details ?? ''}` : String(err));
});
