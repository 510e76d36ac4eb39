/**
 * Refuses new calls while the server drains.
 */
import type { CallRegistry } from '../../rpc/call-registry.js';
import type { Interceptor } from '../../rpc/interceptor.js';
import { ServiceError } from '../../rpc/service-error.js';

/**
 * The first interceptor of the chain: once shutdown began, every new call
 * fails with UNAVAILABLE (clients retry on another replica) before any
 * authentication or work happens.
 */
export function drainInterceptor(calls: CallRegistry): Interceptor {
  return (next) => (call) => {
    if (calls.draining) return Promise.reject(ServiceError.unavailable());
    return next(call);
  };
}
