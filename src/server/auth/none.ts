/**
 * Auth mode `none`: no credentials; the tenant comes from the `x-tenant-id`
 * header or defaults to `default`. For local development only.
 */
import type { Interceptor } from '../../rpc/interceptor.js';
import type { RpcMetadata } from '../../rpc/metadata.js';
import { ServiceError } from '../../rpc/service-error.js';

/** Metadata key naming the caller's tenant in `none` (and, later, `header`) mode. */
export const TENANT_HEADER = 'x-tenant-id';

/** Tenant of callers that send no `x-tenant-id`. */
export const DEFAULT_TENANT = 'default';

/** Valid tenant names: the trace id charset, so internal keys stay unambiguous. */
export const TENANT_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * The tenant named by `x-tenant-id`, or undefined when the header is absent.
 *
 * @throws ServiceError UNAUTHENTICATED when the header is repeated, empty or
 *   outside {@link TENANT_PATTERN} (it is the caller's identity claim, not a
 *   request field).
 */
export function tenantFromHeader(metadata: RpcMetadata): string | undefined {
  const values = metadata.get(TENANT_HEADER);
  if (values.length === 0) return undefined;
  const value = values[0];
  if (values.length > 1 || typeof value !== 'string' || !TENANT_PATTERN.test(value)) {
    throw new ServiceError('UNAUTHENTICATED', `invalid ${TENANT_HEADER} header: expected one value of 1-128 characters of [A-Za-z0-9._:-]`, {
      reason: 'INVALID_TENANT',
    });
  }
  return value;
}

/** The `none` auth interceptor: trusts `x-tenant-id`, else {@link DEFAULT_TENANT}. */
export function noneAuth(): Interceptor {
  return (next) => (call) => {
    call.identity = { tenant: tenantFromHeader(call.metadata) ?? DEFAULT_TENANT, subject: undefined, mode: 'none' };
    return next(call);
  };
}
