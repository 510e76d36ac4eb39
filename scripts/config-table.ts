/**
 * Renders the configuration table of README.md from CONFIG_VARIABLES.
 *
 *   npx tsx scripts/config-table.ts          # print the table
 *   npx tsx scripts/config-table.ts --write  # rewrite it in README.md between the markers
 *
 * test/unit/docs/config-table.test.ts fails when README.md is out of date.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CONFIG_VARIABLES } from '../src/server/config.js';

export const START = '<!-- config-table:start -->';
export const END = '<!-- config-table:end -->';

const cell = (text: string): string => text.replaceAll('|', '\\|').replaceAll('\n', ' ');

/** The markdown table, one row per variable. */
export function renderConfigTable(): string {
  const rows = CONFIG_VARIABLES.map((v) => `| \`${v.variable}\` | ${v.key ? `\`${v.key}\`` : ''} | ${cell(v.default)} | ${cell(v.meaning)} |`);
  return ['| variable | file key | default | meaning |', '|---|---|---|---|', ...rows].join('\n');
}

/** README text with the table between the markers replaced. */
export function withConfigTable(readme: string): string {
  const a = readme.indexOf(START);
  const b = readme.indexOf(END);
  if (a < 0 || b < a) throw new Error(`README.md lacks ${START} … ${END}`);
  return `${readme.slice(0, a + START.length)}\n${renderConfigTable()}\n${readme.slice(b)}`;
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  const readmePath = join(import.meta.dirname, '..', 'README.md');
  if (process.argv.includes('--write')) writeFileSync(readmePath, withConfigTable(readFileSync(readmePath, 'utf8')));
  else process.stdout.write(`${renderConfigTable()}\n`);
}
