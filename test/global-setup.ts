import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';

/**
 * Builds dist/ once before any test file runs. Tests that spawn
 * `node dist/server/main.js` rely on it; building per file would let one
 * file's tsc rewrite dist/ while another file's server is loading it.
 */
export default function setup(): void {
  const root = resolve(import.meta.dirname, '..');
  const build = spawnSync('npm', ['run', 'build', '--silent'], { cwd: root, encoding: 'utf8' });
  if (build.status !== 0) throw new Error(`npm run build failed:\n${build.stdout}\n${build.stderr}`);
}
