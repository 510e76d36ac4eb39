import { createFlowClient, FlowClientError } from '../src/index.js';

const client = createFlowClient({ baseUrl: process.env.PENGUIFLOW_URL ?? 'http://localhost:50051' });
try {
  // A node that fails for good is data, not an exception.
  const res = await client.call('flaky', { failures: 100 }, { timeoutMs: 10_000 });
  if (res.kind === 'error') console.log(`node ${res.error.nodeName} failed: ${res.error.code}`);

  // RPC failures are FlowClientError, with the gRPC code and parsed details.
  await client.emit('echo', 'hi', { traceId: 'bad id!' });
} catch (err) {
  if (!(err instanceof FlowClientError)) throw err;
  console.log(err.code, err.details.errorInfo?.reason);
  for (const v of err.details.fieldViolations) console.log(`  ${v.field}: ${v.description}`);
  if (err.code === 'RESOURCE_EXHAUSTED') console.log(`retry in ${err.details.retryDelayMs ?? 1000} ms`);
} finally {
  client.close();
}
