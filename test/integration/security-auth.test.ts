/**
 * Identity: every credential failure mode of `jwt` answers UNAUTHENTICATED
 * with a fixed, token-free message and no stack trace; JWKS keys (RS256,
 * ES256) and a custom tenant claim; `header` mode; start-up refusals.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/observability/logger.js';
import { ConfigError, resolveConfig, startServer } from '../../src/server/index.js';
import { errorDetails, grpcError, type TestClient } from './helpers/client.js';
import { payloadOf, startHarness, value, type Harness } from './helpers/harness.js';
import { bearer, hsToken, TEST_AUDIENCE, TEST_ISSUER, TEST_SECRET } from './helpers/security.js';

function b64url(json: unknown): string {
  return Buffer.from(JSON.stringify(json)).toString('base64url');
}

/** Asserts a clean UNAUTHENTICATED: code, reason, and nothing that looks like a stack or the token. */
function expectUnauthenticated(err: grpc.ServiceError, reason: string, token = ''): void {
  expect(err.code).toBe(grpc.status.UNAUTHENTICATED);
  expect(errorDetails(err).errorInfo?.reason).toBe(reason);
  expect(err.details).not.toMatch(/\n\s+at |\.ts:\d|\.js:\d|Error:/);
  if (token !== '') expect(err.details).not.toContain(token);
}

