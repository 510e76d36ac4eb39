/**
 * Chooses the auth interceptor for the configured mode and enforces its
 * start-up rules.
 */
import type { Logger } from 'pino';
import { noneAuth } from './auth-none.js';
import { ConfigError, type AuthMode } from './config.js';
import type { Interceptor } from './rpc-call.js';

/**
 * The auth interceptor of `mode`.
 *
 * `none` logs a loud warning (anyone can act as any tenant) and is refused
 * outright when `NODE_ENV=production`. `jwt`, `mtls` and `header` are part of
 * the contract but not implemented yet.
 *
 * @throws ConfigError naming `PENGUIFLOW_AUTH` when the mode is not usable.
 */
export function authInterceptor(mode: AuthMode, logger: Logger, env: NodeJS.ProcessEnv = process.env): Interceptor {
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
    case 'mtls':
    case 'header':
      throw new ConfigError('PENGUIFLOW_AUTH', `invalid configuration: PENGUIFLOW_AUTH=${mode} is not implemented yet; only "none" is available in this version`);
  }
}
