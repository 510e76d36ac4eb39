/**
 * Chooses the auth interceptor for the configured mode and enforces its
 * start-up rules.
 *
 * The interceptor chain, in order: drain gate (UNAVAILABLE while shutting
 * down, before any credential is looked at), then exactly one auth
 * interceptor (sets `call.identity` or fails UNAUTHENTICATED), then the
 * handler, which validates the request (INVALID_ARGUMENT), resolves flow and
 * trace within the caller's tenant (NOT_FOUND), checks `headers.tenant`
 * (PERMISSION_DENIED) and admits work through the tenant quota
 * (RESOURCE_EXHAUSTED).
 */
import type { Logger } from 'pino';
import { headerAuth } from './header.js';
import { jwtAuth } from './jwt.js';
import { mtlsAuth } from './mtls.js';
import { noneAuth } from './none.js';
import { ConfigError, type AuthMode, type ServerConfig } from '../config.js';
import type { Interceptor } from '../../rpc/interceptor.js';

/** The settings the auth modes read. */
export type AuthSettings = Pick<ServerConfig, 'jwtSecret' | 'jwksFile' | 'jwtIssuer' | 'jwtAudience' | 'jwtClockSkewMs' | 'tenantClaim' | 'tlsCert' | 'tlsKey' | 'tlsClientCa'>;

const NO_SETTINGS: AuthSettings = {
  jwtSecret: '',
  jwksFile: '',
  jwtIssuer: '',
  jwtAudience: '',
  jwtClockSkewMs: 5_000,
  tenantClaim: 'tenant',
  tlsCert: '',
  tlsKey: '',
  tlsClientCa: '',
};

/**
 * The auth interceptor of `mode`.
 *
 * `none` logs a loud warning (anyone can act as any tenant) and is refused
 * outright when `NODE_ENV=production`. `jwt` needs a secret or a JWKS file;
 * `mtls` needs the three TLS files (the transport is set up by
 * `startServer`); `header` trusts the sidecar's `x-tenant-id`.
 *
 * @throws ConfigError naming the variable when the mode is not usable.
 */
export function authInterceptor(mode: AuthMode, logger: Logger, env: NodeJS.ProcessEnv = process.env, settings: AuthSettings = NO_SETTINGS): Interceptor {
  switch (mode) {
    case 'none':
      if (env.NODE_ENV === 'production') {
        throw new ConfigError('PENGUIFLOW_AUTH', 'invalid configuration: PENGUIFLOW_AUTH=none is refused when NODE_ENV=production (any caller could act as any tenant); choose jwt, mtls or header');
      }
      logger.warn(
        { auth: 'none' },
        '!!! AUTH MODE "none": NO AUTHENTICATION. Any caller can act as any tenant via the x-tenant-id header. For local development only; set PENGUIFLOW_AUTH for anything else. !!!',
      );
      return noneAuth();
    case 'jwt':
      return jwtAuth(settings);
    case 'mtls':
      for (const [name, value] of [
        ['PENGUIFLOW_TLS_CERT', settings.tlsCert],
        ['PENGUIFLOW_TLS_KEY', settings.tlsKey],
        ['PENGUIFLOW_TLS_CLIENT_CA', settings.tlsClientCa],
      ] as const) {
        if (value === '') throw new ConfigError(name, `invalid configuration: PENGUIFLOW_AUTH=mtls needs ${name}`);
      }
      return mtlsAuth();
    case 'header':
      logger.info({ auth: 'header' }, 'auth mode "header": the tenant is taken from x-tenant-id as set by the mesh sidecar; the gRPC port must be reachable only through the sidecar');
      return headerAuth();
  }
}
