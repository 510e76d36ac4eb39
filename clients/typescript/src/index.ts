/**
 * `@penguiflow/client`: TypeScript client for the PenguiFlow gRPC flow
 * service (`penguiflow.v1.FlowService`).
 *
 * Start with {@link createFlowClient}. Every failure is a
 * {@link FlowClientError}; node failures are returned as data.
 *
 * @packageDocumentation
 */
export { createFlowClient } from './client.js';
export type { FlowClient, FlowClientOptions } from './client.js';
export { FlowClientError, decodeErrorDetails } from './errors.js';
export type {
  ErrorInfo,
  FieldViolation,
  FlowClientErrorDetails,
  GrpcCode,
  QuotaViolation,
  RawErrorDetail,
} from './errors.js';
export type {
  CallResult,
  EdgeInfo,
  EmitResult,
  FetchResult,
  FlowError,
  FlowErrorCode,
  FlowEvent,
  FlowInfo,
  FlowMessage,
  JsonObject,
  JsonValue,
  MessageBody,
  MessageHeaders,
  NodeInfo,
  NodePolicyInfo,
  RequestOptions,
  SendOptions,
  StreamChunk,
  SubscribeOptions,
  TraceEnd,
  TraceStatus,
  TraceUpdate,
} from './types.js';
