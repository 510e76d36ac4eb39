import { createFlowClient } from '../src/index.js';

const client = createFlowClient({ baseUrl: process.env.PENGUIFLOW_URL ?? 'http://localhost:50051' });
try {
  const res = await client.call('echo', { text: 'hello' }, { timeoutMs: 5_000 });
  if (res.kind === 'output') console.log('echo:', res.message.payload);

  for await (const u of client.callStream('stream', { chunks: 3 }, { timeoutMs: 10_000 })) {
    if (u.kind === 'chunk') console.log(`chunk ${u.chunk.seq}: ${u.chunk.text}`);
    if (u.kind === 'end') console.log(`trace ${u.traceId}: ${u.end.status}`);
  }
} finally {
  client.close();
}
