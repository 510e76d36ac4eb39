/**
 * PenguiFlow for TypeScript: the flow runtime.
 *
 * ```ts
 * import { create, Node, createMessage } from 'penguiflow';
 * const shout = new Node(async (msg: Message<string>) => ({ ...msg, payload: msg.payload.toUpperCase() }), { name: 'shout' });
 * const flow = create([shout.to()]);
 * flow.run();
 * ```
 *
 * @packageDocumentation
 */
export { createMessage, createWM, finalAnswer, isFinalAnswer, isMessage, isStreamChunk, isWM, newTraceId } from './message.js';
export type { FinalAnswer, Headers, Message, MessageInit, StreamChunk, WM } from './message.js';
export { Node } from './node.js';
export type { Adjacency, NodeFn, NodeHooks, NodeOptions } from './node.js';
export { backoffMs, resolvePolicy } from './policy.js';
export type { NodePolicy, ResolvedPolicy } from './policy.js';
export { create, Flow } from './flow.js';
export type { EmitOptions, FetchOptions, FlowOptions, FlowStats } from './flow.js';
export type { Context, EmitChunkArgs } from './context.js';
export {
  CycleError,
  DeadlineExceededError,
  FlowError,
  FlowErrorCode,
  FlowStoppedError,
  NodeTimeoutError,
  PlaybookTimeoutError,
  TraceCancelled,
  TraceEndedError,
  isFlowError,
  PenguiflowError,
} from './errors.js';
export type { FlowErrorInit, RuntimeErrorKind, TraceStatus } from './errors.js';
export { FLOW_EVENT_TYPES, FlowEvent } from './events.js';
export type { FlowEventInit, FlowEventType, Middleware } from './events.js';
export { logFlowEvents } from './log-flow-events.js';
export type { LogFlowEventsOptions } from './log-flow-events.js';
export { ModelRegistry } from './registry.js';
export type { NodeSchemas } from './registry.js';
export { InMemoryStateStore, toStoredEvent } from './state-store.js';
export type { RemoteBinding, StateStore, StoredEvent } from './state-store.js';
export { joinK } from './join-k.js';
export { mapConcurrent } from './map-concurrent.js';
export type { MapConcurrentOptions } from './map-concurrent.js';
export { predicateRouter, unionRouter } from './routers.js';
export type { RouteTarget, RouterOptions } from './routers.js';
export { DictRoutingPolicy } from './routing-policy.js';
export type { DictRoutingPolicyOptions, RoutingPolicy, RoutingRequest } from './routing-policy.js';
export { callPlaybook } from './playbook.js';
export type { CallPlaybookOptions, PlaybookFactory } from './playbook.js';
export { defineFlow, FLOW_NAME_PATTERN, isFlowDefinition } from './define-flow.js';
export type { FlowBuildContext, FlowDefinition } from './define-flow.js';
