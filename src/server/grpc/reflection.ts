/**
 * Server reflection (`grpc.reflection.v1` and `v1alpha`) fed from the
 * protobuf-es descriptors, so `grpcurl -plaintext host:port list` and
 * `describe` work without .proto files on the client.
 */
import { toBinary, type DescFile } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema } from '@bufbuild/protobuf/wkt';
import type { Server } from '@grpc/grpc-js';
import { ReflectionService } from '@grpc/reflection';
import { file_google_rpc_error_details } from '../../gen/google/rpc/error_details_pb.js';
import { file_google_rpc_status } from '../../gen/google/rpc/status_pb.js';
import { file_penguiflow_v1_flow_service } from '../../gen/penguiflow/v1/flow_service_pb.js';

type PackageDefinition = ConstructorParameters<typeof ReflectionService>[0];

/** Every file `roots` need, dependencies first, each once. */
function withDependencies(roots: readonly DescFile[]): DescFile[] {
  const seen = new Set<string>();
  const out: DescFile[] = [];
  const visit = (file: DescFile): void => {
    if (seen.has(file.name)) return;
    seen.add(file.name);
    for (const dep of file.dependencies) visit(dep);
    out.push(file);
  };
  roots.forEach(visit);
  return out;
}

/**
 * Registers reflection for FlowService (and the google.rpc detail types
 * clients decode from error trailers) on `server`.
 *
 * @grpc/reflection reads proto-loader package definitions, of which it
 * only uses `fileDescriptorProtos`; this builds that one field from the
 * generated descriptors (the cast is the price of skipping proto-loader).
 */
export function addReflection(server: Server): void {
  const files = withDependencies([file_penguiflow_v1_flow_service, file_google_rpc_status, file_google_rpc_error_details]);
  const fileDescriptorProtos = files.map((f) => Buffer.from(toBinary(FileDescriptorProtoSchema, f.proto)));
  const pkg = {
    'penguiflow.v1.FlowService': { format: 'Protocol Buffer 3 DescriptorProto', type: {}, fileDescriptorProtos },
  } as unknown as PackageDefinition;
  new ReflectionService(pkg).addToServer(server);
}
