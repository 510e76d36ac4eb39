/**
 * Helpers for the operations tests: the ops HTTP port, gRPC health,
 * captured log lines and Prometheus text parsing.
 */
import * as grpc from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';
import type { DestinationStream } from 'pino';

/** GET `path` on the ops port; status and body. */
export async function opsGet(port: number, path: string): Promise<{ status: number; body: string; contentType: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(5000) });
  return { status: res.status, body: await res.text(), contentType: res.headers.get('content-type') ?? '' };
}

/** One sample of the Prometheus text format. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses Prometheus text exposition (no escapes inside label values are needed by the tests). */
export function parseMetrics(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (m === null) throw new Error(`unparsable metrics line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

/** Samples of `name` whose labels include `labels`. */
export function samples(all: Sample[], name: string, labels: Record<string, string> = {}): Sample[] {
  return all.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
}

/** Sum of the matching samples' values. */
export function total(all: Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples(all, name, labels).reduce((a, s) => a + s.value, 0);
}

/** Scrapes and parses /metrics. */
export async function scrape(opsPort: number): Promise<{ text: string; samples: Sample[] }> {
  const { status, body } = await opsGet(opsPort, '/metrics');
  if (status !== 200) throw new Error(`/metrics answered ${status}`);
  return { text: body, samples: parseMetrics(body) };
}

type HealthClient = grpc.Client & {
  check(req: { service: string }, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res?: { status: string }) => void): void;
  watch(req: { service: string }): grpc.ClientReadableStream<{ status: string }>;
};

/** A grpc.health.v1 client. */
export function healthClient(address: string): HealthClient {
  const Health = grpc.makeClientConstructor(healthService, 'Health');
  return new Health(address, grpc.credentials.createInsecure()) as unknown as HealthClient;
}

/** Health.Check of `service`: the status name, or the error code as `error:<code>`. */
export function healthCheck(client: HealthClient, service: string): Promise<string> {
  return new Promise((resolve) => {
    client.check({ service }, { deadline: Date.now() + 3000 }, (err, res) => resolve(err ? `error:${err.code}` : (res?.status ?? 'none')));
  });
}

/** A pino destination that keeps every line (parsed). */
export function logCapture(): { destination: DestinationStream; lines: Record<string, unknown>[]; raw: string[] } {
  const lines: Record<string, unknown>[] = [];
  const raw: string[] = [];
  return {
    lines,
    raw,
    destination: {
      write(line: string): void {
        raw.push(line);
        try {
          lines.push(JSON.parse(line) as Record<string, unknown>);
        } catch {
          // text format: kept raw only
        }
      },
    },
  };
}
