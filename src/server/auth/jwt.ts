/**
 * Auth mode `jwt`: `authorization: Bearer <token>`, verified with `jose`
 * against an HS256 secret or the RS256/ES256 keys of a JWKS file.
 *
 * Checks, in jose's order: structure, algorithm (only the configured
 * family), signature, `exp` (required) and `nbf` with the configured clock
 * skew, `iss` and `aud` when configured; then the tenant claim must be a
 * valid tenant name. Every failure is UNAUTHENTICATED with a fixed message
 * per kind; nothing from the token is echoed or logged.
 */
import { readFileSync } from 'node:fs';
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { TENANT_PATTERN } from './none.js';
import { ConfigError } from '../config.js';
import type { Interceptor } from '../../rpc/interceptor.js';
import type { RpcMetadata } from '../../rpc/metadata.js';
import { ServiceError } from '../../rpc/service-error.js';

/** Shortest HS256 secret accepted (RFC 7518 §3.2: at least the hash size). */
export const MIN_HS256_SECRET_BYTES = 32;

/** Longest bearer token accepted; longer is "malformed" without parsing. */
export const MAX_TOKEN_LENGTH = 8192;

/** The settings of {@link jwtAuth} (from {@link ServerConfig}). */
export interface JwtAuthOptions {
  jwtSecret: string;
  jwksFile: string;
  jwtIssuer: string;
  jwtAudience: string;
  jwtClockSkewMs: number;
  tenantClaim: string;
}

type Key = Uint8Array | JWTVerifyGetKey;

function unauthenticated(message: string, reason: string): ServiceError {
  return new ServiceError('UNAUTHENTICATED', message, { reason });
}

function loadKey(opts: JwtAuthOptions): { key: Key; algorithms: string[] } {
  const hasSecret = opts.jwtSecret !== '';
  const hasJwks = opts.jwksFile !== '';
  if (hasSecret === hasJwks) {
    throw new ConfigError('PENGUIFLOW_JWT_SECRET', 'invalid configuration: PENGUIFLOW_AUTH=jwt needs exactly one of PENGUIFLOW_JWT_SECRET (HS256) or PENGUIFLOW_JWKS_FILE (RS256/ES256)');
  }
  if (hasSecret) {
    const key = new TextEncoder().encode(opts.jwtSecret);
    if (key.byteLength < MIN_HS256_SECRET_BYTES) {
      // The value is never echoed: it is a secret.
      throw new ConfigError('PENGUIFLOW_JWT_SECRET', `invalid configuration: PENGUIFLOW_JWT_SECRET must be at least ${MIN_HS256_SECRET_BYTES} bytes`);
    }
    return { key, algorithms: ['HS256'] };
  }
  let jwks: unknown;
  try {
    jwks = JSON.parse(readFileSync(opts.jwksFile, 'utf8'));
  } catch (err) {
    const why = err instanceof SyntaxError ? 'not valid JSON' : `cannot read the file (${(err as NodeJS.ErrnoException).code ?? 'read error'})`;
    throw new ConfigError('PENGUIFLOW_JWKS_FILE', `invalid configuration: PENGUIFLOW_JWKS_FILE=${JSON.stringify(opts.jwksFile)}: ${why}`);
  }
  if (typeof jwks !== 'object' || jwks === null || !Array.isArray((jwks as { keys?: unknown }).keys) || (jwks as { keys: unknown[] }).keys.length === 0) {
    throw new ConfigError('PENGUIFLOW_JWKS_FILE', `invalid configuration: PENGUIFLOW_JWKS_FILE=${JSON.stringify(opts.jwksFile)}: expected a JWKS object {"keys": [...]} with at least one key`);
  }
  let key: JWTVerifyGetKey;
  try {
    key = createLocalJWKSet(jwks as JSONWebKeySet);
  } catch {
    throw new ConfigError('PENGUIFLOW_JWKS_FILE', `invalid configuration: PENGUIFLOW_JWKS_FILE=${JSON.stringify(opts.jwksFile)}: not a valid JWKS`);
  }
  return { key, algorithms: ['RS256', 'ES256'] };
}

