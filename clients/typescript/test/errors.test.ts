import { describe, expect, it } from 'vitest';
import { Code, ConnectError } from '@connectrpc/connect';
import { create, toBinary } from '@bufbuild/protobuf';
import { durationFromMs } from '@bufbuild/protobuf/wkt';
import { FlowClientError, decodeErrorDetails } from '../src/index.js';
import {
  BadRequestSchema,
  ErrorInfoSchema,
  QuotaFailureSchema,
  RetryInfoSchema,
} from '../src/gen/google/rpc/error_details_pb.js';

function incoming(code: Code, message: string, details: { type: string; value: Uint8Array }[]): ConnectError {
  const err = new ConnectError(message, code);
  err.details = details;
  return err;
}

describe('FlowClientError', () => {
  it('maps ConnectError codes to gRPC names and keeps the raw message', () => {
    const e = FlowClientError.from(new ConnectError('unknown flow "nope"', Code.NotFound));
    expect(e).toBeInstanceOf(FlowClientError);
    expect(e).toBeInstanceOf(Error);
    expect(e.name).toBe('FlowClientError');
    expect(e.code).toBe('NOT_FOUND');
    expect(e.grpcStatus).toBe(5);
    expect(e.serverMessage).toBe('unknown flow "nope"');
    expect(e.message).toBe('NOT_FOUND: unknown flow "nope"');
    expect(e.clientSide).toBe(false);
    expect(e.cause).toBeInstanceOf(ConnectError);
  });

  it.each([
    [Code.Canceled, 'CANCELLED', 1],
    [Code.InvalidArgument, 'INVALID_ARGUMENT', 3],
    [Code.DeadlineExceeded, 'DEADLINE_EXCEEDED', 4],
    [Code.PermissionDenied, 'PERMISSION_DENIED', 7],
    [Code.ResourceExhausted, 'RESOURCE_EXHAUSTED', 8],
    [Code.Unavailable, 'UNAVAILABLE', 14],
    [Code.Unauthenticated, 'UNAUTHENTICATED', 16],
  ] as const)('maps code %i to %s', (code, name, num) => {
    const e = FlowClientError.from(new ConnectError('m', code));
    expect([e.code, e.grpcStatus]).toEqual([name, num]);
  });

  it('decodes ErrorInfo, BadRequest, RetryInfo and QuotaFailure details', () => {
    const e = FlowClientError.from(
      incoming(Code.ResourceExhausted, 'busy', [
        {
          type: 'google.rpc.ErrorInfo',
          value: toBinary(
            ErrorInfoSchema,
            create(ErrorInfoSchema, { reason: 'TRACE_CANCELLED', domain: 'penguiflow', metadata: { k: 'v' } }),
          ),
        },
        {
          type: 'google.rpc.BadRequest',
          value: toBinary(
            BadRequestSchema,
            create(BadRequestSchema, { fieldViolations: [{ field: 'message.trace_id', description: 'bad chars' }] }),
          ),
        },
        {
          type: 'google.rpc.RetryInfo',
          value: toBinary(RetryInfoSchema, create(RetryInfoSchema, { retryDelay: durationFromMs(1500) })),
        },
        {
          type: 'google.rpc.QuotaFailure',
          value: toBinary(
            QuotaFailureSchema,
            create(QuotaFailureSchema, { violations: [{ subject: 'tenant:acme', description: 'too many' }] }),
          ),
        },
        { type: 'google.rpc.DebugInfo', value: new Uint8Array([1, 2]) },
      ]),
    );
    expect(e.details).toStrictEqual({
      errorInfo: { reason: 'TRACE_CANCELLED', domain: 'penguiflow', metadata: { k: 'v' } },
      flowErrorCode: 'TRACE_CANCELLED',
      fieldViolations: [{ field: 'message.trace_id', description: 'bad chars' }],
      retryDelayMs: 1500,
      quotaViolations: [{ subject: 'tenant:acme', description: 'too many' }],
      raw: [{ type: 'google.rpc.DebugInfo', value: new Uint8Array([1, 2]) }],
    });
  });

  it('reads the FlowError code from a prefixed reason or from metadata', () => {
    const info = (reason: string, metadata: Record<string, string> = {}) => ({
      type: 'google.rpc.ErrorInfo',
      value: toBinary(ErrorInfoSchema, create(ErrorInfoSchema, { reason, metadata })),
    });
    expect(decodeErrorDetails([info('FLOW_ERROR_CODE_NODE_TIMEOUT')]).flowErrorCode).toBe('NODE_TIMEOUT');
    expect(decodeErrorDetails([info('CANCELLED', { flow_error_code: 'TRACE_CANCELLED' })]).flowErrorCode).toBe(
      'TRACE_CANCELLED',
    );
    expect(decodeErrorDetails([info('UNKNOWN_FLOW')]).flowErrorCode).toBeUndefined();
  });

  it('drops a malformed detail of a known type instead of throwing, and still decodes the others', () => {
    const bad = { type: 'google.rpc.BadRequest', value: new Uint8Array([0x0a, 0xff]) };
    const retry = {
      type: 'google.rpc.RetryInfo',
      value: toBinary(RetryInfoSchema, create(RetryInfoSchema, { retryDelay: durationFromMs(250) })),
    };
    const d = decodeErrorDetails([bad, retry]);
    expect(d.fieldViolations).toEqual([]);
    expect(d.retryDelayMs).toBe(250);
    expect(d.raw).toEqual([]);
  });

  it('concatenates repeated list details and keeps the first ErrorInfo and RetryInfo', () => {
    const detail = (type: string, value: Uint8Array) => ({ type, value });
    const d = decodeErrorDetails([
      detail('google.rpc.ErrorInfo', toBinary(ErrorInfoSchema, create(ErrorInfoSchema, { reason: 'FIRST' }))),
      detail('google.rpc.RetryInfo', toBinary(RetryInfoSchema, create(RetryInfoSchema, {}))),
      detail('google.rpc.RetryInfo', toBinary(RetryInfoSchema, create(RetryInfoSchema, { retryDelay: durationFromMs(40) }))),
      detail('google.rpc.ErrorInfo', toBinary(ErrorInfoSchema, create(ErrorInfoSchema, { reason: 'SECOND' }))),
      detail('google.rpc.RetryInfo', toBinary(RetryInfoSchema, create(RetryInfoSchema, { retryDelay: durationFromMs(90) }))),
      detail(
        'google.rpc.QuotaFailure',
        toBinary(QuotaFailureSchema, create(QuotaFailureSchema, { violations: [{ subject: 'a', description: '1' }] })),
      ),
      detail(
        'google.rpc.QuotaFailure',
        toBinary(QuotaFailureSchema, create(QuotaFailureSchema, { violations: [{ subject: 'b', description: '2' }] })),
      ),
    ]);
    expect(d.errorInfo?.reason).toBe('FIRST');
    expect(d.retryDelayMs).toBe(40);
    expect(d.quotaViolations.map((v) => v.subject)).toEqual(['a', 'b']);
  });

  it('decodes details a ConnectError carries as outgoing messages (desc + value)', () => {
    const err = new ConnectError('busy', Code.ResourceExhausted, undefined, [
      { desc: RetryInfoSchema, value: { retryDelay: durationFromMs(700) } },
    ]);
    expect(FlowClientError.from(err).details.retryDelayMs).toBe(700);
  });

  it('turns AbortError into CANCELLED and anything else into UNKNOWN', () => {
    const abort = new Error('aborted');
    abort.name = 'AbortError';
    expect(FlowClientError.from(abort).code).toBe('CANCELLED');
    expect(FlowClientError.from(new TypeError('boom')).code).toBe('UNKNOWN');
    expect(FlowClientError.from('str').serverMessage).toBe('str');
  });

  it('returns an existing FlowClientError unchanged', () => {
    const e = new FlowClientError('INTERNAL', 'x');
    expect(FlowClientError.from(e)).toBe(e);
    expect(e.details).toStrictEqual({
      errorInfo: undefined,
      flowErrorCode: undefined,
      fieldViolations: [],
      retryDelayMs: undefined,
      quotaViolations: [],
      raw: [],
    });
  });
});
