import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { withConfigTable } from '../../../scripts/config-table.js';
import { CONFIG_VARIABLES } from '../../../src/server/config.js';

const readme = readFileSync(join(resolve(import.meta.dirname, '../../..'), 'README.md'), 'utf8');

describe('README configuration table', () => {
  it('lists every configuration variable with its current default (regenerate: npx tsx scripts/config-table.ts --write)', () => {
    expect(readme).toBe(withConfigTable(readme));
    for (const v of CONFIG_VARIABLES) expect(readme).toContain(`\`${v.variable}\``);
  });
});
