/**
 * PenguiFlow server: host flows over gRPC.
 *
 * Flow authors need only {@link defineFlow}; embedders and tests use
 * {@link startServer} with {@link resolveConfig} or {@link loadConfig}.
 *
 * @packageDocumentation
 */
export { defineFlow, FLOW_NAME_PATTERN, isFlowDefinition } from '../runtime/define-flow.js';
export type { FlowBuildContext, FlowDefinition } from '../runtime/define-flow.js';
export { CONFIG_FILE_VARIABLE, CONFIG_VARIABLES, ConfigError, loadConfig, resolveConfig } from './config.js';
export type { AuthMode, ConfigVariableDoc, LogLevel, ServerConfig } from './config.js';
export { FLOW_SERVICE_NAME, startServer, TRANSPORT_HEADROOM_BYTES } from './server.js';
export type { CloseOptions, RunningServer, StartServerOptions } from './server.js';
export type { FlowCatalog } from '../host/flow-catalog.js';
export type { ReadinessCheck } from './lifecycle.js';
export { ERROR_DOMAIN, SERVICE_ERROR_CODES, ServiceError, STATUS_DETAILS_TRAILER } from '../rpc/service-error.js';
export type { FieldViolation, QuotaViolation, ServiceErrorCode, ServiceErrorOptions } from '../rpc/service-error.js';
export { flowServiceClientDefinition, flowServiceServerDefinition, methodPath } from './grpc/service-definition.js';
export type { DecodedRequest, FlowMethodName, RequestInit, RequestOf, ResponseOf } from './grpc/service-definition.js';
export { InMemoryEventLog } from '../host/in-memory-event-log.js';
export type { InMemoryEventLogOptions } from '../host/in-memory-event-log.js';
export type { EventListener, EventLog, LoggedEvent } from '../host/event-log.js';
export { DEFAULT_TENANT, TENANT_HEADER } from './auth/none.js';
export type { Identity, RpcCall } from '../rpc/call.js';
export type { Interceptor, RpcNext } from '../rpc/interceptor.js';
export type { RpcMetadata } from '../rpc/metadata.js';
export { TRACE_ID_PATTERN } from '../rpc/request-validation.js';
