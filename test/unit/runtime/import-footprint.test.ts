/**
 * Importing `penguiflow` (the built dist/, as a flow author's code does)
 * loads no third-party package: none of the server's grpc-js, pg,
 * better-sqlite3, jose or prom-client, and not even pino until the runtime
 * logs something. A child node records every module it resolves: ES modules
 * through a `module.register` resolve hook, CommonJS ones from
 * `require.cache`. The same recorder run on `penguiflow/server` must see the
 * server's packages, so an empty list means something.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../../..');
const SERVER_PACKAGES = ['@grpc/grpc-js', 'pg', 'better-sqlite3', 'jose', 'prom-client'];

const HOOKS = `
let port;
export function initialize(data) { port = data.port; }
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  port.postMessage(result.url);
  return result;
}
`;

const RECORD = `
import { register, createRequire } from 'node:module';
import { MessageChannel } from 'node:worker_threads';
const { port1, port2 } = new MessageChannel();
const urls = [];
const SENTINEL = 'data:text/javascript,0';
let seen;
const allSeen = new Promise((resolve) => (seen = resolve));
port1.on('message', (url) => (url === SENTINEL ? seen() : urls.push(url)));
register('./hooks.mjs', { parentURL: import.meta.url, data: { port: port2 }, transferList: [port2] });
globalThis.loadedModules = async () => {
  // Messages arrive in order: once the sentinel resolved last is back, every earlier one is too.
  import.meta.resolve(SENTINEL);
  await allSeen;
  port1.close();
  return [...urls, ...Object.keys(createRequire(import.meta.url).cache)];
};
`;

const MAIN = `
const mod = await import(process.argv[2]);
if (process.argv[3] === 'log') {
  // A middleware that throws makes the runtime log through its own (pino) logger.
  const flow = mod.create([new mod.Node((m) => m, { name: 'n' }).to()], { middlewares: [() => { throw new Error('boom'); }] });
  flow.run();
  const m = mod.createMessage({ payload: 1, headers: { tenant: 't' } });
  await flow.emit(m);
  await flow.fetch({ traceId: m.traceId });
  await flow.stop();
}
process.stdout.write(JSON.stringify(await globalThis.loadedModules()));
`;

let dir = '';

/** The packages (from node_modules) loaded by importing `specifier` in a fresh node (and, with `log`, running a flow that logs). */
function packagesLoadedBy(specifier: string, then?: 'log'): string[] {
  const args = ['--import', './record.mjs', 'main.mjs', specifier, ...(then ? [then] : [])];
  const env = { ...process.env, PENGUIFLOW_LOG_LEVEL: 'silent' };
  const run = spawnSync(process.execPath, args, { cwd: dir, encoding: 'utf8', timeout: 30_000, env });
  expect(run.stderr).toBe('');
  expect(run.status).toBe(0);
  const modules = JSON.parse(run.stdout) as string[];
  expect(modules.some((m) => m.includes('/dist/'))).toBe(true);
  const packages = new Set<string>();
  for (const m of modules) {
    const at = m.lastIndexOf('/node_modules/');
    if (at < 0) continue;
    const parts = m.slice(at + '/node_modules/'.length).split('/');
    packages.add(parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!);
  }
  return [...packages].sort();
}

describe('importing penguiflow', () => {
  beforeAll(() => {
    // Inside the package, so `penguiflow` resolves to this package's own exports (dist/).
    dir = mkdtempSync(join(ROOT, 'test/.tmp-imports-'));
    writeFileSync(join(dir, 'hooks.mjs'), HOOKS);
    writeFileSync(join(dir, 'record.mjs'), RECORD);
    writeFileSync(join(dir, 'main.mjs'), MAIN);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('loads no third-party package (no grpc-js, pg, better-sqlite3, jose, prom-client; pino only once it logs)', () => {
    expect(packagesLoadedBy('penguiflow')).toEqual([]);
  });

  it('sees what penguiflow/server loads, and pino once the runtime logs (the recorder works)', () => {
    expect(packagesLoadedBy('penguiflow/server')).toEqual(expect.arrayContaining(SERVER_PACKAGES));
    const afterLogging = packagesLoadedBy('penguiflow', 'log');
    expect(afterLogging).toContain('pino');
    expect(afterLogging.filter((p) => SERVER_PACKAGES.includes(p))).toEqual([]);
  });
});
