/**
 * Finds the flow definitions the server should host.
 */
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigError } from './config-error.js';
import { FLOW_NAME_PATTERN, isFlowDefinition, type FlowDefinition } from '../runtime/define-flow.js';

/** Where flow definitions come from. */
export interface FlowSources {
  /** Demo flows to host first (empty: none). */
  demoFlows: readonly FlowDefinition[];
  /** Module paths (absolute, or relative to `cwd`) whose default export is a `defineFlow(...)`. */
  modules: readonly string[];
  /** Definitions supplied in process (embedding, tests). */
  definitions?: readonly FlowDefinition[];
  /** Base of relative module paths; default `process.cwd()`. */
  cwd?: string;
}

function describe(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message.split('\n')[0] ?? ''}`;
  return String(err);
}

/**
 * Imports the configured flow modules and merges them with the demo flows
 * and in-process definitions.
 *
 * A module may be JavaScript (any runtime) or TypeScript when the server
 * runs under a TypeScript loader (tsx, vitest).
 *
 * @throws ConfigError naming `PENGUIFLOW_FLOWS` when a module cannot be
 *   imported, has no valid default export, or two flows share a name.
 */
export async function loadFlowDefinitions(sources: FlowSources): Promise<FlowDefinition[]> {
  const found: FlowDefinition[] = [];
  found.push(...sources.demoFlows);
  for (const path of sources.modules) {
    const abs = isAbsolute(path) ? path : resolve(sources.cwd ?? process.cwd(), path);
    let mod: { default?: unknown };
    try {
      mod = (await import(pathToFileURL(abs).href)) as { default?: unknown };
    } catch (err) {
      throw new ConfigError('PENGUIFLOW_FLOWS', `invalid configuration: PENGUIFLOW_FLOWS: cannot import ${JSON.stringify(path)} (${describe(err)})`);
    }
    if (!isFlowDefinition(mod.default)) {
      throw new ConfigError('PENGUIFLOW_FLOWS', `invalid configuration: PENGUIFLOW_FLOWS: ${JSON.stringify(path)} must default-export defineFlow({ name, build })`);
    }
    found.push(mod.default);
  }
  found.push(...(sources.definitions ?? []));
  const names = new Set<string>();
  for (const def of found) {
    if (!FLOW_NAME_PATTERN.test(def.name)) {
      throw new ConfigError('PENGUIFLOW_FLOWS', `invalid configuration: PENGUIFLOW_FLOWS: invalid flow name ${JSON.stringify(def.name)} (use 1-64 characters of [A-Za-z0-9._-])`);
    }
    if (names.has(def.name)) {
      throw new ConfigError('PENGUIFLOW_FLOWS', `invalid configuration: PENGUIFLOW_FLOWS: two flows are named ${JSON.stringify(def.name)}`);
    }
    names.add(def.name);
  }
  return found;
}
