/**
 * The real process: `node dist/server/main.js` after a build, as `npm start`
 * runs it.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestClient } from './helpers/client.js';
import { payloadOf, value } from './helpers/harness.js';

const ROOT = resolve(import.meta.dirname, '../..');
const MAIN = join(ROOT, 'dist/server/main.js');
let tmp: string;

// dist/ is built once by test/global-setup.ts.
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'penguiflow-process-'));
});

afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

function baseEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME };
  return { ...env, PENGUIFLOW_HOST: '127.0.0.1', PENGUIFLOW_PORT: '0', PENGUIFLOW_OPS_PORT: '0', ...extra };
}

/** Starts the server and resolves with the port from its "listening" log line. */
function start(extra: Record<string, string> = {}): Promise<{ child: ChildProcess; port: number; lines: string[] }> {
  const child = spawn(process.execPath, [MAIN], { cwd: ROOT, env: baseEnv(extra), stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  return new Promise((resolvePort, reject) => {
    const rl = createInterface({ input: child.stdout });
    rl.on('line', (line) => {
      lines.push(line);
      try {
        const parsed = JSON.parse(line) as { port?: unknown };
        if (typeof parsed.port === 'number') resolvePort({ child, port: parsed.port, lines });
      } catch {
        // not JSON: ignore
      }
    });
    child.once('exit', (code) => reject(new Error(`server exited early with ${code}: ${lines.join('\n')}`)));
  });
}

function exitCode(child: ChildProcess): Promise<number | null> {
  return new Promise((resolveExit) => child.once('exit', (code) => resolveExit(code)));
}

describe('node dist/server/main.js', () => {
  it('logs its port as JSON, serves the demo flows, and exits 0 on SIGTERM', async () => {
    const { child, port, lines } = await start();
    const exited = exitCode(child);
    expect(port).toBeGreaterThan(0);
    for (const line of lines) expect(() => JSON.parse(line) as unknown).not.toThrow();
    const client = new TestClient(`127.0.0.1:${port}`);
    const res = await client.unary('Call', { flow: 'chain5', message: { payload: value({ n: 1 }) } }, { timeoutMs: 5000 });
    expect(res.result.case === 'output' ? payloadOf(res.result.value) : res.result.case).toEqual({ n: 1 });
    client.close();
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });

  it('hosts a flow module given by absolute path in PENGUIFLOW_FLOWS', async () => {
    const runtime = pathToFileURL(join(ROOT, 'dist/runtime/index.js')).href;
    const file = join(tmp, 'shout-flow.mjs');
    writeFileSync(
      file,
      `import { create, Node } from ${JSON.stringify(runtime)};
export default {
  name: 'shout',
  description: 'upper-cases a string payload',
  build: ({ queueMaxsize, logger }) => create([new Node((m) => ({ ...m, payload: String(m.payload).toUpperCase() }), { name: 'shout' }).to()], { queueMaxsize, logger }),
};
`,
    );
    const { child, port } = await start({ PENGUIFLOW_FLOWS: file, PENGUIFLOW_DEMO_FLOWS: 'false' });
    const exited = exitCode(child);
    const client = new TestClient(`127.0.0.1:${port}`);
    const flows = await client.unary('ListFlows', {}, { timeoutMs: 5000 });
    expect(flows.flows.map((f) => f.name)).toEqual(['shout']);
    const res = await client.unary('Call', { flow: 'shout', message: { payload: value('hi') } }, { timeoutMs: 5000 });
    expect(res.result.case === 'output' ? payloadOf(res.result.value) : res.result.case).toBe('HI');
    client.close();
    child.kill('SIGINT');
    expect(await exited).toBe(0);
  });

  it.each([
    [{ PENGUIFLOW_PORT: 'abc' }, 'PENGUIFLOW_PORT'],
    [{ PENGUIFLOW_QUEUE_MAXSIZE: '-5' }, 'PENGUIFLOW_QUEUE_MAXSIZE'],
    [{ PENGUIFLOW_DEMO_FLOWS: 'maybe' }, 'PENGUIFLOW_DEMO_FLOWS'],
    [{ PENGUIFLOW_AUTH: 'jwt' }, 'PENGUIFLOW_AUTH'],
    [{ NODE_ENV: 'production' }, 'PENGUIFLOW_AUTH'],
    [{ PENGUIFLOW_FLOWS: '/nonexistent/flow.js' }, 'PENGUIFLOW_FLOWS'],
    [{ PENGUIFLOW_CONFIG_FILE: '/nonexistent/config.json' }, 'PENGUIFLOW_CONFIG_FILE'],
  ])('exits 2 with one line naming the variable for %o', (env, variable) => {
    const run = spawnSync(process.execPath, [MAIN], { cwd: ROOT, env: baseEnv(env), encoding: 'utf8', timeout: 20_000 });
    expect(run.status).toBe(2);
    const lines = run.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(variable);
    expect(run.stdout).not.toContain('listening');
  });
});
