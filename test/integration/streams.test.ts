/**
 * CallStream and StreamTrace: ordering (chunks in seq order, then outputs,
 * then exactly one end), late subscription, and cancellation.
 */
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CallStreamResponse, StreamTraceResponse } from '../../src/gen/penguiflow/v1/flow_service_pb.js';
import { TraceStatus } from '../../src/gen/penguiflow/v1/messages_pb.js';
import { collectStream, grpcError } from './helpers/client.js';
import { eventually, handledCount, payloadOf, recordOf, startHarness, value, type Harness } from './helpers/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ queueMaxsize: 4 });
});
afterAll(async () => {
  await h.stop();
});

type Update = CallStreamResponse | StreamTraceResponse;

function shape(items: Update[]): string[] {
  return items.map((i) => i.update?.update.case ?? 'none');
}

function endStatus(items: Update[]): TraceStatus | undefined {
  const last = items.at(-1)?.update?.update;
  return last?.case === 'end' ? last.value.status : undefined;
}

describe('CallStream', () => {
  it('delivers every chunk in seq order, then the output, then exactly one end (more chunks than the queue size)', async () => {
    const n = 50;
    const { items, error } = await h.client.collect('CallStream', { flow: 'stream', message: { payload: value({ chunks: n }) } }, { timeoutMs: 5000 });
    expect(error).toBeUndefined();
    expect(shape(items)).toEqual([...Array<string>(n).fill('chunk'), 'output', 'end']);
    const seqs = items.flatMap((i) => (i.update?.update.case === 'chunk' ? [Number(i.update.update.value.seq)] : []));
    expect(seqs).toEqual(Array.from({ length: n }, (_, i) => i));
    const lastChunk = items[n - 1]?.update?.update;
    expect(lastChunk?.case === 'chunk' ? lastChunk.value.done : undefined).toBe(true);
    expect(new Set(items.map((i) => i.traceId)).size).toBe(1);
    expect(endStatus(items)).toBe(TraceStatus.COMPLETED);
  });

  it('streams the FlowError, then a FAILED end with the error', async () => {
    const { items, error } = await h.client.collect('CallStream', { flow: 'flaky', message: { payload: value({ failures: 9 }) } }, { timeoutMs: 5000 });
    expect(error).toBeUndefined();
    expect(shape(items)).toEqual(['error', 'end']);
    const end = items[1]?.update?.update;
    expect(end?.case === 'end' ? [end.value.status, end.value.error?.nodeName] : undefined).toEqual([TraceStatus.FAILED, 'flaky']);
  });

  it('ends with a CANCELLED end (status OK) when another caller cancels the trace', async () => {
    const call = h.client.stream('CallStream', { flow: 'stream', message: { payload: value({ chunks: 100, delayMs: 20 }) } }, { timeoutMs: 10_000 });
    const done = collectStream(call);
    let traceId = '';
    call.once('data', (m: CallStreamResponse) => (traceId = m.traceId));
    await eventually(() => traceId !== '');
    expect((await h.newClient().unary('Cancel', { flow: 'stream', traceId })).cancelled).toBe(true);
    const { items, error } = await done;
    expect(error).toBeUndefined();
    expect(endStatus(items)).toBe(TraceStatus.CANCELLED);
    expect(shape(items).filter((s) => s === 'end')).toHaveLength(1);
  });

  it('cancels the trace when the client cancels the stream mid-way', async () => {
    const call = h.client.stream('CallStream', { flow: 'stream', message: { payload: value({ chunks: 100, delayMs: 20 }) } }, { timeoutMs: 10_000 });
    const received: CallStreamResponse[] = [];
    call.on('data', (m: CallStreamResponse) => received.push(m));
    const ended = new Promise<grpc.ServiceError | undefined>((resolve) => {
      call.on('error', (e: grpc.ServiceError) => resolve(e));
      call.on('end', () => resolve(undefined));
    });
    await eventually(() => received.length >= 2);
    call.cancel();
    expect((await ended)?.code).toBe(grpc.status.CANCELLED);
    const traceId = received[0]!.traceId;
    await eventually(async () => {
      const err = await grpcError(h.client.unary('Fetch', { flow: 'stream', traceId }, { timeoutMs: 1000 })).catch(() => undefined);
      return err?.code === grpc.status.CANCELLED;
    });
    const history = await h.client.unary('GetHistory', { flow: 'stream', traceId });
    const types = history.events.map((e) => e.eventType);
    expect(types.filter((t) => t === 'trace_cancel_start')).toHaveLength(1);
    expect(types.filter((t) => t === 'trace_cancel_finish')).toHaveLength(1);
  });

  it('ends with a DEADLINE_EXCEEDED end when the message deadline passes first', async () => {
    const soon = Date.now() + 100;
    const deadline = { seconds: BigInt(Math.floor(soon / 1000)), nanos: (soon % 1000) * 1_000_000 };
    const { items, error } = await h.client.collect('CallStream', { flow: 'slow', message: { payload: value({ ms: 10_000 }), deadline } }, { timeoutMs: 5000 });
    expect(error).toBeUndefined();
    expect(shape(items)).toEqual(['output', 'end']);
    expect(endStatus(items)).toBe(TraceStatus.DEADLINE_EXCEEDED);
  });
});

