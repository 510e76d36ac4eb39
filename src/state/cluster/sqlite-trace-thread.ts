/**
 * Where {@link SqliteTraceStore} runs its transactions: on a worker thread
 * (the default for a file) or, for `:memory:` and measurements, inline on
 * the caller's thread. Both take a list of operations and answer one
 * outcome per operation after the transaction committed.
 */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type Database from 'better-sqlite3';
import { SqliteTraceEngine } from './sqlite-trace-engine.js';
import type { EngineConfig, EngineOp, EngineOutcome, EngineReply, EngineRequest } from './sqlite-trace-protocol.js';

/** Runs groups of operations, each group in one transaction. */
export interface EngineTransport {
  /** One outcome per operation; rejects when the transaction as a whole failed (nothing applied). */
  run(ops: readonly EngineOp[]): Promise<readonly EngineOutcome[]>;
  /** Set once the transport can no longer run anything (its thread died). */
  readonly failure: Error | undefined;
  /** Closes the connection (after the groups already sent). */
  close(): Promise<void>;
}

/** An error of a failed transaction or operation, keeping SQLite's code (e.g. SQLITE_BUSY). */
export function storeError(message: string, code: string | undefined): Error {
  const err = new Error(`sqlite trace store: ${message}`);
  if (code !== undefined) Object.assign(err, { code });
  return err;
}

/** Runs the engine on the caller's thread: each group blocks it for the length of its transaction. */
export class InlineTransport implements EngineTransport {
  readonly failure = undefined;
  readonly #engine: SqliteTraceEngine;

  constructor(db: Database.Database, config: Pick<EngineConfig, 'leaseMs' | 'idempotencyRetentionMs'>) {
    this.#engine = new SqliteTraceEngine(db, config);
  }

  run(ops: readonly EngineOp[]): Promise<readonly EngineOutcome[]> {
    try {
      return Promise.resolve(this.#engine.execute(ops));
    } catch (err) {
      const code = (err as { code?: unknown } | null)?.code;
      return Promise.reject(storeError(err instanceof Error ? err.message : String(err), typeof code === 'string' ? code : undefined));
    }
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/**
 * The worker thread's script. Under `node dist/…` it is the compiled
 * sqlite-trace-worker.js; from TypeScript sources (vitest, tsx) a worker
 * has no TypeScript loader of its own, so a one-line bootstrap registers
 * tsx's (a dev dependency) before importing the .ts entry.
 */
function spawn(config: EngineConfig): Worker {
  const here = import.meta.url;
  const fromSource = here.endsWith('.ts');
  const entry = new URL(`./sqlite-trace-worker.${fromSource ? 'ts' : 'js'}`, here);
  if (!fromSource) return new Worker(entry, { workerData: config });
  const tsxApi = new URL('dist/esm/api/index.mjs', pathToFileURL(createRequire(here).resolve('tsx/package.json')));
  const bootstrap = `import(${JSON.stringify(tsxApi.href)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry.href)}); });`;
  return new Worker(bootstrap, { eval: true, workerData: config });
}

/** Runs the engine on a worker thread that owns the writing connection. */
export class ThreadTransport implements EngineTransport {
  readonly #worker: Worker;
  readonly #pending = new Map<number, { resolve(v: readonly EngineOutcome[]): void; reject(e: Error): void }>();
  #next = 0;
  #failure: Error | undefined;
  readonly #exited: Promise<void>;

  private constructor(worker: Worker) {
    this.#worker = worker;
    this.#exited = new Promise((resolve) => worker.once('exit', () => resolve()));
    worker.on('message', (m: EngineReply) => {
      const p = this.#pending.get(m.id);
      if (p === undefined) return;
      this.#pending.delete(m.id);
      if (this.#pending.size === 0) worker.unref();
      if ('failed' in m) p.reject(storeError(m.failed.message, m.failed.code));
      else p.resolve(m.outcomes);
    });
    const fail = (err: Error): void => {
      this.#failure ??= err;
      for (const p of this.#pending.values()) p.reject(this.#failure);
      this.#pending.clear();
    };
    worker.on('error', (err) => fail(storeError(`writer thread failed: ${err.message}`, undefined)));
    worker.on('exit', (code) => fail(storeError(`writer thread exited (${code})`, undefined)));
  }

  /** Starts the thread; resolves once its connection is open. */
  static start(config: EngineConfig): Promise<ThreadTransport> {
    const worker = spawn(config);
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => {
        worker.off('exit', onExit);
        reject(err);
      };
      const onExit = (code: number): void => {
        worker.off('error', onError);
        reject(storeError(`writer thread exited (${code}) while opening ${config.path}`, undefined));
      };
      worker.once('error', onError);
      worker.once('exit', onExit);
      worker.once('message', (m: unknown) => {
        worker.off('error', onError);
        worker.off('exit', onExit);
        if (m !== 'ready') {
          void worker.terminate();
          reject(storeError('writer thread did not start', undefined));
          return;
        }
        const transport = new ThreadTransport(worker);
        // Idle, the thread must not keep the process alive.
        worker.unref();
        resolve(transport);
      });
    });
  }

  get failure(): Error | undefined {
    return this.#failure;
  }

  run(ops: readonly EngineOp[]): Promise<readonly EngineOutcome[]> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    const id = ++this.#next;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      if (this.#pending.size === 1) this.#worker.ref();
      const request: EngineRequest = { id, ops };
      this.#worker.postMessage(request);
    });
  }

  async close(): Promise<void> {
    if (this.#failure === undefined) {
      this.#worker.ref();
      this.#worker.postMessage('close');
      await this.#exited;
    } else {
      await this.#worker.terminate();
    }
  }
}
