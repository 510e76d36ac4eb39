import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import * as runtime from '../../../src/runtime/index.js';
import { FlowError, FlowErrorCode, FlowStoppedError, PenguiflowError, TraceCancelled, TraceEndedError } from '../../../src/runtime/index.js';

/** A second, independent copy of the runtime: the built package (global setup builds dist/), as a flow module bundling its own penguiflow would load. */
async function secondCopy(): Promise<typeof runtime> {
  const url = pathToFileURL(resolve(import.meta.dirname, '../../../dist/runtime/index.js')).href;
  return (await import(/* @vite-ignore */ url)) as typeof runtime;
}

describe('runtime errors', () => {
  it('every runtime error is a PenguiflowError with a stable code', () => {
    const errors = [
      new TraceCancelled('t'),
      new TraceEndedError('t', 'COMPLETED'),
      new FlowStoppedError(),
      new runtime.CycleError('cycle'),
      new runtime.NodeTimeoutError('n', 5),
      new runtime.DeadlineExceededError('t'),
      new runtime.PlaybookTimeoutError(5),
      new FlowError({ code: FlowErrorCode.NODE_EXCEPTION, message: 'boom' }),
    ];
    for (const err of errors) {
      expect(err).toBeInstanceOf(PenguiflowError);
      expect(err).toBeInstanceOf(Error);
      expect(err.code).toMatch(/^[A-Z_]+$/);
    }
    expect(new FlowError({ code: FlowErrorCode.NODE_TIMEOUT, message: 'x' }).code).toBe('NODE_TIMEOUT');
  });

  it('instanceof recognises errors made by another copy of the package, class by class', async () => {
    const other = await secondCopy();
    expect(other.TraceCancelled).not.toBe(TraceCancelled);
    const foreign = new other.TraceCancelled('t1');
    expect(foreign instanceof TraceCancelled).toBe(true);
    expect(foreign instanceof PenguiflowError).toBe(true);
    expect(foreign instanceof FlowStoppedError).toBe(false);
    expect(new other.FlowError({ code: other.FlowErrorCode.NODE_EXCEPTION, message: 'm' }) instanceof FlowError).toBe(true);
    expect(new TraceCancelled('t2') instanceof other.TraceCancelled).toBe(true);
  });

  it('plain errors and look-alikes by name are not runtime errors', () => {
    const fake = Object.assign(new Error('x'), { name: 'TraceCancelled', code: 'TRACE_CANCELLED' });
    expect(fake instanceof TraceCancelled).toBe(false);
    expect(fake instanceof PenguiflowError).toBe(false);
    expect((null as unknown) instanceof PenguiflowError).toBe(false);
  });

  it('a user subclass matches only its own instances', () => {
    class MyStop extends FlowStoppedError {}
    expect(new MyStop() instanceof FlowStoppedError).toBe(true);
    expect(new MyStop() instanceof MyStop).toBe(true);
    expect(new FlowStoppedError() instanceof MyStop).toBe(false);
  });
});