describe('StreamTrace', () => {
  it('loses nothing when it subscribes right after Emit, even after the trace ended', async () => {
    const { traceId } = await h.client.unary('Emit', { flow: 'stream', message: { payload: value({ chunks: 3 }) } });
    // The trace ends before anyone reads it: its updates (3 chunks, the output) wait in the server.
    await eventually(() => {
      const record = recordOf(h.server, 'stream', traceId);
      return record?.buffered === 4 && h.server.flows.get('stream').flow.traceOutcome(record.key) !== undefined;
    });
    const { items, error } = await h.client.collect('StreamTrace', { flow: 'stream', traceId }, { timeoutMs: 2000 });
    expect(error).toBeUndefined();
    expect(shape(items)).toEqual(['chunk', 'chunk', 'chunk', 'output', 'end']);
    expect(payloadOf(items[3]?.update?.update.case === 'output' ? items[3].update.update.value : undefined)).toEqual({ text: 'chunk-0 chunk-1 chunk-2 ', chunks: 3 });
  });

  it('subscribes immediately after Emit on a live trace', async () => {
    const { traceId } = await h.client.unary('Emit', { flow: 'stream', message: { payload: value({ chunks: 5, delayMs: 5 }) } });
    const { items } = await h.client.collect('StreamTrace', { flow: 'stream', traceId }, { timeoutMs: 3000 });
    expect(shape(items)).toEqual(['chunk', 'chunk', 'chunk', 'chunk', 'chunk', 'output', 'end']);
  });

  it('does not repeat what Fetch already took, and sends the end of an ended trace at once', async () => {
    const { traceId } = await h.client.unary('Emit', { flow: 'stream', message: { payload: value({ chunks: 2 }) } });
    const first = await h.client.unary('Fetch', { flow: 'stream', traceId }, { timeoutMs: 2000 });
    expect(first.result.case === 'chunk' ? Number(first.result.value.seq) : -1).toBe(0);
    const rest = await h.client.collect('StreamTrace', { flow: 'stream', traceId }, { timeoutMs: 2000 });
    expect(shape(rest.items)).toEqual(['chunk', 'output', 'end']);
    const t0 = Date.now();
    const again = await h.client.collect('StreamTrace', { flow: 'stream', traceId }, { timeoutMs: 5000 });
    expect(shape(again.items)).toEqual(['end']);
    expect(Date.now() - t0).toBeLessThan(1000);
  });

  it('does not cancel the trace when the stream is cancelled; a new StreamTrace resumes', async () => {
    const { traceId } = await h.client.unary('Emit', { flow: 'stream', message: { payload: value({ chunks: 10, delayMs: 10 }) } });
    const call = h.client.stream('StreamTrace', { flow: 'stream', traceId }, { timeoutMs: 10_000 });
    const seen: StreamTraceResponse[] = [];
    call.on('data', (m: StreamTraceResponse) => seen.push(m));
    call.on('error', () => undefined);
    await eventually(() => seen.length >= 2);
    const cancelledBefore = await handledCount(h.server, 'StreamTrace', 'Canceled');
    call.cancel();
    // The server has seen the cancel and ended the first stream.
    await eventually(async () => (await handledCount(h.server, 'StreamTrace', 'Canceled')) === cancelledBefore + 1);
    const resumed = await h.client.collect('StreamTrace', { flow: 'stream', traceId }, { timeoutMs: 5000 });
    expect(endStatus(resumed.items)).toBe(TraceStatus.COMPLETED);
    const chunkSeqs = (items: StreamTraceResponse[]): number[] =>
      items.flatMap((i) => (i.update?.update.case === 'chunk' ? [Number(i.update.update.value.seq)] : []));
    const before = chunkSeqs(seen);
    const after = chunkSeqs(resumed.items);
    // Delivery is "handed to the transport": an update written before the
    // cancel reached the server is gone with the old stream. Nothing is
    // ever repeated, and the resumed stream picks up right after it.
    expect(after.at(-1)).toBe(9);
    expect(after[0]).toBeGreaterThan(before.at(-1)!);
    expect(after).toEqual([...after].sort((a, b) => a - b));
    expect(new Set([...before, ...after]).size).toBe(before.length + after.length);
  });

  it('answers NOT_FOUND for an unknown trace', async () => {
    const { error } = await h.client.collect('StreamTrace', { flow: 'stream', traceId: 'never-emitted' }, { timeoutMs: 2000 });
    expect(error?.code).toBe(grpc.status.NOT_FOUND);
  });
});
