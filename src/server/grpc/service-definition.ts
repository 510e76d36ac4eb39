/**
 * The grpc-js service definition of `penguiflow.v1.FlowService`, built from
 * the protobuf-es descriptors (no proto-loader, no protobufjs): paths
 * `/penguiflow.v1.FlowService/<Method>`, bodies decoded with `fromBinary` of
 * the generated schemas and encoded with `toBinary`, or, for the server's
 * hot responses, with the byte-identical `wire-encoder.ts`.
 */
import { create, fromBinary, toBinary, type DescMessage, type DescMethod, type MessageInitShape, type MessageShape } from '@bufbuild/protobuf';
import type { MethodDefinition, ServiceDefinition } from '@grpc/grpc-js';
import { FlowService } from '../../gen/penguiflow/v1/flow_service_pb.js';
import { encodeResponse } from '../codec/wire-encoder.js';

type FlowMethods = typeof FlowService.method;

/** Local (lowerCamel) method names: `emit`, `fetch`, `call`, … */
export type FlowMethodName = keyof FlowMethods;

/** Request message type of a method. */
export type RequestOf<M extends FlowMethodName> = MessageShape<FlowMethods[M]['input']>;

/** Response message type of a method. */
export type ResponseOf<M extends FlowMethodName> = MessageShape<FlowMethods[M]['output']>;

/** Request init shape of a method (plain object accepted by `create`), for clients. */
export type RequestInit<M extends FlowMethodName> = MessageInitShape<FlowMethods[M]['input']>;

/**
 * A request as the server's deserializer hands it over. Decoding never
 * throws inside grpc-js (which would answer INTERNAL); a malformed body is
 * passed on as `error` so the handler can answer INVALID_ARGUMENT.
 */
export type DecodedRequest<T> =
  | { readonly ok: true; readonly message: T; readonly bytes: number }
  | { readonly ok: false; readonly error: Error; readonly bytes: number };

function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** The full method path grpc-js routes on, e.g. `/penguiflow.v1.FlowService/Emit`. */
export function methodPath(method: DescMethod): string {
  return `/${method.parent.typeName}/${method.name}`;
}

function serverMethod(method: DescMethod): MethodDefinition<DecodedRequest<MessageShape<DescMessage>>, MessageShape<DescMessage>> {
  const input = method.input;
  const output = method.output;
  return {
    path: methodPath(method),
    requestStream: method.methodKind === 'client_streaming' || method.methodKind === 'bidi_streaming',
    responseStream: method.methodKind === 'server_streaming' || method.methodKind === 'bidi_streaming',
    requestSerialize: (req) => toBuffer(toBinary(input, req.ok ? req.message : create(input))),
    requestDeserialize: (buf) => {
      try {
        return { ok: true, message: fromBinary(input, buf), bytes: buf.byteLength };
      } catch (err) {
        // Includes stack overflows from absurdly nested values.
        return { ok: false, error: err instanceof Error ? err : new Error(String(err)), bytes: buf.byteLength };
      }
    },
    // The hot responses have a hand-written encoder (same bytes, several
    // times faster); anything it does not cover goes through toBinary.
    responseSerialize: (res) => toBuffer(encodeResponse(output.typeName, res) ?? toBinary(output, res)),
    responseDeserialize: (buf) => fromBinary(output, buf),
    originalName: method.localName,
  };
}

function clientMethod(method: DescMethod): MethodDefinition<MessageInitShape<DescMessage>, MessageShape<DescMessage>> {
  const input = method.input;
  const output = method.output;
  return {
    path: methodPath(method),
    requestStream: method.methodKind === 'client_streaming' || method.methodKind === 'bidi_streaming',
    responseStream: method.methodKind === 'server_streaming' || method.methodKind === 'bidi_streaming',
    requestSerialize: (req) => toBuffer(toBinary(input, create(input, req))),
    requestDeserialize: (buf) => fromBinary(input, buf),
    responseSerialize: (res) => toBuffer(toBinary(output, res)),
    responseDeserialize: (buf) => fromBinary(output, buf),
    originalName: method.localName,
  };
}

/**
 * The definition the server registers: keyed by proto method name (`Emit`,
 * …), requests decoded into {@link DecodedRequest}.
 */
export function flowServiceServerDefinition(): ServiceDefinition {
  return Object.fromEntries(FlowService.methods.map((m) => [m.name, serverMethod(m)]));
}

/**
 * The same service for a grpc-js client (tests, tools): keyed by proto
 * method name; requests are plain init objects (`create` shape), responses
 * the generated message types. Use with `makeGenericClientConstructor`.
 */
export function flowServiceClientDefinition(): ServiceDefinition {
  return Object.fromEntries(FlowService.methods.map((m) => [m.name, clientMethod(m)]));
}
