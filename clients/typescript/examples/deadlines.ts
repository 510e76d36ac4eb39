import { createFlowClient, FlowClientError } from '../src/index.js';

const client = createFlowClient({ baseUrl: process.env.PENGUIFLOW_URL ?? 'http://localhost:50051' });
const isCode = (err: unknown, code: string) => err instanceof FlowClientError && err.code === code;
try {
  // A deadline: the call fails after 100 ms, and the server drops the work (it is the message deadline too).
  await client.call('slow', { ms: 5_000 }, { timeoutMs: 100 }).catch((err: unknown) => {
    if (!isCode(err, 'DEADLINE_EXCEEDED')) throw err;
    console.log('call timed out');
  });

  // An AbortSignal: aborting a callStream makes the server cancel the trace.
  const ac = new AbortController();
  setTimeout(() => ac.abort(), 100);
  try {
    for await (const u of client.callStream('slow', { ms: 5_000 }, { signal: ac.signal })) console.log(u.kind);
  } catch (err) {
    if (!isCode(err, 'CANCELLED')) throw err;
    console.log('stream aborted');
  }

  // Cancel by trace id, from any process: true if this call cancelled a running trace.
  const { traceId } = await client.emit('slow', { ms: 60_000 });
  console.log('cancelled:', await client.cancel('slow', traceId));
} finally {
  client.close();
}
