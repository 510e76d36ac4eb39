/**
 * Graceful drain of the real process: SIGTERM with 50 slow traces in
 * flight lets all of them finish, refuses new calls with UNAVAILABLE and
 * exits 0; a second signal forces exit 1 at once.
 */
import * as grpc from '@grpc/grpc-js';
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import { grpcError, TestClient } from './helpers/client.js';
import { eventually, payloadOf, value } from './helpers/harness.js';
import { opsGet, scrape, total } from './helpers/ops.js';

const ROOT = resolve(import.meta.dirname, '../..');

interface Child {
  child: ChildProcess;
  port: number;
  opsPort: number;
  lines: string[];
  exited: Promise<number | null>;
}

/** Runs src/server/main.ts through tsx (no dependency on a dist/ other tests may be rebuilding). */
function startChild(env: Record<string, string>): Promise<Child> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server/main.ts'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, PENGUIFLOW_HOST: '127.0.0.1', PENGUIFLOW_PORT: '0', PENGUIFLOW_OPS_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((ok, fail) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      lines.push(line);
      try {
        const parsed = JSON.parse(line) as { port?: unknown; opsPort?: unknown };
        if (typeof parsed.port === 'number' && typeof parsed.opsPort === 'number') ok({ child, port: parsed.port, opsPort: parsed.opsPort, lines, exited });
      } catch {
        // not JSON
      }
    });
    void exited.then((code) => fail(new Error(`server exited early with ${code}: ${lines.join('\n')}\n${stderr}`)));
  });
}

describe('SIGTERM drain of the server process', () => {
  it('finishes 50 in-flight slow traces, refuses new calls with UNAVAILABLE and exits 0', async () => {
    const srv = await startChild({ PENGUIFLOW_DRAIN_TIMEOUT_MS: '20000' });
    const client = new TestClient(`127.0.0.1:${srv.port}`);
    try {
      const calls = Array.from({ length: 50 }, (_, i) =>
        client.unary('Call', { flow: 'slow', message: { traceId: `drain-${i}`, payload: value({ ms: 1500 }) } }, { timeoutMs: 30_000 }),
      );
      // All 50 admitted and running before the signal.
      await eventually(async () => total((await scrape(srv.opsPort)).samples, 'penguiflow_traces_inflight', { flow: 'slow' }) === 50, 10_000);
      srv.child.kill('SIGTERM');
      await eventually(async () => (await opsGet(srv.opsPort, '/readyz')).status === 503, 3000);

      const late = new TestClient(`127.0.0.1:${srv.port}`);
      const refused = await grpcError(late.unary('Call', { flow: 'echo', message: { payload: value(1) } }, { timeoutMs: 5000 }));
      late.close();
      expect(refused.code).toBe(grpc.status.UNAVAILABLE);

      const results = await Promise.all(calls);
      expect(results).toHaveLength(50);
      results.forEach((res, i) => {
        expect(res.traceId).toBe(`drain-${i}`);
        expect(res.result.case === 'output' ? payloadOf(res.result.value) : res.result.case).toEqual({ sleptMs: 1500 });
      });
      expect(await srv.exited).toBe(0);
      const stopped = srv.lines.map((l) => JSON.parse(l) as { msg?: string }).filter((l) => l.msg === 'server stopped');
      expect(stopped).toHaveLength(1);
    } finally {
      client.close();
      if (srv.child.exitCode === null) srv.child.kill('SIGKILL');
    }
  }, 60_000);

  it('exits 1 at once on a second signal', async () => {
    const srv = await startChild({ PENGUIFLOW_DRAIN_TIMEOUT_MS: '60000' });
    const client = new TestClient(`127.0.0.1:${srv.port}`);
    try {
      const pending = client.unary('Call', { flow: 'slow', message: { payload: value({ ms: 60_000 }) } }, { timeoutMs: 90_000 }).catch((e: grpc.ServiceError) => e);
      await eventually(async () => total((await scrape(srv.opsPort)).samples, 'penguiflow_traces_inflight', { flow: 'slow' }) === 1, 10_000);
      srv.child.kill('SIGTERM');
      await eventually(async () => (await opsGet(srv.opsPort, '/readyz')).status === 503, 3000);
      const t0 = Date.now();
      srv.child.kill('SIGINT');
      expect(await srv.exited).toBe(1);
      expect(Date.now() - t0).toBeLessThan(3000);
      const err = await pending;
      expect((err as grpc.ServiceError).code).toBe(grpc.status.UNAVAILABLE);
      expect(srv.lines.some((l) => l.includes('second signal received'))).toBe(true);
    } finally {
      client.close();
      if (srv.child.exitCode === null) srv.child.kill('SIGKILL');
    }
  }, 60_000);
});
