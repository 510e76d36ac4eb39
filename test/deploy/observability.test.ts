/**
 * deploy/observability: the Prometheus rules pass `promtool check rules`,
 * cover the runbook's starter alerts, and the rules and the Grafana
 * dashboard use only metrics the server exports (the names fixed in issue 5).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { load } from 'js-yaml';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
const RULES = join(ROOT, 'deploy', 'observability', 'alerts.yml');
const DASHBOARD = join(ROOT, 'deploy', 'observability', 'grafana-dashboard.json');

/** Metrics the server defines (issue 5), with the series a histogram expands to. */
const SERVER_METRICS = ['penguiflow_node_events_total', 'penguiflow_queue_depth', 'penguiflow_trace_cancel_start_total', 'penguiflow_trace_cancel_finish_total', 'penguiflow_deadline_skip_total', 'penguiflow_traces_inflight', 'grpc_server_started_total', 'grpc_server_handled_total'];
const SERVER_HISTOGRAMS = ['penguiflow_node_latency_ms', 'grpc_server_handling_seconds'];
/** prom-client's default process metrics (collectDefaultMetrics, no prefix) that the dashboard uses. */
const PROCESS_METRICS = ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_p99_seconds', 'nodejs_heap_size_used_bytes'];
const ALLOWED = new Set([...SERVER_METRICS, ...SERVER_HISTOGRAMS.flatMap((h) => [`${h}_bucket`, `${h}_sum`, `${h}_count`]), ...PROCESS_METRICS]);

const PROMQL_WORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless', 'offset', 'bool', 'inf', 'nan']);

/** Metric names an expression selects (not functions, labels, keywords or template variables). */
export function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""') // label values, strings
    .replace(/\{[^}]*\}/g, '') // label matchers
    .replace(/\[[^\]]*\]/g, '') // ranges, subqueries
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ') // label lists
    .replace(/\$\{?\w+\}?/g, ' ') // Grafana variables
    .replace(/\b\d+(\.\d+)?([eE][+-]?\d+)?(ms|s|m|h|d|w|y)?\b/g, ' '); // numbers, durations
  const names = new Set<string>();
  for (const m of stripped.matchAll(/([A-Za-z_:][A-Za-z0-9_:]*)\s*(\()?/g)) {
    const [, name, call] = m;
    if (call !== undefined || PROMQL_WORDS.has(name!.toLowerCase())) continue;
    names.add(name!);
  }
  return [...names];
}

function collectExprs(node: unknown, out: string[] = []): string[] {
  if (Array.isArray(node)) for (const n of node) collectExprs(n, out);
  else if (typeof node === 'object' && node !== null) {
    for (const [k, v] of Object.entries(node)) {
      if (k === 'expr' && typeof v === 'string') out.push(v);
      else collectExprs(v, out);
    }
  }
  return out;
}

interface Rule {
  alert?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
const rules = load(readFileSync(RULES, 'utf8')) as { groups: { name: string; rules: Rule[] }[] };
const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { title: string; panels: { type: string; title: string }[] };

describe('metricNames', () => {
  it('finds selected metrics and ignores functions, labels, keywords and variables', () => {
    expect(metricNames('histogram_quantile(0.99, sum by (flow, le) (rate(penguiflow_node_latency_ms_bucket{flow=~"$flow",outcome="success"}[$__rate_interval] offset 1d)))').sort()).toEqual(['penguiflow_node_latency_ms_bucket']);
    expect(metricNames('a_total / on (x) group_left (y) b_total > 0.8 * 64 and c').sort()).toEqual(['a_total', 'b_total', 'c']);
  });
});

describe('alert rules (deploy/observability/alerts.yml)', () => {
  it('pass promtool check rules', (ctx) => {
    const found = spawnSync('promtool', ['--version'], { stdio: 'ignore' });
    if (found.error !== undefined) {
      if (process.env.CI === 'true') throw new Error('promtool is required in CI (apt-get install prometheus)');
      ctx.skip();
      return;
    }
    const out = execFileSync('promtool', ['check', 'rules', RULES], { encoding: 'utf8' });
    expect(out).toMatch(/SUCCESS: \d+ rules found/);
  });

  it('cover the runbook starter alerts: saturation, timeout regression, error regression, retry storm, deadline misconfiguration, cancellation spike', () => {
    const alerts = rules.groups.flatMap((g) => g.rules.map((r) => r.alert ?? ''));
    for (const needed of ['PenguiFlowQueueSaturated', 'PenguiFlowNodeLatencyRegression', 'PenguiFlowNodeTimeoutRate', 'PenguiFlowNodeErrorRegression', 'PenguiFlowRetryStorm', 'PenguiFlowDeadlineMisconfiguration', 'PenguiFlowCancellationSpike']) {
      expect(alerts).toContain(needed);
    }
  });

  it('every alert has a severity, a summary and a `for` duration', () => {
    for (const r of rules.groups.flatMap((g) => g.rules)) {
      expect(r.labels?.severity, r.alert).toMatch(/^(warning|critical)$/);
      expect(r.annotations?.summary, r.alert).toBeTruthy();
      expect(r.for, r.alert).toMatch(/^\d+[smh]$/);
    }
  });

  it('use only metrics the server exports (and Prometheus\' own `up`)', () => {
    const used = rules.groups.flatMap((g) => g.rules.flatMap((r) => metricNames(r.expr)));
    expect(used.filter((m) => !ALLOWED.has(m) && m !== 'up')).toEqual([]);
  });
});

describe('Grafana dashboard (deploy/observability/grafana-dashboard.json)', () => {
  it('has the runbook\'s four sections', () => {
    const rows = dashboard.panels.filter((p) => p.type === 'row').map((p) => p.title);
    expect(rows).toEqual(['System overview', 'Saturation', 'Reliability', 'Control plane']);
  });

  it('references only metric names the server defines', () => {
    const exprs = collectExprs(dashboard);
    expect(exprs.length).toBeGreaterThan(20);
    const used = new Set(exprs.flatMap(metricNames));
    expect([...used].filter((m) => !ALLOWED.has(m))).toEqual([]);
  });

  it('shows every server metric at least once', () => {
    const used = new Set(collectExprs(dashboard).flatMap(metricNames));
    for (const m of SERVER_METRICS) expect(used.has(m), m).toBe(true);
    for (const h of SERVER_HISTOGRAMS) expect(used.has(`${h}_bucket`), h).toBe(true);
  });

  it('panels have unique ids and grid positions inside 24 columns', () => {
    const panels = dashboard.panels as unknown as { id: number; gridPos: { x: number; w: number } }[];
    expect(new Set(panels.map((p) => p.id)).size).toBe(panels.length);
    for (const p of panels) expect(p.gridPos.x + p.gridPos.w).toBeLessThanOrEqual(24);
  });
});
