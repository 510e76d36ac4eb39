/** The store contract on SQLite (a file in a temporary directory), plus its migrations and file settings. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { SQLITE_MIGRATIONS, SqliteStateStore } from '../../../src/state/index.js';
import { storeContract } from './contract.js';

const dir = mkdtempSync(join(tmpdir(), 'penguiflow-sqlite-'));
const file = join(dir, 'nested', 'contract.db');

storeContract('sqlite', {
  open: async () => {
    const store = new SqliteStateStore({ path: file });
    await store.init();
    return store;
  },
  reopen: async () => {
    const store = new SqliteStateStore({ path: file });
    await store.init();
    return store;
  },
  teardown: async () => rmSync(dir, { recursive: true, force: true }),
});

describe('SqliteStateStore file', () => {
  it('uses WAL and records each applied migration once', async () => {
    const d = mkdtempSync(join(tmpdir(), 'penguiflow-sqlite-mig-'));
    try {
      const path = join(d, 'm.db');
      for (let i = 0; i < 2; i++) {
        const s = new SqliteStateStore({ path });
        await s.init();
        await s.close();
      }
      const db = new Database(path, { readonly: true });
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
      const rows = db.prepare('SELECT version FROM schema_migrations ORDER BY version').all() as { version: number }[];
      expect(rows.map((r) => r.version)).toEqual(SQLITE_MIGRATIONS.map((m) => m.version));
      db.close();
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
});
