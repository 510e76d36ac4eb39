// `npm run test:conformance`: the cross-language conformance suite.
//
// 1. Builds the server (`npm run build`) when dist/ is missing or older than
//    src/ (PENGUIFLOW_CONFORMANCE_NO_BUILD=1 skips this).
// 2. Discovers the runners: every file directly in test/conformance/ or one
//    folder below it with a line `conformance-runner: {json}` (see README.md).
//    Checks each runner's tools (`needs`) and runs its `setup` command.
// 3. Starts `node dist/server/main.js` on 127.0.0.1 with PENGUIFLOW_PORT=0,
//    in jwt auth mode when the build has it (else none; PENGUIFLOW_CONFORMANCE_AUTH
//    names the mode(s), e.g. `jwt,header`: one server per mode, run in turn),
//    a fresh random HS256 secret and an SQLite
//    store in a temporary directory; reads the bound port from its JSON
//    "listening" log line.
// 4. Runs the runners one after another against it, prints their tallies,
//    fails when a runner fails, prints no tally, or the tallies differ.
// 5. Stops the server (SIGTERM, then SIGKILL after 15 s).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '../..');
const TALLY = /^([A-Za-z0-9_+-]+): (\d+) passed, (\d+) failed$/;

interface RunnerSpec {
  name: string;
  order?: number;
  needs?: string[];
  hint?: string;
  cwd?: string;
  setup?: string[];
  command: string[];
  file: string;
}

interface Tally {
  name: string;
  line: string;
  passed: number;
  failed: number;
  exitCode: number | null;
  seconds: number;
}

function log(line: string): void {
  process.stdout.write(`conformance: ${line}\n`);
}

class SuiteError extends Error {}

// ------------------------------------------------------------------ build

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

function ensureBuilt(): void {
  const main = join(ROOT, 'dist/server/main.js');
  if (process.env.PENGUIFLOW_CONFORMANCE_NO_BUILD === '1') {
    if (!existsSync(main)) throw new SuiteError(`${relative(ROOT, main)} is missing; run npm run build (or unset PENGUIFLOW_CONFORMANCE_NO_BUILD)`);
    return;
  }
  if (existsSync(main) && statSync(main).mtimeMs >= newestMtime(join(ROOT, 'src'))) return;
  log('dist/ is missing or older than src/: npm run build');
  const r = spawnSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: 'inherit' });
  if (r.status !== 0) throw new SuiteError('npm run build failed (see above); the suite needs dist/server/main.js');
}

// ------------------------------------------------------------------ runners

function discoverRunners(): RunnerSpec[] {
  const files: string[] = [];
  for (const entry of readdirSync(HERE, { withFileTypes: true })) {
    const p = join(HERE, entry.name);
    if (entry.isFile()) files.push(p);
    else if (entry.isDirectory() && !entry.name.startsWith('.') && entry.name !== 'node_modules') {
      for (const sub of readdirSync(p, { withFileTypes: true })) if (sub.isFile()) files.push(join(p, sub.name));
    }
  }
  const specs: RunnerSpec[] = [];
  for (const file of files) {
    if (file === fileURLToPath(import.meta.url) || statSync(file).size > 1_000_000) continue;
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      const m = /conformance-runner: (\{.*\})\s*$/.exec(line);
      if (m === null) continue;
      let spec: RunnerSpec;
      try {
        spec = { ...(JSON.parse(m[1]!) as Omit<RunnerSpec, 'file'>), file };
      } catch (err) {
        throw new SuiteError(`${relative(ROOT, file)}: invalid conformance-runner declaration: ${String(err)}`);
      }
      if (typeof spec.name !== 'string' || !Array.isArray(spec.command)) throw new SuiteError(`${relative(ROOT, file)}: a conformance-runner needs "name" and "command"`);
      specs.push(spec);
    }
  }
  specs.sort((a, b) => (a.order ?? 100) - (b.order ?? 100) || a.name.localeCompare(b.name));
  const only = (process.env.PENGUIFLOW_CONFORMANCE_RUNNERS ?? '').split(',').filter((s) => s !== '');
  return only.length === 0 ? specs : specs.filter((s) => only.includes(s.name));
}

function onPath(tool: string): boolean {
  if (tool === 'node') return true;
  return spawnSync('sh', ['-c', `command -v "${tool}"`], { stdio: 'ignore' }).status === 0;
}

