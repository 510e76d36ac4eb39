/**
 * The bare baseline of `bench/grpc.ts`: a grpc-js server that registers
 * FlowService with the very same service definition (and so the same
 * protobuf-es serialization) as the real server, but implements only
 *
 * - `Call`: answers at once with a `CallResponse` whose output is the
 *   request's message (trace id kept as sent);
 * - `CallStream`: sends `payload.chunks` chunk updates (default 5), then one
 *   output and one end, i.e. the same messages the `stream` demo flow
 *   produces, honouring transport backpressure.
 *
 * No flows, interceptors, validation or logging: it is the floor a grpc-js
 * service with this contract can reach on this machine. Prints
 * `{"port":N}` on stdout once bound; exits on SIGTERM.
 *
 *   node --import tsx bench/grpc-baseline-server.ts
 */
import { Server, ServerCredentials, type ServerUnaryCall, type ServerWritableStream, type sendUnaryData } from '@grpc/grpc-js';
import type { CallRequest, CallResponse, CallStreamRequest, CallStreamResponse } from '../src/gen/penguiflow/v1/flow_service_pb.js';
import type { Message } from '../src/gen/penguiflow/v1/messages_pb.js';
import { flowServiceServerDefinition, type DecodedRequest } from '../src/server/grpc/service-definition.js';

function chunksOf(message: Message | undefined): number {
  const payload = message?.payload;
  if (payload?.kind.case !== 'structValue') return 5;
  const chunks = payload.kind.value.fields.chunks;
  return chunks?.kind.case === 'numberValue' ? Math.max(0, Math.min(10_000, Math.trunc(chunks.kind.value))) : 5;
}

function call(req: ServerUnaryCall<DecodedRequest<CallRequest>, CallResponse>, callback: sendUnaryData<CallResponse>): void {
  const decoded = req.request;
  if (!decoded.ok || decoded.message.message === undefined) {
    callback({ code: 3, details: 'bad request' });
    return;
  }
  const message = decoded.message.message;
  callback(null, { $typeName: 'penguiflow.v1.CallResponse', traceId: message.traceId, result: { case: 'output', value: message } });
}

function callStream(stream: ServerWritableStream<DecodedRequest<CallStreamRequest>, CallStreamResponse>): void {
  const decoded = stream.request;
  if (!decoded.ok || decoded.message.message === undefined) {
    stream.emit('error', { code: 3, details: 'bad request' });
    return;
  }
  const message = decoded.message.message;
  const traceId = message.traceId;
  const total = chunksOf(message);
  const parts: string[] = [];
  let i = 0;
  const pump = (): void => {
    while (i < total) {
      if (stream.cancelled) return;
      const text = `chunk-${i} `;
      parts.push(text);
      const chunk: CallStreamResponse = {
        $typeName: 'penguiflow.v1.CallStreamResponse',
        traceId,
        update: {
          $typeName: 'penguiflow.v1.TraceUpdate',
          update: { case: 'chunk', value: { $typeName: 'penguiflow.v1.StreamChunk', streamId: traceId, seq: BigInt(i), text, done: i === total - 1 } },
        },
      };
      i++;
      if (!stream.write(chunk)) {
        stream.once('drain', pump);
        return;
      }
    }
    const output: Message = {
      ...message,
      payload: {
        $typeName: 'google.protobuf.Value',
        kind: {
          case: 'structValue',
          value: {
            $typeName: 'google.protobuf.Struct',
            fields: {
              text: { $typeName: 'google.protobuf.Value', kind: { case: 'stringValue', value: parts.join('') } },
              chunks: { $typeName: 'google.protobuf.Value', kind: { case: 'numberValue', value: total } },
            },
          },
        },
      },
    };
    stream.write({ $typeName: 'penguiflow.v1.CallStreamResponse', traceId, update: { $typeName: 'penguiflow.v1.TraceUpdate', update: { case: 'output', value: output } } });
    stream.write({
      $typeName: 'penguiflow.v1.CallStreamResponse',
      traceId,
      // TraceStatus.COMPLETED = 1
      update: { $typeName: 'penguiflow.v1.TraceUpdate', update: { case: 'end', value: { $typeName: 'penguiflow.v1.TraceEnd', status: 1, error: undefined } } },
    });
    stream.end();
  };
  pump();
}

const server = new Server();
server.addService(flowServiceServerDefinition(), { Call: call, CallStream: callStream });
server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, port) => {
  if (err) {
    process.stderr.write(`baseline server: bind failed: ${err.message}\n`);
    process.exit(1);
  }
  process.stdout.write(`${JSON.stringify({ port })}\n`);
});
process.on('SIGTERM', () => server.tryShutdown(() => process.exit(0)));