/** The raw token of `authorization: Bearer <token>`. @throws ServiceError UNAUTHENTICATED */
export function bearerToken(metadata: RpcMetadata): string {
  const values = metadata.get('authorization');
  if (values.length === 0) throw unauthenticated('missing credentials: expected authorization: Bearer <token>', 'MISSING_CREDENTIALS');
  const value = values[0];
  if (values.length > 1 || typeof value !== 'string') throw unauthenticated('malformed credentials: expected one authorization: Bearer <token>', 'MALFORMED_CREDENTIALS');
  const match = /^bearer +([A-Za-z0-9_.~+/=-]+)\s*$/i.exec(value);
  if (match === null || match[1] === undefined || match[1].length > MAX_TOKEN_LENGTH) {
    throw unauthenticated('malformed credentials: expected authorization: Bearer <token>', 'MALFORMED_CREDENTIALS');
  }
  return match[1];
}

/** Maps a jose failure to a fixed, token-free UNAUTHENTICATED. */
function verificationError(err: unknown): ServiceError {
  const code = (err as { code?: unknown }).code;
  const claim = (err as { claim?: unknown }).claim;
  switch (code) {
    case 'ERR_JWT_EXPIRED':
      return unauthenticated('token expired', 'TOKEN_EXPIRED');
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
      if (claim === 'nbf') return unauthenticated('token not yet valid', 'TOKEN_NOT_YET_VALID');
      if (claim === 'iss') return unauthenticated('token issuer not accepted', 'TOKEN_WRONG_ISSUER');
      if (claim === 'aud') return unauthenticated('token audience not accepted', 'TOKEN_WRONG_AUDIENCE');
      if (claim === 'exp') return unauthenticated('token has no valid exp claim', 'TOKEN_INVALID_CLAIMS');
      return unauthenticated('token claims invalid', 'TOKEN_INVALID_CLAIMS');
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
    case 'ERR_JWKS_NO_MATCHING_KEY':
    case 'ERR_JWKS_MULTIPLE_MATCHING_KEYS':
      return unauthenticated('token signature invalid', 'TOKEN_BAD_SIGNATURE');
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
    case 'ERR_JOSE_NOT_SUPPORTED':
      return unauthenticated('token algorithm not accepted', 'TOKEN_BAD_ALGORITHM');
    default:
      return unauthenticated('malformed token', 'MALFORMED_CREDENTIALS');
  }
}

function tenantOf(payload: JWTPayload, claim: string): string {
  const value = payload[claim];
  if (value === undefined || value === null || value === '') throw unauthenticated(`token has no ${claim} claim`, 'MISSING_TENANT');
  if (typeof value !== 'string' || !TENANT_PATTERN.test(value)) {
    throw unauthenticated(`token ${claim} claim is not a valid tenant: expected 1-128 characters of [A-Za-z0-9._:-]`, 'INVALID_TENANT');
  }
  return value;
}

/**
 * The `jwt` auth interceptor.
 *
 * @throws ConfigError at start when the key settings are missing, both
 *   set, too weak or unreadable.
 */
export function jwtAuth(opts: JwtAuthOptions): Interceptor {
  const { key, algorithms } = loadKey(opts);
  const audience = opts.jwtAudience
    .split(',')
    .map((a) => a.trim())
    .filter((a) => a !== '');
  const verifyOptions = {
    algorithms,
    clockTolerance: opts.jwtClockSkewMs / 1000,
    requiredClaims: ['exp'],
    ...(opts.jwtIssuer === '' ? {} : { issuer: opts.jwtIssuer }),
    ...(audience.length === 0 ? {} : { audience }),
  };
  const verify = async (token: string): Promise<JWTPayload> => {
    try {
      const result = typeof key === 'function' ? await jwtVerify(token, key, verifyOptions) : await jwtVerify(token, key, verifyOptions);
      return result.payload;
    } catch (err) {
      throw verificationError(err);
    }
  };
  return (next) => async (call) => {
    const payload = await verify(bearerToken(call.metadata));
    call.identity = { tenant: tenantOf(payload, opts.tenantClaim), subject: typeof payload.sub === 'string' ? payload.sub : undefined, mode: 'jwt' };
    return next(call);
  };
}
