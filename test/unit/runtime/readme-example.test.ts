import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it, vi } from 'vitest';
import { readmeExample } from '../../helpers/readme.js';

const root = resolve(import.meta.dirname, '../../..');

describe('README', () => {
  it('runtime example runs and prints what its comment says', async () => {
    const code = readmeExample('runtime');
    const expected = /console\.log\(.*\); \/\/ (.*)$/m.exec(code)?.[1];
    expect(expected).toBe('Oslo: 21 °C');
    const runtimeEntry = pathToFileURL(join(root, 'src/runtime/index.ts')).href;
    const dir = mkdtempSync(join(root, 'test/.tmp-readme-'));
    const file = join(dir, 'example.ts');
    writeFileSync(file, code.replaceAll("from 'penguiflow'", `from '${runtimeEntry}'`));
    const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      await import(pathToFileURL(file).href);
      expect(log).toHaveBeenCalledWith(expected);
    } finally {
      log.mockRestore();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
