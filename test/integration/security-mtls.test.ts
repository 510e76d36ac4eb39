/**
 * mTLS: certificates made with the openssl CLI in a temp dir (nothing
 * committed). The server requires a client certificate from its CA; the
 * tenant is the URI SAN `tenant:<name>`, else the subject CN.
 */
import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorDetails, grpcError, TestClient } from './helpers/client.js';
import { startHarness, value, type Harness } from './helpers/harness.js';
import { makePki, type TestPki } from './helpers/security.js';

let pki: TestPki;
let h: Harness;
const clients: TestClient[] = [];

function client(name: string | undefined): TestClient {
  const ca = readFileSync(pki.caCert);
  const creds =
    name === undefined
      ? grpc.credentials.createSsl(ca)
      : grpc.credentials.createSsl(ca, readFileSync(pki.clients[name]!.key), readFileSync(pki.clients[name]!.cert));
  const c = new TestClient(`localhost:${h.server.port}`, creds);
  clients.push(c);
  return c;
}

async function tenantOf(c: TestClient): Promise<string | undefined> {
  const res = await c.unary('Call', { flow: 'echo', message: { payload: value(1) } }, { timeoutMs: 5000 });
  return res.result.case === 'output' ? res.result.value.headers?.tenant : undefined;
}

beforeAll(() => {
  pki = makePki({
    san: { cn: 'service-account-9', san: 'URI:tenant:acme,DNS:client.test' },
    cn: { cn: 'beta' },
    badcn: { cn: 'not a tenant!' },
    ambiguous: { cn: 'x', san: 'URI:tenant:one,URI:tenant:two' },
    rogue: { cn: 'acme', rogue: true },
  });
}, 60_000);

beforeAll(async () => {
  h = await startHarness({ host: '127.0.0.1', auth: 'mtls', tlsCert: pki.serverCert, tlsKey: pki.serverKey, tlsClientCa: pki.caCert });
});

afterAll(async () => {
  for (const c of clients) c.close();
  await h?.stop();
  pki?.cleanup();
});

describe('mtls', () => {
  it('takes the tenant from the URI SAN tenant:<name> (over the CN)', async () => {
    expect(await tenantOf(client('san'))).toBe('acme');
  });

  it('falls back to the subject CN', async () => {
    expect(await tenantOf(client('cn'))).toBe('beta');
  });

  it('isolates tenants by certificate', async () => {
    const { traceId } = await client('san').unary('Emit', { flow: 'slow', message: { payload: value({ ms: 5000 }) } });
    const err = await grpcError(client('cn').unary('Cancel', { flow: 'slow', traceId }));
    expect(err.code).toBe(grpc.status.NOT_FOUND);
    expect((await client('san').unary('Cancel', { flow: 'slow', traceId })).cancelled).toBe(true);
  });

  it('refuses a certificate whose tenant is invalid or ambiguous (UNAUTHENTICATED)', async () => {
    const bad = await grpcError(client('badcn').unary('ListFlows', {}));
    expect(bad.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(errorDetails(bad).errorInfo?.reason).toBe('INVALID_TENANT');
    const two = await grpcError(client('ambiguous').unary('ListFlows', {}));
    expect(two.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(errorDetails(two).errorInfo?.reason).toBe('AMBIGUOUS_TENANT');
  });

  it('refuses a client without a certificate, one from another CA, and a plaintext client', async () => {
    for (const c of [client(undefined), client('rogue')]) {
      const err = await grpcError(c.unary('ListFlows', {}, { timeoutMs: 5000 }));
      expect(err.code).toBe(grpc.status.UNAVAILABLE);
    }
    const plain = new TestClient(`127.0.0.1:${h.server.port}`);
    clients.push(plain);
    const err = await grpcError(plain.unary('ListFlows', {}, { timeoutMs: 5000 }));
    expect([grpc.status.UNAVAILABLE, grpc.status.DEADLINE_EXCEEDED]).toContain(err.code);
    // The server shrugged all of it off.
    expect(await tenantOf(client('san'))).toBe('acme');
  });
});
