/**
 * Two processes on one SQLite trace store (a second server on the same data
 * file, or a restart while the old process still exits): racing each other,
 * they never claim one trace twice nor take one update twice, and between
 * them they get everything.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteTraceStore } from '../../src/state/cluster/sqlite-trace-store.js';
import type { CommitBatch } from '../../src/state/cluster/trace-store.js';

const ROOT = resolve(import.meta.dirname, '../..');
const tmp = mkdtempSync(join(tmpdir(), 'penguiflow-trace-processes-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const EMPTY: CommitBatch = { accepts: [], outputs: [], putBacks: [], events: [], ends: [] };
const accept = (traceId: string, flow: string, runner: string | undefined) => ({
  tenant: 'acme', traceId, flow, message: { traceId }, deadline: undefined, traceparent: undefined,
  idempotencyKey: undefined, runner, maxInflight: 0, maxQueued: 0,
});

describe('SqliteTraceStore across processes', () => {
  it('two processes share claims and takes exactly once', async () => {
    const path = join(tmp, 'shared.db');
    const store = new SqliteTraceStore({ path, codec: { encode: (v) => JSON.stringify(v) ?? 'null', decode: (t) => JSON.parse(t) as unknown }, leaseMs: 60_000, idempotencyRetentionMs: 60_000 });
    await store.init();
    try {
      await store.heartbeat({ id: 'parent', hostname: 'h', pid: process.pid, startedAt: Date.now(), draining: false });
      const queued = Array.from({ length: 150 }, (_, i) => `q${i}`);
      await store.commit({ ...EMPTY, accepts: queued.map((id) => accept(id, 'queued', undefined)) });
      const running = Array.from({ length: 10 }, (_, i) => `u${i}`);
      const res = await store.commit({ ...EMPTY, accepts: running.map((id) => accept(id, 'running', 'parent')) });
      const outputs = running.flatMap((traceId, i) => {
        const a = res.accepts[i]!;
        if (a.kind !== 'accepted') throw new Error('not accepted');
        return Array.from({ length: 15 }, (_, s) => ({ tenant: 'acme', traceId, epoch: a.row.epoch, seq: s + 1, run: 1, kind: 'output' as const, value: s, consumed: false }));
      });
      await store.commit({ ...EMPTY, outputs });

      const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'test/integration/helpers/sqlite-trace-contender.ts'), path, 'child', 'queued', 'acme', running.join(',')], {
        cwd: ROOT,
        stdio: ['pipe', 'pipe', 'inherit'],
      });
      const lines = createInterface({ input: child.stdout });
      const next = (): Promise<string> => new Promise((ok, fail) => {
        lines.once('line', ok);
        child.once('exit', (code) => fail(new Error(`contender exited (${code})`)));
      });
      expect(await next()).toBe('ready');
      const childResult = next();
      child.stdin.write('go\n');

      const claimed: string[] = [];
      const taken: string[] = [];
      for (;;) {
        let progress = false;
        const c = await store.claim('parent', 'queued', 2);
        claimed.push(...c.map((x) => x.row.traceId));
        progress ||= c.length > 0;
        for (const [i, t] of (await Promise.all(running.map((id) => store.take('acme', id)))).entries()) {
          if (t.kind === 'update') {
            taken.push(`${running[i]!}#${t.update.seq}`);
            progress = true;
          }
        }
        if (!progress) break;
      }
      const theirs = JSON.parse(await childResult) as { claimed: string[]; taken: string[] };
      child.stdin.end();

      const allClaimed = [...claimed, ...theirs.claimed];
      expect(allClaimed).toHaveLength(queued.length);
      expect(new Set(allClaimed)).toEqual(new Set(queued));
      const allTaken = [...taken, ...theirs.taken];
      expect(allTaken).toHaveLength(outputs.length);
      expect(new Set(allTaken).size).toBe(outputs.length);
      // Each side got one owner per claimed trace.
      const owners = await Promise.all(queued.map((id) => store.getTrace('acme', id)));
      expect(owners.filter((r) => r?.owner === 'child').length).toBe(theirs.claimed.length);
    } finally {
      await store.close();
    }
  });
});