function expand(args: string[], vars: Record<string, string>): string[] {
  return args.map((a) => a.replace(/\{(\w+)\}/g, (all, k: string) => vars[k] ?? all));
}

function prepare(spec: RunnerSpec, vars: Record<string, string>): void {
  for (const tool of spec.needs ?? []) {
    if (!onPath(tool)) {
      throw new SuiteError(`the ${spec.name} runner needs \`${tool}\`, which is not on PATH.\n  ${spec.hint ?? `Install ${tool} and rerun npm run test:conformance`}`);
    }
  }
  if (spec.setup === undefined) return;
  const [cmd, ...args] = expand(spec.setup, vars);
  const shown = [cmd, ...args].join(' ');
  log(`${spec.name}: setup: ${shown.length > 100 ? `${shown.slice(0, 97)}...` : shown}`);
  const r = spawnSync(cmd!, args, { cwd: join(ROOT, spec.cwd ?? '.'), stdio: 'inherit' });
  if (r.status !== 0) throw new SuiteError(`setup of the ${spec.name} runner failed (${[cmd, ...args].join(' ')}); see above`);
}

async function runRunner(spec: RunnerSpec, vars: Record<string, string>, env: NodeJS.ProcessEnv): Promise<Tally> {
  const [cmd, ...args] = expand(spec.command, vars);
  const start = performance.now();
  const child = spawn(cmd!, args, { cwd: join(ROOT, spec.cwd ?? '.'), env, stdio: ['ignore', 'pipe', 'pipe'] });
  let last = '';
  const lines = createInterface({ input: child.stdout });
  lines.on('line', (line) => {
    process.stdout.write(`  [${spec.name}] ${line}\n`);
    if (line.trim() !== '') last = line.trim();
  });
  child.stderr.on('data', (d: Buffer) => process.stderr.write(`  [${spec.name}] ${d.toString()}`));
  const exitCode = await new Promise<number | null>((res) => {
    child.on('error', (err) => {
      process.stderr.write(`  [${spec.name}] cannot start ${cmd}: ${err.message}\n`);
      res(127);
    });
    child.on('close', (code) => res(code));
  });
  const seconds = (performance.now() - start) / 1000;
  const m = TALLY.exec(last);
  if (m === null || m[1] !== spec.name) return { name: spec.name, line: `${spec.name}: no tally (last line: ${JSON.stringify(last)})`, passed: 0, failed: -1, exitCode, seconds };
  return { name: spec.name, line: last, passed: Number(m[2]), failed: Number(m[3]), exitCode, seconds };
}

// ------------------------------------------------------------------ server

interface Server {
  child: ChildProcess;
  port: number;
}

function serverEnv(auth: string, secret: string, dataDir: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  // A deterministic server: none of the caller's PENGUIFLOW_* settings leak in.
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('PENGUIFLOW_')) env[k] = v;
  if (env.NODE_ENV === 'production') delete env.NODE_ENV;
  Object.assign(env, {
    PENGUIFLOW_HOST: '127.0.0.1',
    PENGUIFLOW_PORT: '0',
    PENGUIFLOW_OPS_PORT: '0',
    PENGUIFLOW_LOG_LEVEL: 'info',
    PENGUIFLOW_AUTH: auth,
    PENGUIFLOW_STORE: `sqlite:${join(dataDir, 'conformance.db')}`,
  });
  if (auth === 'jwt') env.PENGUIFLOW_JWT_SECRET = secret;
  return env;
}

async function startServer(env: NodeJS.ProcessEnv): Promise<Server> {
  const child = spawn(process.execPath, [join(ROOT, 'dist/server/main.js')], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  child.stderr.on('data', (d: Buffer) => output.push(d.toString()));
  return new Promise<Server>((res, rej) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      rej(new SuiteError(`the server did not log its port within 20 s:\n${output.join('').slice(-2000)}`));
    }, 20_000);
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      output.push(`${line}\n`);
      let rec: unknown;
      try {
        rec = JSON.parse(line);
      } catch {
        return;
      }
      if (typeof rec !== 'object' || rec === null) return;
      const { msg, port } = rec as { msg?: unknown; port?: unknown };
      if (typeof msg === 'string' && msg.includes('listening') && typeof port === 'number' && port > 0) {
        clearTimeout(timer);
        res({ child, port });
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      rej(new SuiteError(`the server exited (code ${String(code)}) before listening:\n${output.join('').slice(-2000)}`));
    });
  });
}

