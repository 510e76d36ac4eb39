/**
 * A real Prometheus (Debian package `prometheus`) scrapes a server under
 * real traffic; rule expressions are evaluated through its HTTP API, and
 * the alert rules of deploy/observability/ are loaded and evaluated
 * without errors.
 *
 * Skipped with a message only when the binary is missing outside CI; in CI
 * (CI set) a missing binary fails.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { setTimeout as delay } from 'node:timers/promises';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, value, type Harness } from './helpers/harness.js';

const ROOT = resolve(import.meta.dirname, '../..');
const ALERTS = join(ROOT, 'deploy/observability/alerts.yml');
const PROMETHEUS = process.env.PROMETHEUS_BIN ?? 'prometheus';
const found = spawnSync(PROMETHEUS, ['--version'], { encoding: 'utf8' }).status === 0;
const inCi = process.env.CI !== undefined && process.env.CI !== '' && process.env.CI !== 'false';

if (!found && !inCi) {
  console.warn(`ops-prometheus: skipped: the \`${PROMETHEUS}\` binary is not installed (apt-get install -y prometheus); this test is mandatory in CI`);
}

function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => ok(port));
    });
  });
}

interface QueryResult {
  metric: Record<string, string>;
  value: [number, string];
}

describe.skipIf(!found && !inCi)('a real Prometheus scraping the server', () => {
  let h: Harness;
  let prom: ChildProcess | undefined;
  let promUrl = '';
  let tmp = '';
  let stopTraffic = false;
  let traffic: Promise<void> = Promise.resolve();
  let promLog = '';

  async function api<T>(path: string): Promise<T> {
    const res = await fetch(`${promUrl}${path}`, { signal: AbortSignal.timeout(5000) });
    const body = (await res.json()) as { status: string; data: T; error?: string };
    if (body.status !== 'success') throw new Error(`prometheus ${path}: ${body.error}`);
    return body.data;
  }

  async function query(expr: string): Promise<QueryResult[]> {
    const data = await api<{ resultType: string; result: QueryResult[] }>(`/api/v1/query?query=${encodeURIComponent(expr)}`);
    return data.result;
  }

  async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 40_000): Promise<T> {
    const end = Date.now() + timeoutMs;
    let last: unknown;
    for (;;) {
      try {
        const v = await fn();
        if (v !== undefined) return v;
      } catch (err) {
        last = err;
      }
      if (Date.now() > end) throw new Error(`${what}: not met in time (${String(last)})\n${promLog.slice(-2000)}`);
      // Prometheus scrapes and evaluates once a second: re-ask at a fraction of that.
      await delay(250);
    }
  }

  beforeAll(async () => {
    if (!found) throw new Error(`CI is set but the \`${PROMETHEUS}\` binary is missing: install the Debian package prometheus (apt-get install -y prometheus)`);
    h = await startHarness();
    tmp = mkdtempSync(join(tmpdir(), 'penguiflow-prom-'));
    const rules = join(tmp, 'rules.yml');
    writeFileSync(
      rules,
      `groups:
  - name: penguiflow-test
    interval: 1s
    rules:
      - record: flow:penguiflow_node_success:rate5s
        expr: sum by (flow) (rate(penguiflow_node_events_total{event_type="node_success"}[5s]))
      - alert: PenguiFlowTrafficSeen
        expr: sum by (flow) (rate(penguiflow_node_events_total{event_type="node_start"}[5s])) > 0
`,
    );
    const ruleFiles = [rules, ...(existsSync(ALERTS) ? [ALERTS] : [])];
    const config = join(tmp, 'prometheus.yml');
    writeFileSync(
      config,
      `global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
${ruleFiles.map((f) => `  - ${JSON.stringify(f)}`).join('\n')}
scrape_configs:
  - job_name: penguiflow
    scrape_interval: 1s
    static_configs:
      - targets: ['127.0.0.1:${h.server.opsPort}']
`,
    );
    // Free ports can be taken between probing and binding: retry a few times.
    for (let attempt = 0; attempt < 3 && prom === undefined; attempt++) {
      const port = await freePort();
      const child = spawn(
        PROMETHEUS,
        [`--config.file=${config}`, `--storage.tsdb.path=${join(tmp, `data-${attempt}`)}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      child.stdout.on('data', (d: Buffer) => (promLog += d.toString()));
      child.stderr.on('data', (d: Buffer) => (promLog += d.toString()));
      promUrl = `http://127.0.0.1:${port}`;
      const exited = new Promise<boolean>((ok) => child.once('exit', () => ok(false)));
      const ready = (async () => {
        for (let i = 0; i < 80; i++) {
          try {
            if ((await fetch(`${promUrl}/-/ready`, { signal: AbortSignal.timeout(1000) })).ok) return true;
          } catch {
            // not up yet
          }
          await delay(250);
        }
        return false;
      })();
      if (await Promise.race([ready, exited])) prom = child;
      else child.kill('SIGKILL');
    }
    if (prom === undefined) throw new Error(`prometheus did not start:\n${promLog}`);

    // Real traffic: a steady trickle of calls over several scrapes.
    traffic = (async () => {
      let i = 0;
      while (!stopTraffic) {
        await Promise.all([
          h.client.unary('Call', { flow: 'chain5', message: { payload: value({ n: i }) } }, { timeoutMs: 5000 }),
          h.client.unary('Call', { flow: 'flaky', message: { payload: value({ n: i }) } }, { timeoutMs: 5000 }).catch(() => undefined),
        ]);
        i++;
        // Pacing, not synchronisation: a steady trickle over several scrapes.
        await delay(25);
      }
    })();
  }, 60_000);

  afterAll(async () => {
    stopTraffic = true;
    await traffic.catch(() => undefined);
    prom?.kill('SIGTERM');
    if (prom !== undefined && prom.exitCode === null) await new Promise((ok) => prom!.once('exit', ok));
    await h?.stop();
    if (tmp !== '') rmSync(tmp, { recursive: true, force: true });
  }, 30_000);

  it('scrapes the ops port successfully', async () => {
    const up = await until('up == 1', async () => {
      const r = await query('up{job="penguiflow"}');
      return r[0]?.value[1] === '1' ? r : undefined;
    });
    expect(up).toHaveLength(1);
  }, 60_000);

  it('evaluates rate() expressions over the node and gRPC metrics', async () => {
    const rate = await until('node success rate > 0', async () => {
      const r = await query('sum by (flow) (rate(penguiflow_node_events_total{event_type="node_success"}[5s])) > 0');
      return r.some((s) => s.metric.flow === 'chain5') ? r : undefined;
    });
    expect(Number(rate.find((s) => s.metric.flow === 'chain5')!.value[1])).toBeGreaterThan(0);

    const grpcRate = await query('sum by (grpc_method, grpc_code) (rate(grpc_server_handled_total{grpc_service="penguiflow.v1.FlowService"}[5s])) > 0');
    expect(grpcRate.some((s) => s.metric.grpc_method === 'Call' && s.metric.grpc_code === 'OK')).toBe(true);

    const p99 = await query('histogram_quantile(0.99, sum by (le) (rate(penguiflow_node_latency_ms_bucket{flow="chain5",outcome="success"}[5s])))');
    expect(p99).toHaveLength(1);
    expect(Number.isFinite(Number(p99[0]!.value[1]))).toBe(true);

    // No series carries a trace id label.
    const labels = await api<string[]>('/api/v1/labels');
    expect(labels).not.toContain('trace_id');
  }, 60_000);

  it('evaluates recording and alerting rules against the traffic', async () => {
    const recorded = await until('recording rule', async () => {
      const r = await query('flow:penguiflow_node_success:rate5s{flow="chain5"} > 0');
      return r.length > 0 ? r : undefined;
    });
    expect(recorded).toHaveLength(1);
    const firing = await until('alert firing', async () => {
      const r = await query('ALERTS{alertname="PenguiFlowTrafficSeen", alertstate="firing", flow="chain5"}');
      return r.length > 0 ? r : undefined;
    });
    expect(firing).toHaveLength(1);

    // The shipped alert rules load and evaluate without errors against the real series.
    if (existsSync(ALERTS)) {
      const data = await until('shipped rules evaluated', async () => {
        const d = await api<{ groups: { file: string; rules: { name: string; health: string; lastError?: string; lastEvaluation: string }[] }[] }>('/api/v1/rules');
        const shipped = d.groups.filter((g) => g.file === ALERTS);
        return shipped.length > 0 && shipped.every((g) => g.rules.every((r) => !r.lastEvaluation.startsWith('0001'))) ? shipped : undefined;
      });
      for (const g of data) for (const r of g.rules) expect(r.health, `${r.name}: ${r.lastError ?? ''}`).toBe('ok');
    }
  }, 60_000);
});