describe('jwt (HS256, issuer and audience enforced)', () => {
  let h: Harness;
  let c: TestClient;
  beforeAll(async () => {
    h = await startHarness({ auth: 'jwt', jwtSecret: TEST_SECRET, jwtIssuer: TEST_ISSUER, jwtAudience: `other-aud,${TEST_AUDIENCE}`, jwtClockSkewMs: 5000 });
    c = h.client;
  });
  afterAll(async () => {
    await h.stop();
  });

  const echo = (metadata: Record<string, string>): Promise<unknown> => c.unary('Call', { flow: 'echo', message: { payload: value(1) } }, { metadata, timeoutMs: 5000 });

  it('accepts a valid token and takes the tenant from its claim', async () => {
    const res = await c.unary('Call', { flow: 'echo', message: { payload: value('hi') } }, { metadata: bearer(await hsToken({ tenant: 'acme' })), timeoutMs: 5000 });
    expect(res.result.case === 'output' ? [payloadOf(res.result.value), res.result.value.headers?.tenant] : undefined).toEqual(['hi', 'acme']);
  });

  it('tolerates the configured clock skew on exp and nbf', async () => {
    await echo(bearer(await hsToken({ tenant: 'acme' }, { expSeconds: -2 })));
    await echo(bearer(await hsToken({ tenant: 'acme' }, { nbfSeconds: 2 })));
  });

  const cases: [string, () => Promise<Record<string, string>>, string][] = [
    ['missing', () => Promise.resolve({}), 'MISSING_CREDENTIALS'],
    // HTTP/2 trims the value to nothing: the server sees no credentials at all.
    ['empty bearer', () => Promise.resolve({ authorization: 'Bearer ' }), 'MISSING_CREDENTIALS'],
    ['bearer with spaces', () => Promise.resolve({ authorization: 'Bearer abc def' }), 'MALFORMED_CREDENTIALS'],
    ['wrong scheme', async () => ({ authorization: `Basic ${await hsToken({ tenant: 'acme' })}` }), 'MALFORMED_CREDENTIALS'],
    ['not a JWT', () => Promise.resolve(bearer('not-a-jwt')), 'MALFORMED_CREDENTIALS'],
    ['garbage segments', () => Promise.resolve(bearer('aaa.bbb.ccc')), 'MALFORMED_CREDENTIALS'],
    ['oversized', () => Promise.resolve(bearer('a'.repeat(9000))), 'MALFORMED_CREDENTIALS'],
    ['expired', async () => bearer(await hsToken({ tenant: 'acme' }, { expSeconds: -60 })), 'TOKEN_EXPIRED'],
    ['not yet valid', async () => bearer(await hsToken({ tenant: 'acme' }, { nbfSeconds: 60 })), 'TOKEN_NOT_YET_VALID'],
    ['no exp', async () => bearer(await hsToken({ tenant: 'acme' }, { expSeconds: null })), 'TOKEN_INVALID_CLAIMS'],
    ['wrong signature', async () => bearer(await hsToken({ tenant: 'acme' }, { secret: 'another-secret-0123456789abcdef-0123456789' })), 'TOKEN_BAD_SIGNATURE'],
    ['tampered payload', async () => {
      const [head, , sig] = (await hsToken({ tenant: 'acme' })).split('.');
      return bearer(`${head}.${b64url({ tenant: 'victim', iss: TEST_ISSUER, aud: TEST_AUDIENCE, exp: 4102444800 })}.${sig}`);
    }, 'TOKEN_BAD_SIGNATURE'],
    ['alg none', () => Promise.resolve(bearer(`${b64url({ alg: 'none' })}.${b64url({ tenant: 'acme', iss: TEST_ISSUER, aud: TEST_AUDIENCE, exp: 4102444800 })}.`)), 'TOKEN_BAD_ALGORITHM'],
    ['wrong algorithm (HS512)', async () => {
      const t = await new SignJWT({ tenant: 'acme', iss: TEST_ISSUER, aud: TEST_AUDIENCE }).setProtectedHeader({ alg: 'HS512' }).setExpirationTime('1h').sign(new TextEncoder().encode(TEST_SECRET + TEST_SECRET));
      return bearer(t);
    }, 'TOKEN_BAD_ALGORITHM'],
    ['wrong issuer', async () => bearer(await hsToken({ tenant: 'acme', iss: 'https://evil.test' })), 'TOKEN_WRONG_ISSUER'],
    ['missing issuer', async () => bearer(await hsToken({ tenant: 'acme', iss: undefined })), 'TOKEN_WRONG_ISSUER'],
    ['wrong audience', async () => bearer(await hsToken({ tenant: 'acme', aud: 'someone-else' })), 'TOKEN_WRONG_AUDIENCE'],
    ['missing tenant claim', async () => bearer(await hsToken({})), 'MISSING_TENANT'],
    ['empty tenant claim', async () => bearer(await hsToken({ tenant: '' })), 'MISSING_TENANT'],
    ['bad tenant name (charset)', async () => bearer(await hsToken({ tenant: 'acme/../root' })), 'INVALID_TENANT'],
    ['bad tenant name (length)', async () => bearer(await hsToken({ tenant: 'a'.repeat(129) })), 'INVALID_TENANT'],
    ['bad tenant name (not a string)', async () => bearer(await hsToken({ tenant: ['acme'] })), 'INVALID_TENANT'],
  ];

  it.each(cases)('%s → UNAUTHENTICATED', async (_name, metadata, reason) => {
    const md = await metadata();
    const token = md.authorization?.replace(/^\S+ /, '') ?? '';
    expectUnauthenticated(await grpcError(echo(md)), reason, token.length > 8 ? token : '');
  });

  it('refuses every RPC without credentials, before looking at the request', async () => {
    const unary = [
      grpcError(c.unary('Emit', { flow: 'echo', message: {} })),
      grpcError(c.unary('Fetch', { flow: 'nope', traceId: '!!' })),
      grpcError(c.unary('Call', { flow: '' })),
      grpcError(c.unary('Cancel', { flow: 'echo', traceId: 'x' })),
      grpcError(c.unary('GetHistory', { flow: 'echo', traceId: 'x' })),
      grpcError(c.unary('ListFlows', {})),
    ];
    for (const err of await Promise.all(unary)) expect(err.code).toBe(grpc.status.UNAUTHENTICATED);
    for (const rpc of ['CallStream', 'StreamTrace', 'SubscribeEvents'] as const) {
      const r = await c.collect(rpc, { flow: 'echo', traceId: 'x', message: {} }, { timeoutMs: 3000 });
      expect(r.items).toEqual([]);
      expect(r.error?.code).toBe(grpc.status.UNAUTHENTICATED);
    }
  });

  it('ignores x-tenant-id in jwt mode', async () => {
    const res = await c.unary('Call', { flow: 'echo', message: { payload: value(1) } }, { metadata: { ...bearer(await hsToken({ tenant: 'acme' })), 'x-tenant-id': 'victim' }, timeoutMs: 5000 });
    expect(res.result.case === 'output' ? res.result.value.headers?.tenant : undefined).toBe('acme');
  });
});