async function stopServer(server: Server): Promise<void> {
  if (server.child.exitCode !== null) return;
  const exited = new Promise<void>((res) => server.child.once('exit', () => res()));
  server.child.kill('SIGTERM');
  const timer = setTimeout(() => server.child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

// ------------------------------------------------------------------ main

/** The auth modes to run: PENGUIFLOW_CONFORMANCE_AUTH (comma-separated), else jwt when the build has it, else none. */
function chooseAuthModes(): string[] {
  const forced = (process.env.PENGUIFLOW_CONFORMANCE_AUTH ?? '').split(',').map((m) => m.trim()).filter((m) => m !== '');
  if (forced.length > 0) return forced;
  const config = join(ROOT, 'dist/server/config.js');
  const hasJwt = existsSync(join(ROOT, 'dist/server/auth-jwt.js')) && existsSync(config) && readFileSync(config, 'utf8').includes('PENGUIFLOW_JWT_SECRET');
  return [hasJwt ? 'jwt' : 'none'];
}

/** One server in one auth mode, every runner against it; returns the problems found. */
async function runMode(auth: string, runners: RunnerSpec[], vars: Record<string, string>, track: (s: Server | undefined) => void): Promise<string[]> {
  const secret = randomBytes(32).toString('hex');
  const dataDir = mkdtempSync(join(vars.tmp!, `${auth}-`));
  const server = await startServer(serverEnv(auth, secret, dataDir));
  track(server);
  try {
    const target = `127.0.0.1:${server.port}`;
    log(`server ${target}, auth ${auth}; runners: ${runners.map((r) => r.name).join(', ')}`);
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      PENGUIFLOW_TARGET: target,
      PENGUIFLOW_CONFORMANCE_AUTH: auth,
      PENGUIFLOW_CONFORMANCE_JWT_SECRET: auth === 'jwt' ? secret : '',
      PENGUIFLOW_CONFORMANCE_CASES: process.env.PENGUIFLOW_CONFORMANCE_CASES ?? join(HERE, 'cases.json'),
    };
    const tallies: Tally[] = [];
    for (const spec of runners) {
      log(`running ${spec.name} (${relative(ROOT, spec.file)}), auth ${auth}`);
      tallies.push(await runRunner(spec, { ...vars, target }, env));
    }
    const problems: string[] = [];
    for (const t of tallies) {
      if (t.failed !== 0 || t.exitCode !== 0) problems.push(`auth ${auth}: ${t.name}: ${t.failed < 0 ? 'no tally line' : `${t.failed} failed`}, exit code ${String(t.exitCode)}`);
    }
    const passed = new Set(tallies.map((t) => t.passed));
    if (passed.size > 1) problems.push(`auth ${auth}: the runners passed different numbers of cases: ${tallies.map((t) => `${t.name} ${t.passed}`).join(', ')}`);
    process.stdout.write(`\nauth ${auth}:\n`);
    for (const t of tallies) process.stdout.write(`${t.line}   (${t.seconds.toFixed(1)} s)\n`);
    process.stdout.write('\n');
    return problems;
  } finally {
    await stopServer(server);
    track(undefined);
  }
}

async function main(): Promise<number> {
  const start = performance.now();
  ensureBuilt();
  const runners = discoverRunners();
  if (runners.length === 0) throw new SuiteError('no conformance runner found in test/conformance');
  const tmp = mkdtempSync(join(tmpdir(), 'penguiflow-conformance-'));
  let server: Server | undefined;
  const stop = (): void => {
    server?.child.kill('SIGKILL');
    rmSync(tmp, { recursive: true, force: true });
    process.exit(130);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    const vars = { tmp, root: ROOT };
    for (const spec of runners) prepare(spec, vars);
    const modes = chooseAuthModes();
    const problems: string[] = [];
    for (const auth of modes) problems.push(...(await runMode(auth, runners, vars, (s) => (server = s))));
    const total = ((performance.now() - start) / 1000).toFixed(1);
    if (problems.length > 0) {
      log(`FAILED in ${total} s:\n  ${problems.join('\n  ')}`);
      return 1;
    }
    log(`all ${runners.length} runners agree (auth ${modes.join(', ')}), ${total} s`);
    return 0;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

try {
  process.exitCode = await main();
} catch (err) {
  if (!(err instanceof SuiteError)) throw err;
  process.stderr.write(`\nconformance: FAILED: ${err.message}\n`);
  process.exitCode = 1;
}
