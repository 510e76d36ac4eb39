/**
 * What every RPC handler needs from the server.
 */
import type { Logger } from 'pino';
import type { EventLog } from '../../host/event-log.js';
import type { FlowCatalog } from '../../host/flow-catalog.js';
import type { MessageLimits } from '../codec/inbound-message.js';
import type { TenantQuota } from '../../host/tenant-quota.js';
import type { FixedDelayTimers } from '../../internal/fixed-delay-timers.js';

/** Shared, immutable dependencies of the handlers. */
export interface HandlerContext {
  readonly catalog: FlowCatalog;
  readonly eventLog: EventLog;
  readonly limits: MessageLimits;
  /** Cancel the trace when a Call/CallStream client cancels or its deadline passes. */
  readonly cancelOnDisconnect: boolean;
  /** Wait for room on a full ingress queue before RESOURCE_EXHAUSTED. */
  readonly admissionWaitMs: number;
  /** Admission timeouts (all of `admissionWaitMs`) on one timer. */
  readonly admissionTimers: FixedDelayTimers;
  /** Per-tenant cap on in-flight traces; absent = unlimited. */
  readonly tenantQuota?: TenantQuota;
  readonly logger: Logger;
}