describe('jwt with a JWKS file (RS256 and ES256) and a custom tenant claim', () => {
  let h: Harness;
  let dir: string;
  let rsa: CryptoKey;
  let ec: CryptoKey;
  let stranger: CryptoKey;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'penguiflow-jwks-'));
    const rsaPair = await generateKeyPair('RS256');
    const ecPair = await generateKeyPair('ES256');
    stranger = (await generateKeyPair('RS256')).privateKey;
    rsa = rsaPair.privateKey;
    ec = ecPair.privateKey;
    const keys = [
      { ...(await exportJWK(rsaPair.publicKey)), kid: 'rsa-1', alg: 'RS256', use: 'sig' },
      { ...(await exportJWK(ecPair.publicKey)), kid: 'ec-1', alg: 'ES256', use: 'sig' },
    ];
    writeFileSync(join(dir, 'jwks.json'), JSON.stringify({ keys }));
    h = await startHarness({ auth: 'jwt', jwksFile: join(dir, 'jwks.json'), tenantClaim: 'org_id', jwtAudience: TEST_AUDIENCE });
  });
  afterAll(async () => {
    await h.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const sign = (key: CryptoKey, alg: string, kid: string, claims: Record<string, unknown>): Promise<string> =>
    new SignJWT({ aud: TEST_AUDIENCE, ...claims }).setProtectedHeader({ alg, kid }).setExpirationTime('10m').sign(key);

  it.each([
    ['RS256', 'rsa-1'],
    ['ES256', 'ec-1'],
  ])('accepts %s and reads the tenant from org_id', async (alg, kid) => {
    const token = await sign(alg === 'RS256' ? rsa : ec, alg, kid, { org_id: 'org-7', tenant: 'ignored' });
    const res = await h.client.unary('Call', { flow: 'echo', message: { payload: value(1) } }, { metadata: bearer(token), timeoutMs: 5000 });
    expect(res.result.case === 'output' ? res.result.value.headers?.tenant : undefined).toBe('org-7');
  });

  it('refuses a key not in the JWKS, a missing custom claim, and an HS256 token', async () => {
    const wrongKey = await sign(stranger, 'RS256', 'rsa-1', { org_id: 'org-7' });
    expectUnauthenticated(await grpcError(h.client.unary('ListFlows', {}, { metadata: bearer(wrongKey) })), 'TOKEN_BAD_SIGNATURE');
    const noClaim = await sign(rsa, 'RS256', 'rsa-1', { tenant: 'org-7' });
    expectUnauthenticated(await grpcError(h.client.unary('ListFlows', {}, { metadata: bearer(noClaim) })), 'MISSING_TENANT');
    const hs = await hsToken({ org_id: 'org-7' });
    expectUnauthenticated(await grpcError(h.client.unary('ListFlows', {}, { metadata: bearer(hs) })), 'TOKEN_BAD_ALGORITHM');
  });
});

describe('header mode', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ auth: 'header' });
  });
  afterAll(async () => {
    await h.stop();
  });

  it('takes the tenant from x-tenant-id', async () => {
    const res = await h.client.unary('Call', { flow: 'echo', message: { payload: value(1) } }, { tenant: 'mesh-tenant', timeoutMs: 5000 });
    expect(res.result.case === 'output' ? res.result.value.headers?.tenant : undefined).toBe('mesh-tenant');
  });

  it.each([
    ['missing', {}, 'MISSING_TENANT'],
    ['empty', { 'x-tenant-id': '' }, 'INVALID_TENANT'],
    ['bad charset', { 'x-tenant-id': 'a b' }, 'INVALID_TENANT'],
    ['too long', { 'x-tenant-id': 'x'.repeat(129) }, 'INVALID_TENANT'],
  ])('%s x-tenant-id → UNAUTHENTICATED', async (_name, metadata, reason) => {
    expectUnauthenticated(await grpcError(h.client.unary('ListFlows', {}, { metadata })), reason);
  });
});

describe('start-up refusals', () => {
  const start = async (overrides: Parameters<typeof resolveConfig>[0], env: NodeJS.ProcessEnv = {}): Promise<ConfigError> => {
    try {
      const s = await startServer(resolveConfig({ host: '127.0.0.1', port: 0, ...overrides }), { logger: createLogger({ level: 'silent' }), env });
      await s.close({ drainTimeoutMs: 0 });
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      return err as ConfigError;
    }
    throw new Error('expected a ConfigError');
  };

  it('jwt needs exactly one of secret and JWKS file, and a strong secret (never echoed)', async () => {
    expect((await start({ auth: 'jwt' })).variable).toBe('PENGUIFLOW_JWT_SECRET');
    expect((await start({ auth: 'jwt', jwtSecret: TEST_SECRET, jwksFile: '/x.json' })).variable).toBe('PENGUIFLOW_JWT_SECRET');
    const weak = await start({ auth: 'jwt', jwtSecret: 'short-secret-canary' });
    expect(weak.message).toContain('at least 32 bytes');
    expect(weak.message).not.toContain('short-secret-canary');
    expect((await start({ auth: 'jwt', jwksFile: '/nonexistent/jwks.json' })).variable).toBe('PENGUIFLOW_JWKS_FILE');
  });

  it('mtls needs the TLS files; none is refused in production', async () => {
    expect((await start({ auth: 'mtls' })).variable).toMatch(/^PENGUIFLOW_TLS_/);
    expect((await start({ auth: 'mtls', tlsCert: '/nonexistent.crt', tlsKey: '/nonexistent.key', tlsClientCa: '/nonexistent-ca.crt' })).variable).toBe('PENGUIFLOW_TLS_CERT');
    expect((await start({ auth: 'none' }, { NODE_ENV: 'production' })).variable).toBe('PENGUIFLOW_AUTH');
  });
});
