// Client behaviour against an in-memory connect router (no sockets): headers,
// timeouts, signals, early stream exit, close(), and error mapping. The real
// server is exercised in test/integration/client-*.test.ts.
import { describe, expect, it } from 'vitest';
import { Code, ConnectError, createRouterTransport } from '@connectrpc/connect';
import type { HandlerContext, ServiceImpl } from '@connectrpc/connect';
import { create } from '@bufbuild/protobuf';
import { createFlowClient, FlowClientError } from '../src/index.js';
import type { FlowClient, TraceUpdate } from '../src/index.js';
import { FlowService } from '../src/gen/penguiflow/v1/flow_service_pb.js';
import { ErrorInfoSchema } from '../src/gen/google/rpc/error_details_pb.js';
import { TraceStatus } from '../src/gen/penguiflow/v1/messages_pb.js';
import { valueToJson } from '../src/convert.js';

type Impl = Partial<ServiceImpl<typeof FlowService>>;

function clientWith(impl: Impl, opts: { token?: string | (() => Promise<string>); tenant?: string; defaultTimeoutMs?: number } = {}): FlowClient {
  const transport = createRouterTransport(({ service }) => {
    service(FlowService, impl);
  });
  return createFlowClient({ transport, ...opts });
}

function waitForAbort(ctx: HandlerContext): Promise<never> {
  return new Promise((_resolve, reject) => {
    ctx.signal.addEventListener('abort', () => reject(new ConnectError('aborted', Code.Canceled)), { once: true });
  });
}

async function rejection(p: Promise<unknown>): Promise<FlowClientError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(FlowClientError);
    return err as FlowClientError;
  }
  throw new Error('expected a rejection');
}

