/**
 * Flow authors import the built package by name: `penguiflow` for the
 * runtime, `penguiflow/server` for `defineFlow`.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');

describe('package entry points', () => {
  it("resolve 'penguiflow' and 'penguiflow/server' from the built dist/", () => {
    const dir = mkdtempSync(join(ROOT, 'test/.tmp-entry-'));
    try {
      const file = join(dir, 'check.mjs');
      writeFileSync(
        file,
        [
          "import { create, Node, createMessage } from 'penguiflow';",
          "import { defineFlow } from 'penguiflow/server';",
          "const echo = new Node((m) => m, { name: 'echo' });",
          "const def = defineFlow({ name: 'pkg-check', build: () => create([echo.to()]) });",
          'const flow = def.build({ queueMaxsize: 8 });',
          'flow.run();',
          "const m = createMessage({ payload: 'ok', headers: { tenant: 't' } });",
          'await flow.emit(m);',
          'const out = await flow.fetch({ traceId: m.traceId });',
          'await flow.stop();',
          'console.log(def.name, out.payload);',
        ].join('\n'),
      );
      const run = spawnSync(process.execPath, [file], { cwd: ROOT, encoding: 'utf8', timeout: 20_000 });
      expect(run.stderr).toBe('');
      expect(run.stdout.trim()).toBe('pkg-check ok');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
