/**
 * `PENGUIFLOW_STORE` and `PENGUIFLOW_HISTORY_RETENTION` parsing (no driver
 * imports, so configuration code can use it cheaply).
 */
import { resolve } from 'node:path';

/** The embedded default: a SQLite file under ./data/. */
export const DEFAULT_STORE = 'sqlite:./data/penguiflow.db';

/** A parsed store setting. */
export type StoreSpec = { kind: 'memory' } | { kind: 'sqlite'; path: string } | { kind: 'postgres'; url: string };

/**
 * Parses a store setting: `memory`, `sqlite:<path>` (relative to the working
 * directory; `sqlite::memory:` for a private in-memory database), or a
 * `postgres://` / `postgresql://` URL.
 *
 * @returns undefined when the value is none of these.
 */
export function parseStoreSpec(value: string): StoreSpec | undefined {
  const v = value.trim();
  if (v.toLowerCase() === 'memory') return { kind: 'memory' };
  if (/^sqlite:/i.test(v)) {
    const path = v.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '');
    if (path === '') return undefined;
    return { kind: 'sqlite', path: path === ':memory:' ? path : resolve(path) };
  }
  if (/^postgres(ql)?:\/\/\S+$/i.test(v)) return { kind: 'postgres', url: v };
  return undefined;
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/**
 * Parses a duration: plain milliseconds (`60000`) or number-unit pairs
 * (`7d`, `12h`, `90m`, `30s`, `500ms`, `1d12h`).
 *
 * @returns undefined when not a valid duration.
 */
export function parseDuration(value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isInteger(value) && value >= 0 ? value : undefined;
  const v = value.trim().toLowerCase();
  if (/^\d+$/.test(v)) return Number(v);
  if (!/^(\d+(\.\d+)?(ms|s|m|h|d|w))+$/.test(v)) return undefined;
  let total = 0;
  for (const m of v.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/g)) total += Number(m[1]) * UNITS[m[2]!]!;
  return Number.isFinite(total) ? Math.round(total) : undefined;
}

