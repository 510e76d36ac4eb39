/**
 * A minimal gRPC server-reflection client (what `grpcurl list` and
 * `grpcurl describe` do), hand-encoded so the tests need no reflection
 * protos.
 */
import { fromBinary } from '@bufbuild/protobuf';
import { BinaryReader, BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import { FileDescriptorProtoSchema, type FileDescriptorProto } from '@bufbuild/protobuf/wkt';
import * as grpc from '@grpc/grpc-js';

const PATH = '/grpc.reflection.v1.ServerReflection/ServerReflectionInfo';

interface ReflectionAnswer {
  services: string[];
  files: FileDescriptorProto[];
  errorCode: number | undefined;
}

function parseAnswer(buf: Buffer): ReflectionAnswer {
  const out: ReflectionAnswer = { services: [], files: [], errorCode: undefined };
  const r = new BinaryReader(buf);
  while (r.pos < r.len) {
    const [field, type] = r.tag();
    if (field === 6) {
      const list = new BinaryReader(r.bytes());
      while (list.pos < list.len) {
        const [f, t] = list.tag();
        if (f !== 1) {
          list.skip(t);
          continue;
        }
        const svc = new BinaryReader(list.bytes());
        while (svc.pos < svc.len) {
          const [sf, st] = svc.tag();
          if (sf === 1) out.services.push(svc.string());
          else svc.skip(st);
        }
      }
    } else if (field === 4) {
      const fdr = new BinaryReader(r.bytes());
      while (fdr.pos < fdr.len) {
        const [f, t] = fdr.tag();
        if (f === 1) out.files.push(fromBinary(FileDescriptorProtoSchema, fdr.bytes()));
        else fdr.skip(t);
      }
    } else if (field === 7) {
      const err = new BinaryReader(r.bytes());
      while (err.pos < err.len) {
        const [f, t] = err.tag();
        if (f === 1) out.errorCode = err.int32();
        else err.skip(t);
      }
    } else {
      r.skip(type);
    }
  }
  return out;
}

/** Sends one reflection request (`field` 7 = list_services, 4 = file_containing_symbol) and returns the parsed answer. */
export function reflect(address: string, field: 4 | 7, value: string): Promise<ReflectionAnswer> {
  const client = new grpc.Client(address, grpc.credentials.createInsecure());
  const call = client.makeBidiStreamRequest(
    PATH,
    (req: Buffer) => req,
    (res: Buffer) => res,
  );
  return new Promise<ReflectionAnswer>((resolve, reject) => {
    call.on('data', (buf: Buffer) => {
      resolve(parseAnswer(buf));
      call.end();
    });
    call.on('error', (err: Error) => reject(err));
    call.on('end', () => client.close());
    call.write(Buffer.from(new BinaryWriter().tag(field, WireType.LengthDelimited).string(value).finish()));
  });
}
