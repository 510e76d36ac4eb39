/**
 * Opening the store a `PENGUIFLOW_STORE` setting names.
 */
import { MemoryStateStore } from './memory-store.js';
import { PostgresStateStore } from './postgres-store.js';
import { SqliteStateStore } from './sqlite-store.js';
import { parseStoreSpec } from './store-spec.js';
import type { ServiceStateStore } from './types.js';

/** Creates the store a setting names (not opened yet: call `init()`). @throws Error on an invalid setting. */
export function openStore(value: string): ServiceStateStore {
  const spec = parseStoreSpec(value);
  if (spec === undefined) throw new Error(`not a store setting: ${JSON.stringify(value)}`);
  switch (spec.kind) {
    case 'memory':
      return new MemoryStateStore();
    case 'sqlite':
      return new SqliteStateStore({ path: spec.path });
    case 'postgres':
      return new PostgresStateStore({ connectionString: spec.url });
  }
}
