/**
 * ServiceError as a grpc-js status: code, message and the
 * `grpc-status-details-bin` / `grpc-retry-pushback-ms` trailers.
 */
import { create, toBinary } from '@bufbuild/protobuf';
import { anyPack, durationFromMs } from '@bufbuild/protobuf/wkt';
import { Metadata, type status as GrpcStatus } from '@grpc/grpc-js';
import { BadRequestSchema, ErrorInfoSchema, QuotaFailureSchema, RetryInfoSchema } from '../../gen/google/rpc/error_details_pb.js';
import { StatusSchema } from '../../gen/google/rpc/status_pb.js';
import { ERROR_DOMAIN, grpcCodeOf, RETRY_PUSHBACK_TRAILER, STATUS_DETAILS_TRAILER, type ServiceError } from '../../rpc/service-error.js';

/** What grpc-js needs to fail a call: code, details and trailers. */
export interface GrpcStatusObject {
  code: GrpcStatus;
  details: string;
  /** Also the `message` so grpc-js' `serverErrorToStatus` reads it either way. */
  message: string;
  metadata: Metadata;
}

/**
 * Encodes a {@link ServiceError} as a grpc-js status with a
 * `grpc-status-details-bin` trailer holding a `google.rpc.Status` whose
 * details are `ErrorInfo` (always), `BadRequest` (when there are field
 * violations), `RetryInfo` and `QuotaFailure` (when set).
 */
export function toGrpcStatus(err: ServiceError): GrpcStatusObject {
  const code = grpcCodeOf(err.code) as GrpcStatus;
  const details = [
    anyPack(ErrorInfoSchema, create(ErrorInfoSchema, { reason: err.reason, domain: ERROR_DOMAIN, metadata: { ...err.metadata } })),
  ];
  if (err.fieldViolations.length > 0) {
    details.push(anyPack(BadRequestSchema, create(BadRequestSchema, { fieldViolations: err.fieldViolations.map((v) => ({ ...v })) })));
  }
  if (err.retryDelayMs !== undefined) {
    details.push(anyPack(RetryInfoSchema, create(RetryInfoSchema, { retryDelay: durationFromMs(Math.max(0, Math.round(err.retryDelayMs))) })));
  }
  if (err.quotaViolations.length > 0) {
    details.push(anyPack(QuotaFailureSchema, create(QuotaFailureSchema, { violations: err.quotaViolations.map((v) => ({ ...v })) })));
  }
  const encoded = toBinary(StatusSchema, create(StatusSchema, { code, message: err.message, details }));
  const metadata = new Metadata();
  metadata.set(STATUS_DETAILS_TRAILER, Buffer.from(encoded.buffer, encoded.byteOffset, encoded.byteLength));
  // gRPC's retry pushback (A6): clients with a retry policy wait this long.
  if (err.retryDelayMs !== undefined) metadata.set(RETRY_PUSHBACK_TRAILER, String(Math.max(0, Math.round(err.retryDelayMs))));
  return { code, details: err.message, message: err.message, metadata };
}
