/**
 * Helpers of the security tests: JWTs, test certificates made with the
 * openssl CLI in a temp dir (no key is ever committed), comparison of error
 * answers, and raw calls that bypass the typed client.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromBinary, toJsonString } from '@bufbuild/protobuf';
import * as grpc from '@grpc/grpc-js';
import { SignJWT, type JWTPayload } from 'jose';
import { StatusSchema } from '../../../src/gen/google/rpc/status_pb.js';
import { BadRequestSchema, ErrorInfoSchema, QuotaFailureSchema, RetryInfoSchema } from '../../../src/gen/google/rpc/error_details_pb.js';
import { createRegistry } from '@bufbuild/protobuf';

/** A 32+ byte HS256 secret for tests. */
export const TEST_SECRET = 'test-secret-0123456789abcdef-0123456789';
export const TEST_ISSUER = 'https://issuer.test';
export const TEST_AUDIENCE = 'penguiflow-test';

/** Signs an HS256 token; `claims` override the defaults (tenant, iss, aud, sub, iat/exp one hour). */
export async function hsToken(claims: JWTPayload, opts: { secret?: string; expSeconds?: number | null; nbfSeconds?: number } = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const jwt = new SignJWT({ iss: TEST_ISSUER, aud: TEST_AUDIENCE, sub: 'user-1', ...claims }).setProtectedHeader({ alg: 'HS256' }).setIssuedAt(now);
  if (opts.expSeconds !== null) jwt.setExpirationTime(now + (opts.expSeconds ?? 3600));
  if (opts.nbfSeconds !== undefined) jwt.setNotBefore(now + opts.nbfSeconds);
  return jwt.sign(new TextEncoder().encode(opts.secret ?? TEST_SECRET));
}

/** Metadata for a bearer token. */
export function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}

const registry = createRegistry(ErrorInfoSchema, BadRequestSchema, RetryInfoSchema, QuotaFailureSchema);

/**
 * Everything a client can observe of a failed call, as one string: code,
 * details and the decoded google.rpc.Status (with its details), with each
 * of `ids` replaced by `ID`. Equal strings = indistinguishable answers.
 */
export function observableError(err: grpc.ServiceError | undefined, ids: readonly string[] = []): string {
  if (err === undefined) return 'no error';
  const raw = err.metadata?.get('grpc-status-details-bin')[0];
  const status = raw instanceof Buffer ? toJsonString(StatusSchema, fromBinary(StatusSchema, raw), { registry }) : 'no details';
  const trailerKeys = Object.keys(err.metadata?.getMap() ?? {}).sort().join(',');
  let text = JSON.stringify({ code: err.code, details: err.details, status, trailerKeys });
  for (const id of ids) text = text.split(id).join('ID');
  return text;
}

/** Files of a test PKI made with openssl. */
export interface TestPki {
  dir: string;
  caCert: string;
  serverCert: string;
  serverKey: string;
  /** Client certificates by name: PEM cert and key paths. */
  clients: Record<string, { cert: string; key: string }>;
  cleanup(): void;
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** One client certificate to issue: subject CN, optional SAN line, and whether the trusted CA signs it. */
export interface ClientSpec {
  cn: string;
  san?: string;
  /** Sign with an untrusted CA instead. */
  rogue?: boolean;
}

/**
 * Creates a CA, a server certificate for localhost/127.0.0.1 and the given
 * client certificates (EC P-256, valid one day) in a fresh temp dir.
 */
export function makePki(clients: Record<string, ClientSpec>): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'penguiflow-pki-'));
  const ca = (name: string): void =>
    openssl(dir, [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
      '-keyout', `${name}.key`, '-out', `${name}.crt`, '-subj', `/CN=${name}`,
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
    ]);
  ca('ca');
  ca('rogue-ca');
  const issue = (name: string, cn: string, ext: string, signer: string): void => {
    openssl(dir, ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`]);
    writeFileSync(join(dir, `${name}.ext`), ext);
    openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', `${signer}.crt`, '-CAkey', `${signer}.key`, '-CAcreateserial', '-days', '1', '-out', `${name}.crt`, '-extfile', `${name}.ext`]);
  };
  issue('server', 'localhost', 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n', 'ca');
  const out: TestPki['clients'] = {};
  for (const [name, spec] of Object.entries(clients)) {
    const ext = `extendedKeyUsage=clientAuth\n${spec.san === undefined ? '' : `subjectAltName=${spec.san}\n`}`;
    issue(`client-${name}`, spec.cn, ext, spec.rogue === true ? 'rogue-ca' : 'ca');
    out[name] = { cert: join(dir, `client-${name}.crt`), key: join(dir, `client-${name}.key`) };
  }
  return {
    dir,
    caCert: join(dir, 'ca.crt'),
    serverCert: join(dir, 'server.crt'),
    serverKey: join(dir, 'server.key'),
    clients: out,
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** A raw unary call with pre-encoded request bytes; resolves with the status code (and response bytes). */
export function rawUnary(client: grpc.Client, path: string, body: Buffer, metadata: grpc.Metadata, deadlineMs: number): Promise<{ code: grpc.status; response: Buffer | undefined }> {
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      path,
      (b: Buffer) => b,
      (b: Buffer) => b,
      body,
      metadata,
      { deadline: Date.now() + deadlineMs },
      (err: grpc.ServiceError | null, res?: Buffer) => resolve({ code: err === null ? grpc.status.OK : err.code, response: res }),
    );
  });
}

/** A raw server-streaming call; resolves with the final status code and the number of messages. */
export function rawStream(client: grpc.Client, path: string, body: Buffer, metadata: grpc.Metadata, deadlineMs: number): Promise<{ code: grpc.status; count: number }> {
  return new Promise((resolve) => {
    const call = client.makeServerStreamRequest(path, (b: Buffer) => b, (b: Buffer) => b, body, metadata, { deadline: Date.now() + deadlineMs });
    let count = 0;
    let code: grpc.status = grpc.status.OK;
    call.on('data', () => count++);
    call.on('error', (e: grpc.ServiceError) => (code = e.code));
    call.on('status', (s: grpc.StatusObject) => setImmediate(() => resolve({ code: code === grpc.status.OK ? s.code : code, count })));
  });
}

/** grpc.health.v1.Health/Check for service "" over `client`; resolves true when SERVING. */
export async function healthServing(client: grpc.Client): Promise<boolean> {
  const { code, response } = await rawUnary(client, '/grpc.health.v1.Health/Check', Buffer.alloc(0), new grpc.Metadata(), 5000);
  // HealthCheckResponse { status = 1 (SERVING) } encodes as 08 01.
  return code === grpc.status.OK && response !== undefined && response.equals(Buffer.from([0x08, 0x01]));
}
