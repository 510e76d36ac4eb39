/**
 * Auth mode `header`: trusted-mesh mode. A sidecar (Envoy, Istio, Linkerd)
 * that authenticated the caller sets `x-tenant-id`; the server believes it.
 * Safe only when nothing but the sidecar can reach the server's port.
 */
import { TENANT_HEADER, tenantFromHeader } from './none.js';
import type { Interceptor } from '../../rpc/interceptor.js';
import { ServiceError } from '../../rpc/service-error.js';

/**
 * The `header` auth interceptor: requires exactly one valid `x-tenant-id`.
 *
 * @throws ServiceError UNAUTHENTICATED when the header is missing, repeated
 *   or not a valid tenant name.
 */
export function headerAuth(): Interceptor {
  return (next) => (call) => {
    const tenant = tenantFromHeader(call.metadata);
    if (tenant === undefined) {
      return Promise.reject(new ServiceError('UNAUTHENTICATED', `missing ${TENANT_HEADER} header (set by the mesh sidecar in header auth mode)`, { reason: 'MISSING_TENANT' }));
    }
    call.identity = { tenant, subject: undefined, mode: 'header' };
    return next(call);
  };
}
