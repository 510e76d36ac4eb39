/**
 * A grpc-js client for the integration tests, built from the same
 * hand-made service definition the server registers, plus helpers to read
 * `google.rpc` error details.
 */
import { anyUnpack } from '@bufbuild/protobuf/wkt';
import { fromBinary } from '@bufbuild/protobuf';
import * as grpc from '@grpc/grpc-js';
import {
  BadRequestSchema,
  ErrorInfoSchema,
  QuotaFailureSchema,
  RetryInfoSchema,
  type BadRequest,
  type ErrorInfo,
  type QuotaFailure,
  type RetryInfo,
} from '../../../src/gen/google/rpc/error_details_pb.js';
import { StatusSchema } from '../../../src/gen/google/rpc/status_pb.js';
import { flowServiceClientDefinition, type FlowMethodName, type RequestInit, type ResponseOf } from '../../../src/server/index.js';

/** Unary RPCs by proto name. */
export type UnaryRpc = 'Emit' | 'Fetch' | 'Call' | 'Cancel' | 'GetHistory' | 'ListFlows';
/** Server-streaming RPCs by proto name. */
export type StreamRpc = 'CallStream' | 'StreamTrace' | 'SubscribeEvents';

type Local<M extends string> = Uncapitalize<M> & FlowMethodName;

/** Per-call options. */
export interface CallOptions {
  /** Sent as x-tenant-id. */
  tenant?: string;
  /** Deadline relative to now. */
  timeoutMs?: number;
  /** Extra metadata. */
  metadata?: Record<string, string>;
}

/** A finished stream: what arrived, and the error it ended with (if any). */
export interface StreamResult<T> {
  items: T[];
  error: grpc.ServiceError | undefined;
}

/** Decoded `grpc-status-details-bin`. */
export interface ErrorDetails {
  errorInfo: ErrorInfo | undefined;
  badRequest: BadRequest | undefined;
  retryInfo: RetryInfo | undefined;
  quotaFailure: QuotaFailure | undefined;
}

type AnyClient = grpc.Client & Record<string, (...args: unknown[]) => unknown>;

const Ctor = grpc.makeGenericClientConstructor(flowServiceClientDefinition(), 'FlowService');

/** A FlowService client bound to one address. */
export class TestClient {
  readonly raw: AnyClient;

  constructor(address: string, credentials: grpc.ChannelCredentials = grpc.credentials.createInsecure(), options: grpc.ClientOptions = {}) {
    this.raw = new Ctor(address, credentials, options) as unknown as AnyClient;
  }

  static options(opts: CallOptions = {}): { metadata: grpc.Metadata; callOptions: grpc.CallOptions } {
    const metadata = new grpc.Metadata();
    if (opts.tenant !== undefined) metadata.set('x-tenant-id', opts.tenant);
    for (const [k, v] of Object.entries(opts.metadata ?? {})) metadata.set(k, v);
    const callOptions: grpc.CallOptions = {};
    if (opts.timeoutMs !== undefined) callOptions.deadline = Date.now() + opts.timeoutMs;
    return { metadata, callOptions };
  }

  /** Calls a unary RPC; rejects with the grpc ServiceError. */
  unary<M extends UnaryRpc>(method: M, request: RequestInit<Local<M>>, opts: CallOptions = {}): Promise<ResponseOf<Local<M>>> {
    const { metadata, callOptions } = TestClient.options(opts);
    return new Promise((resolve, reject) => {
      const fn = this.raw[method]!;
      fn.call(this.raw, request, metadata, callOptions, (err: grpc.ServiceError | null, res: ResponseOf<Local<M>>) => (err ? reject(err) : resolve(res)));
    });
  }

  /** Starts a server-streaming RPC. */
  stream<M extends StreamRpc>(method: M, request: RequestInit<Local<M>>, opts: CallOptions = {}): grpc.ClientReadableStream<ResponseOf<Local<M>>> {
    const { metadata, callOptions } = TestClient.options(opts);
    const fn = this.raw[method]!;
    return fn.call(this.raw, request, metadata, callOptions) as grpc.ClientReadableStream<ResponseOf<Local<M>>>;
  }

  /** Runs a stream to its end and collects everything. */
  collect<M extends StreamRpc>(method: M, request: RequestInit<Local<M>>, opts: CallOptions = {}): Promise<StreamResult<ResponseOf<Local<M>>>> {
    const call = this.stream(method, request, opts);
    return collectStream(call);
  }

  close(): void {
    this.raw.close();
  }
}

/** Collects a stream's messages until it ends (OK or error). */
export function collectStream<T>(call: grpc.ClientReadableStream<T>): Promise<StreamResult<T>> {
  return new Promise((resolve) => {
    const items: T[] = [];
    let error: grpc.ServiceError | undefined;
    call.on('data', (m: T) => items.push(m));
    call.on('error', (e: grpc.ServiceError) => (error = e));
    call.on('status', () => {
      // 'status' arrives after the last 'data'/'error'.
      setImmediate(() => resolve({ items, error }));
    });
  });
}

/** Expects `promise` to reject with a grpc error; returns it. */
export async function grpcError(promise: Promise<unknown>): Promise<grpc.ServiceError> {
  try {
    await promise;
  } catch (err) {
    return err as grpc.ServiceError;
  }
  throw new Error('expected the call to fail');
}

/** Decodes the google.rpc details of a failed call. */
export function errorDetails(err: grpc.ServiceError): ErrorDetails {
  const raw = err.metadata?.get('grpc-status-details-bin')[0];
  const out: ErrorDetails = { errorInfo: undefined, badRequest: undefined, retryInfo: undefined, quotaFailure: undefined };
  if (!(raw instanceof Buffer)) return out;
  const status = fromBinary(StatusSchema, raw);
  for (const any of status.details) {
    out.errorInfo ??= anyUnpack(any, ErrorInfoSchema);
    out.badRequest ??= anyUnpack(any, BadRequestSchema);
    out.retryInfo ??= anyUnpack(any, RetryInfoSchema);
    out.quotaFailure ??= anyUnpack(any, QuotaFailureSchema);
  }
  return out;
}

/** Field paths of the BadRequest violations of `err`. */
export function violatedFields(err: grpc.ServiceError): string[] {
  return errorDetails(err).badRequest?.fieldViolations.map((v) => v.field) ?? [];
}
