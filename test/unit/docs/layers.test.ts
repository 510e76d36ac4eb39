/**
 * The layer zones of eslint.layers.js are enforced: an import that points
 * up (or sideways into a layer not listed for it) fails lint in every
 * layer, and every allowed import passes. ESLint runs programmatically on
 * a one-line snippet placed in each layer, with the project's zones and
 * import resolver; a second check proves eslint.config.js applies exactly
 * those zones to src/.
 */
import { readdirSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';
import importX from 'eslint-plugin-import-x';
import { ESLint } from 'eslint';
import tseslint from 'typescript-eslint';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../../..');

/** What eslint.layers.js exports (plain JS, read by eslint.config.js). */
interface LayersModule {
  LAYERS: string[];
  ALLOWED_IMPORTS: Record<string, string[]>;
  layerZones: () => { target: string; from: string[]; message: string }[];
}
const { ALLOWED_IMPORTS, LAYERS, layerZones } = (await import(pathToFileURL(join(root, 'eslint.layers.js')).href)) as LayersModule;
const RULE = 'import-x/no-restricted-paths';

/** A real module of `layer` to import (the zones match resolved files). */
function moduleOf(layer: string): string {
  const first = (dir: string): string | undefined => {
    const entries = readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name));
    for (const e of entries) if (e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) return join(dir, e.name);
    for (const e of entries) {
      if (!e.isDirectory()) continue;
      const found = first(join(dir, e.name));
      if (found !== undefined) return found;
    }
    return undefined;
  };
  const file = first(join(root, 'src', layer));
  if (file === undefined) throw new Error(`no module in src/${layer}`);
  return file;
}

/** Only the layer rule, with the project's zones and resolver: fast, and no type information needed. */
const eslint = new ESLint({
  cwd: root,
  overrideConfigFile: true,
  overrideConfig: [
    {
      files: ['**/*.ts'],
      languageOptions: { parser: tseslint.parser },
      plugins: { 'import-x': importX },
      settings: {
        'import-x/resolver-next': [createTypeScriptImportResolver({ project: join(root, 'tsconfig.json') })],
        'import-x/extensions': ['.ts', '.js'],
      },
      rules: { [RULE]: ['error', { zones: layerZones() }] },
    },
  ],
});

/** Lints `import … from <module of target>` as if written in src/<layer>/layer-probe.ts. */
async function lintImport(layer: string, target: string): Promise<string[]> {
  const filePath = join(root, 'src', layer, 'layer-probe.ts');
  const specifier = `./${relative(join(root, 'src', layer), moduleOf(target)).replace(/\.ts$/, '.js')}`.replace(/^\.\/\.\.\//, '../');
  const [result] = await eslint.lintText(`import * as probe from '${specifier}';\nexport { probe };\n`, { filePath });
  return result!.messages.map((m) => `${m.ruleId ?? 'parse'}: ${m.message}`);
}

const layers = LAYERS.filter((l) => l in ALLOWED_IMPORTS);

/** DESIGN §7's arrows, pinned here: widening a layer's imports means changing this test too. */
const DESIGN_ARROWS: Record<string, string[]> = {
  gen: [],
  internal: [],
  runtime: ['internal'],
  flows: ['runtime'],
  state: ['internal', 'runtime'],
  host: ['internal', 'runtime', 'state'],
  rpc: ['host', 'internal', 'runtime'],
  observability: ['internal', 'rpc', 'runtime'],
  server: ['flows', 'gen', 'host', 'internal', 'observability', 'rpc', 'runtime', 'state'],
};

describe('layer zones (DESIGN §7)', () => {
  it('cover every layer, with the arrows of DESIGN §7', () => {
    expect([...layers].sort()).toEqual([...LAYERS].sort());
    expect(Object.fromEntries(layers.map((l) => [l, [...(ALLOWED_IMPORTS[l] ?? [])].sort()]))).toEqual(DESIGN_ARROWS);
  });

  for (const layer of layers) {
    const allowed: readonly string[] = ALLOWED_IMPORTS[layer] ?? [];
    const forbidden = LAYERS.filter((l) => l !== layer && !allowed.includes(l));

    const fails = forbidden.length === 0 ? 'no layer fails' : `importing ${forbidden.join(', ')} fails lint`;
    it(`src/${layer}: ${fails}; importing ${allowed.length === 0 ? 'only itself' : [...allowed, 'itself'].join(', ')} passes`, async () => {
      for (const target of forbidden) {
        const messages = await lintImport(layer, target);
        expect(messages, `src/${layer} importing src/${target}`).toHaveLength(1);
        expect(messages[0]).toMatch(new RegExp(`^${RULE}: .* src/${layer} may import only `));
      }
      for (const target of [...allowed, layer]) {
        expect(await lintImport(layer, target), `src/${layer} importing src/${target}`).toEqual([]);
      }
    });
  }

  it('are what eslint.config.js applies to every file of src/', async () => {
    const project = new ESLint({ cwd: root });
    for (const layer of layers) {
      const file = join(root, 'src', layer, 'layer-probe.ts');
      if (layer === 'gen') {
        // Generated code is not linted at all (and imports nothing of ours).
        expect(await project.isPathIgnored(file)).toBe(true);
        continue;
      }
      const config = (await project.calculateConfigForFile(file)) as { rules?: Record<string, unknown> } | undefined;
      expect(config?.rules?.[RULE], `src/${layer}`).toEqual([2, { zones: layerZones() }]);
    }
  });
});