describe('createFlowClient (in-memory transport)', () => {
  it('sends the bearer token and tenant headers and the message', async () => {
    let seen: { auth: string | null; tenant: string | null; payload: unknown; key: string | undefined } | undefined;
    const client = clientWith(
      {
        emit(req, ctx) {
          seen = {
            auth: ctx.requestHeader.get('authorization'),
            tenant: ctx.requestHeader.get('x-tenant-id'),
            payload: valueToJson(req.message?.payload),
            key: req.idempotencyKey,
          };
          return { traceId: 'abc', deduplicated: true };
        },
      },
      { token: async () => 'tok-1', tenant: 'acme' },
    );
    await expect(client.emit('echo', { hi: [1] }, { idempotencyKey: 'k' })).resolves.toEqual({ traceId: 'abc', deduplicated: true });
    expect(seen).toEqual({ auth: 'Bearer tok-1', tenant: 'acme', payload: { hi: [1] }, key: 'k' });
  });

  it('fails with UNAUTHENTICATED, without sending, when the token provider throws', async () => {
    let called = false;
    const client = createFlowClient({
      transport: createRouterTransport(({ service }) => service(FlowService, { listFlows: () => ((called = true), { flows: [] }) })),
      token: () => {
        throw new Error('vault down');
      },
    });
    const err = await rejection(client.listFlows());
    expect([err.code, err.clientSide, called]).toEqual(['UNAUTHENTICATED', true, false]);
  });

  it('maps timeoutMs to DEADLINE_EXCEEDED and applies defaultTimeoutMs', async () => {
    const client = clientWith({ fetch: (_req, ctx) => waitForAbort(ctx) }, { defaultTimeoutMs: 50 });
    const t0 = Date.now();
    expect((await rejection(client.fetch('f', 't'))).code).toBe('DEADLINE_EXCEEDED');
    expect((await rejection(client.fetch('f', 't', { timeoutMs: 20 }))).code).toBe('DEADLINE_EXCEEDED');
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  it('maps a signal abort to CANCELLED whatever the abort reason', async () => {
    const client = clientWith({ fetch: (_req, ctx) => waitForAbort(ctx) });
    const ac = new AbortController();
    const p = client.fetch('f', 't', { signal: ac.signal });
    setTimeout(() => ac.abort(new Error('user went away')), 10);
    const err = await rejection(p);
    expect(err.code).toBe('CANCELLED');
    expect((await rejection(client.fetch('f', 't', { signal: AbortSignal.abort('already') }))).code).toBe('CANCELLED');
  });

  it('cancels the RPC when the consumer leaves a stream early', async () => {
    let serverSawAbort = false;
    const client = clientWith({
      async *callStream(_req, ctx) {
        ctx.signal.addEventListener('abort', () => (serverSawAbort = true));
        for (let seq = 0n; ; seq++) {
          yield { traceId: 'tr', update: { update: { case: 'chunk', value: { streamId: 's', seq, text: 'x' } } } };
          await new Promise((r) => setTimeout(r, 5));
          if (ctx.signal.aborted) return;
        }
      },
    });
    const got: TraceUpdate[] = [];
    for await (const u of client.callStream('stream', null)) {
      got.push(u);
      if (got.length === 3) break;
    }
    expect(got.map((u) => (u.kind === 'chunk' ? u.chunk.seq : -1))).toEqual([0, 1, 2]);
    await expect.poll(() => serverSawAbort).toBe(true);
  });

  it('rejects a trace stream that closes without a TraceEnd', async () => {
    const client = clientWith({
      async *streamTrace() {
        yield { traceId: 'tr', update: { update: { case: 'output', value: {} } } };
      },
    });
    const kinds: string[] = [];
    const err = await rejection(
      (async () => {
        for await (const u of client.streamTrace('f', 'tr')) kinds.push(u.kind);
      })(),
    );
    expect(kinds).toEqual(['output']);
    expect(err.code).toBe('INTERNAL');
  });

  it('passes a complete stream through, ending with the TraceEnd', async () => {
    const client = clientWith({
      async *streamTrace() {
        yield { traceId: 'tr', update: { update: { case: 'end', value: { status: TraceStatus.COMPLETED } } } };
      },
    });
    const got: TraceUpdate[] = [];
    for await (const u of client.streamTrace('f', 'tr')) got.push(u);
    expect(got).toEqual([{ kind: 'end', traceId: 'tr', end: { status: 'COMPLETED', error: undefined } }]);
  });

  it('starts one RPC per iteration of a stream, lazily', async () => {
    let opened = 0;
    const client = clientWith({
      async *streamTrace() {
        opened++;
        yield { traceId: 'tr', update: { update: { case: 'end', value: { status: TraceStatus.COMPLETED } } } };
      },
    });
    const stream = client.streamTrace('f', 'tr');
    await new Promise((r) => setTimeout(r, 10));
    expect(opened).toBe(0);
    for (let i = 0; i < 2; i++) {
      const kinds: string[] = [];
      for await (const u of stream) kinds.push(u.kind);
      expect(kinds).toEqual(['end']);
    }
    expect(opened).toBe(2);
  });

  it('does not apply defaultTimeoutMs to subscribeEvents', async () => {
    const client = clientWith(
      {
        async *subscribeEvents(req) {
          await new Promise((r) => setTimeout(r, 80));
          yield { event: { eventType: 'node_start', seq: req.afterSeq + 1n, traceId: 't' } };
        },
      },
      { defaultTimeoutMs: 20 },
    );
    const seqs: number[] = [];
    for await (const ev of client.subscribeEvents({ afterSeq: 41 })) seqs.push(ev.seq);
    expect(seqs).toEqual([42]);
  });

  it('close() cancels in-flight calls with CANCELLED', async () => {
    let started = false;
    const client = clientWith({
      fetch: (_req, ctx) => {
        started = true;
        return waitForAbort(ctx);
      },
    });
    const p = client.fetch('f', 't');
    await expect.poll(() => started).toBe(true);
    client.close();
    client.close();
    expect(client.closed).toBe(true);
    expect((await rejection(p)).code).toBe('CANCELLED');
  });

  it('rejects every call after close() with FAILED_PRECONDITION "the client is closed", without sending it', async () => {
    const sent: string[] = [];
    const record = (method: string) => () => {
      sent.push(method);
      throw new ConnectError('should not be reached', Code.Internal);
    };
    const client = clientWith({
      emit: record('emit'),
      fetch: record('fetch'),
      call: record('call'),
      cancel: record('cancel'),
      getHistory: record('getHistory'),
      listFlows: record('listFlows'),
      callStream: record('callStream'),
      streamTrace: record('streamTrace'),
      subscribeEvents: record('subscribeEvents'),
    });
    client.close();
    const drain = async (it: AsyncIterable<unknown>): Promise<void> => {
      for await (const _ of it) {
        // nothing: the first step must throw
      }
    };
    const calls: Promise<unknown>[] = [
      client.emit('echo', 1),
      client.fetch('echo', 't'),
      client.call('echo', 1),
      client.cancel('echo', 't'),
      client.getHistory('echo', 't'),
      client.listFlows(),
      drain(client.callStream('echo', 1)),
      drain(client.streamTrace('echo', 't')),
      drain(client.subscribeEvents()),
    ];
    for (const p of calls) {
      const err = await rejection(p);
      expect([err.code, err.grpcStatus, err.serverMessage, err.clientSide]).toEqual([
        'FAILED_PRECONDITION',
        9,
        'the client is closed',
        true,
      ]);
    }
    expect(sent).toEqual([]);
  });

  it('surfaces server errors with their details', async () => {
    const client = clientWith({
      cancel() {
        throw new ConnectError('trace cancelled', Code.Canceled, undefined, [
          { desc: ErrorInfoSchema, value: create(ErrorInfoSchema, { reason: 'TRACE_CANCELLED', domain: 'penguiflow' }) },
        ]);
      },
    });
    const err = await rejection(client.cancel('f', 't'));
    expect(err.code).toBe('CANCELLED');
    expect(err.details.flowErrorCode).toBe('TRACE_CANCELLED');
    expect(err.details.errorInfo?.domain).toBe('penguiflow');
  });

  it('validates constructor options', () => {
    expect(() => createFlowClient({})).toThrow(FlowClientError);
    expect(() => createFlowClient({ baseUrl: 'localhost:50051' })).toThrow(/http/);
    expect(() => createFlowClient({ baseUrl: 'http://localhost:1', defaultTimeoutMs: Number.NaN })).toThrow(FlowClientError);
  });
});
