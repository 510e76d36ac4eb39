/**
 * Auth mode `mtls`: the server speaks TLS and requires a client certificate
 * signed by `PENGUIFLOW_TLS_CLIENT_CA` (the TLS handshake refuses anything
 * else); the tenant is read from the certificate.
 *
 * Rule: a URI subject alternative name `tenant:<name>` names the tenant;
 * without one, the subject common name (CN) is the tenant. Either must be a
 * valid tenant name. A certificate with two different `tenant:` URIs is
 * refused as ambiguous.
 */
import type { PeerCertificate } from 'node:tls';
import { TENANT_PATTERN } from './none.js';
import type { Interceptor } from '../../rpc/interceptor.js';
import { ServiceError } from '../../rpc/service-error.js';

/** URI SAN scheme that names the tenant. */
export const TENANT_URI_PREFIX = 'tenant:';

function unauthenticated(message: string, reason: string): ServiceError {
  return new ServiceError('UNAUTHENTICATED', message, { reason });
}

function firstString(value: string | string[] | undefined): string | undefined {
  if (Array.isArray(value)) return value.length === 1 ? value[0] : undefined;
  return value;
}

/**
 * The tenant named by a client certificate (see the module comment).
 *
 * @throws ServiceError UNAUTHENTICATED when the certificate names no
 *   tenant, an invalid one, or two different ones.
 */
export function tenantFromCertificate(cert: PeerCertificate): string {
  const sans = (cert.subjectaltname ?? '').split(/,\s*/);
  const named = new Set<string>();
  for (const san of sans) {
    if (!san.startsWith(`URI:${TENANT_URI_PREFIX}`)) continue;
    named.add(san.slice(`URI:${TENANT_URI_PREFIX}`.length));
  }
  if (named.size > 1) throw unauthenticated('the client certificate names more than one tenant', 'AMBIGUOUS_TENANT');
  const tenant = named.size === 1 ? [...named][0] : firstString(cert.subject?.CN);
  if (tenant === undefined || tenant === '') throw unauthenticated('the client certificate names no tenant (URI SAN tenant:<name> or CN)', 'MISSING_TENANT');
  if (!TENANT_PATTERN.test(tenant)) throw unauthenticated('the client certificate names an invalid tenant: expected 1-128 characters of [A-Za-z0-9._:-]', 'INVALID_TENANT');
  return tenant;
}

/** The `mtls` auth interceptor. */
export function mtlsAuth(): Interceptor {
  return (next) => (call) => {
    const cert = call.peerCertificate;
    if (cert === undefined) {
      // The handshake requires a certificate, so this means a misconfigured transport: fail closed.
      return Promise.reject(unauthenticated('no client certificate', 'MISSING_CLIENT_CERTIFICATE'));
    }
    let tenant: string;
    try {
      tenant = tenantFromCertificate(cert);
    } catch (err) {
      return Promise.reject(err);
    }
    const cn = firstString(cert.subject?.CN);
    call.identity = { tenant, subject: cn, mode: 'mtls' };
    return next(call);
  };
}
