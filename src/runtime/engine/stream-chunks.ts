import type { EmitChunkArgs } from '../context.js';
import type { Message, StreamChunk } from '../message.js';
import type { TraceState } from './trace-state.js';

/**
 * Numbers {@link StreamChunk}s per stream (`streamId`, default the trace
 * id): 0, 1, 2, … restarting after a chunk with `done`. A traced stream's
 * counter lives on its trace, so concurrent traces never share numbering;
 * untraced streams are counted here.
 */
export class StreamChunks {
  readonly #untraced = new Map<string, number>();

  /** The next chunk of `args.parent`'s stream and the message carrying it. */
  make(trace: TraceState | undefined, args: EmitChunkArgs): { chunk: StreamChunk; message: Message<StreamChunk> } {
    const streamId = args.streamId ?? args.parent.traceId;
    const done = args.done ?? false;
    let seq: number;
    if (trace !== undefined) seq = trace.nextSeq(streamId, args.seq, done);
    else {
      seq = args.seq ?? this.#untraced.get(streamId) ?? 0;
      if (done) this.#untraced.delete(streamId);
      else this.#untraced.set(streamId, seq + 1);
    }
    const chunk: StreamChunk = { streamId, seq, text: args.text, done, meta: args.meta ?? {} };
    const message: Message<StreamChunk> = {
      payload: chunk,
      headers: args.parent.headers,
      traceId: args.parent.traceId,
      ts: Date.now(),
      meta: { ...args.parent.meta },
    };
    if (args.parent.deadline !== undefined) message.deadline = args.parent.deadline;
    return { chunk, message };
  }

  /** Open untraced streams (traced ones are counted on their trace). */
  get openUntraced(): number {
    return this.#untraced.size;
  }

  clear(): void {
    this.#untraced.clear();
  }
}
