// The layers of DESIGN §7 and the only directions their imports may point.
// eslint.config.js enforces these zones; test/unit/docs/layers.test.ts proves
// that an upward import fails lint.

/** Every folder of src/ that is a layer. */
export const LAYERS = ['internal', 'runtime', 'state', 'host', 'rpc', 'observability', 'flows', 'server', 'gen'];

/** What each layer may import from src/ (besides itself). */
export const ALLOWED_IMPORTS = {
  gen: [],
  internal: [],
  runtime: ['internal'],
  flows: ['runtime'],
  state: ['runtime', 'internal'],
  host: ['runtime', 'state', 'internal'],
  rpc: ['runtime', 'host', 'internal'],
  observability: ['runtime', 'rpc', 'internal'],
  server: ['runtime', 'state', 'host', 'rpc', 'observability', 'flows', 'gen', 'internal'],
};

/** `import-x/no-restricted-paths` zones: for each layer, the layers it must not import. */
export function layerZones() {
  return LAYERS.filter((target) => target in ALLOWED_IMPORTS)
    .map((target) => ({
    target: `./src/${target}`,
    from: LAYERS.filter((l) => l !== target && !ALLOWED_IMPORTS[target].includes(l)).map((l) => `./src/${l}`),
    message: `src/${target} may import only ${ALLOWED_IMPORTS[target].length === 0 ? 'itself' : ALLOWED_IMPORTS[target].map((l) => `src/${l}`).join(', ')} (DESIGN §7)`,
  }))
    .filter((zone) => zone.from.length > 0);
}
