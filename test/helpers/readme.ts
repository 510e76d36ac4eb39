import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '../..');

/** The ```ts block right after `<!-- example:NAME -->` in a README (the root one by default). */
export function readmeExample(name: string, readmePath = join(root, 'README.md')): string {
  const readme = readFileSync(readmePath, 'utf8');
  const marker = `<!-- example:${name} -->`;
  const at = readme.indexOf(marker);
  if (at < 0) throw new Error(`${readmePath} has no ${marker}`);
  const match = /```ts\n([\s\S]*?)```/.exec(readme.slice(at));
  if (!match?.[1]) throw new Error(`no ts block after ${marker}`);
  return match[1];
}
