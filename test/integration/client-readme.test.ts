// Every TypeScript block of clients/typescript/README.md is a file in
// clients/typescript/examples/: this test checks the README shows the file
// verbatim (except that the README imports '@penguiflow/client' where the
// file imports '../src/index.js'), then runs the file against a real server.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startServer } from '../../src/server/server.js';
import { resolveConfig } from '../../src/server/config.js';

const CLIENT_DIR = join(dirname(fileURLToPath(import.meta.url)), '../../clients/typescript');
const README = readFileSync(join(CLIENT_DIR, 'README.md'), 'utf8');

/** `<!-- example: path -->` followed by a ```ts block. */
const EXAMPLE_BLOCKS = [...README.matchAll(/<!-- example: (\S+) -->\n```ts\n([\s\S]*?)```/g)].map((m) => ({
  file: m[1]!,
  code: m[2]!,
}));

let server: Awaited<ReturnType<typeof startServer>>;
let savedUrl: string | undefined;

beforeAll(async () => {
  server = await startServer(resolveConfig({ host: '127.0.0.1', port: 0, opsPort: 0, logLevel: 'silent' }));
  savedUrl = process.env.PENGUIFLOW_URL;
  process.env.PENGUIFLOW_URL = `http://127.0.0.1:${server.port}`;
});

afterAll(async () => {
  if (savedUrl === undefined) delete process.env.PENGUIFLOW_URL;
  else process.env.PENGUIFLOW_URL = savedUrl;
  await server?.close({ drainTimeoutMs: 500 });
});

/** Runs an example module (top-level await) and returns what it logged, one string per console.log call. */
async function runExample(file: string): Promise<string[]> {
  const lines: string[] = [];
  const spy = vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => {
    lines.push(args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' '));
  });
  try {
    await import(pathToFileURL(join(CLIENT_DIR, file)).href);
  } finally {
    spy.mockRestore();
  }
  return lines;
}

describe('clients/typescript/README.md examples', () => {
  it('has the quick start, deadlines and errors examples, and every ts block is one of them', () => {
    expect(EXAMPLE_BLOCKS.map((b) => b.file)).toEqual(['examples/quickstart.ts', 'examples/deadlines.ts', 'examples/errors.ts']);
    expect(README.match(/```ts\n/g)).toHaveLength(EXAMPLE_BLOCKS.length);
  });

  it('shows each example file verbatim', () => {
    for (const { file, code } of EXAMPLE_BLOCKS) {
      const source = readFileSync(join(CLIENT_DIR, file), 'utf8');
      expect(source).toContain("from '../src/index.js'");
      expect(code, file).toBe(source.replaceAll("from '../src/index.js'", "from '@penguiflow/client'"));
    }
  });

  it('keeps the quick start within 15 lines', () => {
    const quickstart = EXAMPLE_BLOCKS.find((b) => b.file === 'examples/quickstart.ts')!;
    expect(quickstart.code.trimEnd().split('\n').length).toBeLessThanOrEqual(15);
  });

  it('runs the quick start', async () => {
    const lines = await runExample('examples/quickstart.ts');
    expect(lines[0]).toBe('echo: {"text":"hello"}');
    expect(lines.slice(1, 4)).toEqual(['chunk 0: chunk-0 ', 'chunk 1: chunk-1 ', 'chunk 2: chunk-2 ']);
    expect(lines[4]).toMatch(/^trace [0-9a-f]{32}: COMPLETED$/);
    expect(lines).toHaveLength(5);
  });

  it('runs the deadlines and cancellation example', async () => {
    expect(await runExample('examples/deadlines.ts')).toEqual(['call timed out', 'stream aborted', 'cancelled: true']);
  });

  it('runs the error handling example', async () => {
    const lines = await runExample('examples/errors.ts');
    expect(lines[0]).toBe('node flaky failed: NODE_EXCEPTION');
    expect(lines[1]).toBe('INVALID_ARGUMENT INVALID_REQUEST');
    expect(lines[2]).toMatch(/^ {2}message\.trace_id: /);
    expect(lines).toHaveLength(3);
  });
});
