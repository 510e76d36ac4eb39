/**
 * deploy/kubernetes: every manifest is valid against the Kubernetes schemas
 * (kubernetes-models) or, for Istio and kustomize, against strict zod
 * schemas of the fields we use; and the manifests agree with the server:
 * ports, probes, drain timing, configuration variables, the image.
 */
// Manifests are untyped YAML documents navigated by path; `any` keeps the
// assertions readable (the schemas above are what type-check them).
/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-return */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { loadAll } from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { FlowService } from '../../src/gen/penguiflow/v1/flow_service_pb.js';
import { TENANT_HEADER } from '../../src/server/auth/none.js';
import { CONFIG_VARIABLES, loadConfig } from '../../src/server/config.js';
import { FLOW_SERVICE_NAME } from '../../src/server/server.js';
import { validateKubernetesObject } from './k8s-schema.js';

const ROOT = join(import.meta.dirname, '..', '..');
const DIR = join(ROOT, 'deploy', 'kubernetes');

type Doc = Record<string, any>;
interface Loaded {
  file: string;
  doc: Doc;
}

function yamlFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? yamlFiles(join(dir, e.name)) : /\.ya?ml$/.test(e.name) ? [join(dir, e.name)] : [],
  );
}

const FILES = yamlFiles(DIR).map((f) => relative(DIR, f)).sort();
const DOCS: Loaded[] = FILES.flatMap((file) =>
  loadAll(readFileSync(join(DIR, file), 'utf8'), null, { filename: file })
    .filter((d) => d !== null && d !== undefined)
    .map((doc) => ({ file, doc: doc })),
);

function one(kind: string, name = 'penguiflow'): Doc {
  const found = DOCS.filter((d) => d.doc.kind === kind && d.doc.metadata?.name === name);
  expect(found, `${kind}/${name}`).toHaveLength(1);
  return found[0]!.doc;
}

/** Default of a configuration variable, as the server defines it. */
function defaultOf(variable: string): string {
  const row = CONFIG_VARIABLES.find((v) => v.variable === variable);
  if (row === undefined) throw new Error(`unknown configuration variable ${variable}`);
  return row.default;
}

function durationSeconds(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(text.trim());
  if (m === null) throw new Error(`bad duration ${text}`);
  return Number(m[1]) * ({ ms: 0.001, s: 1, m: 60 } as const)[m[2] as 'ms' | 's' | 'm'];
}

function matches(selector: Record<string, string>, labels: Record<string, string>): boolean {
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

// ---- strict schemas of the Istio and kustomize objects (fields we use) ----
const meta = z.strictObject({ name: z.string().regex(/^[a-z0-9-]+$/), namespace: z.string().optional(), labels: z.record(z.string(), z.string()).optional() });
const selector = z.strictObject({ matchLabels: z.record(z.string(), z.string()).refine((m) => Object.keys(m).length > 0) });
const duration = z.string().regex(/^\d+(\.\d+)?(ms|s|m|h)$/);
const uint = z.number().int().nonnegative();
const destination = z.strictObject({ host: z.string(), port: z.strictObject({ number: z.number().int().min(1).max(65535) }).optional(), subset: z.string().optional() });
const headerOps = z.strictObject({ set: z.record(z.string(), z.string()).optional(), add: z.record(z.string(), z.string()).optional(), remove: z.array(z.string()).optional() });
const stringMatch = z.union([z.strictObject({ exact: z.string() }), z.strictObject({ prefix: z.string() }), z.strictObject({ regex: z.string() })]);

const ISTIO_SCHEMAS: Record<string, z.ZodType> = {
  'security.istio.io/v1/PeerAuthentication': z.strictObject({
    apiVersion: z.literal('security.istio.io/v1'),
    kind: z.literal('PeerAuthentication'),
    metadata: meta,
    spec: z.strictObject({ selector: selector.optional(), mtls: z.strictObject({ mode: z.enum(['UNSET', 'DISABLE', 'PERMISSIVE', 'STRICT']) }), portLevelMtls: z.record(z.string(), z.strictObject({ mode: z.string() })).optional() }),
  }),
  'networking.istio.io/v1/DestinationRule': z.strictObject({
    apiVersion: z.literal('networking.istio.io/v1'),
    kind: z.literal('DestinationRule'),
    metadata: meta,
    spec: z.strictObject({
      host: z.string(),
      trafficPolicy: z.strictObject({
        tls: z.strictObject({ mode: z.enum(['DISABLE', 'SIMPLE', 'MUTUAL', 'ISTIO_MUTUAL']) }).optional(),
        loadBalancer: z.strictObject({ simple: z.enum(['UNSPECIFIED', 'RANDOM', 'PASSTHROUGH', 'ROUND_ROBIN', 'LEAST_REQUEST']) }).optional(),
        connectionPool: z.strictObject({
          http: z.strictObject({ http2MaxRequests: uint.optional(), maxRequestsPerConnection: uint.optional(), idleTimeout: duration.optional(), http1MaxPendingRequests: uint.optional() }).optional(),
          tcp: z.strictObject({ maxConnections: uint.optional(), connectTimeout: duration.optional() }).optional(),
        }).optional(),
        outlierDetection: z.strictObject({
          splitExternalLocalOriginErrors: z.boolean().optional(),
          consecutiveLocalOriginFailures: uint.optional(),
          consecutiveGatewayErrors: uint.optional(),
          consecutive5xxErrors: uint.optional(),
          interval: duration,
          baseEjectionTime: duration,
          maxEjectionPercent: z.number().int().min(0).max(100),
          minHealthPercent: z.number().int().min(0).max(100).optional(),
        }),
      }),
    }),
  }),
  'networking.istio.io/v1/VirtualService': z.strictObject({
    apiVersion: z.literal('networking.istio.io/v1'),
    kind: z.literal('VirtualService'),
    metadata: meta,
    spec: z.strictObject({
      hosts: z.array(z.string()).min(1),
      gateways: z.array(z.string()).optional(),
      http: z.array(
        z.strictObject({
          name: z.string(),
          match: z.array(z.strictObject({ uri: stringMatch.optional(), headers: z.record(z.string(), stringMatch).optional() })).optional(),
          headers: z.strictObject({ request: headerOps.optional(), response: headerOps.optional() }).optional(),
          route: z.array(z.strictObject({ destination, weight: uint.optional() })).min(1),
          retries: z.strictObject({ attempts: uint, perTryTimeout: duration.optional(), retryOn: z.string().regex(/^[a-z0-9-]+(,[a-z0-9-]+)*$/).optional() }),
          timeout: duration.optional(),
        }),
      ).min(1),
    }),
  }),
  'security.istio.io/v1/RequestAuthentication': z.strictObject({
    apiVersion: z.literal('security.istio.io/v1'),
    kind: z.literal('RequestAuthentication'),
    metadata: meta,
    spec: z.strictObject({
      selector,
      jwtRules: z.array(
        z.strictObject({
          issuer: z.string().min(1),
          jwksUri: z.url().optional(),
          jwks: z.string().optional(),
          audiences: z.array(z.string()).optional(),
          forwardOriginalToken: z.boolean().optional(),
          outputClaimToHeaders: z.array(z.strictObject({ header: z.string(), claim: z.string() })).optional(),
        }),
      ).min(1),
    }),
  }),
  'security.istio.io/v1/AuthorizationPolicy': z.strictObject({
    apiVersion: z.literal('security.istio.io/v1'),
    kind: z.literal('AuthorizationPolicy'),
    metadata: meta,
    spec: z.strictObject({
      selector,
      action: z.enum(['ALLOW', 'DENY', 'AUDIT', 'CUSTOM']),
      rules: z.array(
        z.strictObject({
          from: z.array(z.strictObject({ source: z.strictObject({ principals: z.array(z.string()).optional(), requestPrincipals: z.array(z.string()).optional(), namespaces: z.array(z.string()).optional() }) })).optional(),
          to: z.array(z.strictObject({ operation: z.strictObject({ ports: z.array(z.string().regex(/^\d+$/)).optional(), paths: z.array(z.string()).optional(), methods: z.array(z.string()).optional() }) })).optional(),
          when: z.array(z.strictObject({ key: z.string(), values: z.array(z.string()).min(1) })).optional(),
        }),
      ).min(1),
    }),
  }),
  'kustomize.config.k8s.io/v1beta1/Kustomization': z.strictObject({
    apiVersion: z.literal('kustomize.config.k8s.io/v1beta1'),
    kind: z.literal('Kustomization'),
    namespace: z.string().optional(),
    labels: z.array(z.strictObject({ pairs: z.record(z.string(), z.string()), includeSelectors: z.boolean().optional() })).optional(),
    resources: z.array(z.string()).min(1),
  }),
};

describe('deploy/kubernetes manifests', () => {
  it('are found', () => {
    expect(FILES.length).toBeGreaterThanOrEqual(10);
    expect(DOCS.length).toBeGreaterThanOrEqual(FILES.length);
  });

  it.each(DOCS.map((d) => [`${d.file}: ${d.doc.kind}/${d.doc.metadata?.name ?? ''}`, d] as const))('%s is valid against its schema', (_name, { doc }) => {
    const id = `${doc.apiVersion}/${doc.kind}`;
    const istio = ISTIO_SCHEMAS[id];
    if (istio !== undefined) {
      const res = istio.safeParse(doc);
      expect(res.success ? [] : res.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`)).toEqual([]);
    } else {
      expect(validateKubernetesObject(doc)).toEqual([]);
    }
  });

  it('kustomization.yaml lists every manifest (except the Secret example) and nothing else', () => {
    const ks = DOCS.filter((d) => d.doc.kind === 'Kustomization');
    expect(ks).toHaveLength(1);
    const k = ks[0]!.doc;
    const listed = [...(k.resources as string[])].sort();
    expect(listed).toEqual(FILES.filter((f) => f !== 'kustomization.yaml' && f !== 'secret.example.yaml'));
  });

  const deployment = one('Deployment');
  const podSpec = deployment.spec.template.spec;
  const podLabels = deployment.spec.template.metadata.labels as Record<string, string>;
  const container = podSpec.containers[0];
  const configMap = one('ConfigMap', 'penguiflow-config');
  const cm = configMap.data as Record<string, string>;
  const containerPort = (name: string): number => {
    const p = (container.ports as { name: string; containerPort: number }[]).find((x) => x.name === name);
    expect(p, `container port ${name}`).toBeDefined();
    return p!.containerPort;
  };
  const setting = (variable: string): string => cm[variable] ?? defaultOf(variable);

  it('the ConfigMap holds only known PENGUIFLOW_* variables, and they parse', () => {
    const known = new Set(CONFIG_VARIABLES.map((v) => v.variable));
    expect(Object.keys(cm).filter((k) => !known.has(k))).toEqual([]);
    expect(() => loadConfig({ ...cm })).not.toThrow();
    expect(cm.PENGUIFLOW_AUTH).toBe('header');
    expect(cm.PENGUIFLOW_HOST).toBe('0.0.0.0');
  });

  it('the Deployment loads the ConfigMap and sets NODE_ENV=production', () => {
    expect(container.envFrom).toContainEqual({ configMapRef: { name: 'penguiflow-config' } });
    expect(container.env).toContainEqual({ name: 'NODE_ENV', value: 'production' });
  });

  it('container ports are the server defaults (and what the ConfigMap says)', () => {
    expect(containerPort('grpc')).toBe(Number(defaultOf('PENGUIFLOW_PORT')));
    expect(containerPort('http-ops')).toBe(Number(defaultOf('PENGUIFLOW_OPS_PORT')));
    expect(containerPort('grpc')).toBe(Number(setting('PENGUIFLOW_PORT')));
    expect(containerPort('http-ops')).toBe(Number(setting('PENGUIFLOW_OPS_PORT')));
    const ann = deployment.spec.template.metadata.annotations;
    expect(Number(ann['prometheus.io/port'])).toBe(containerPort('http-ops'));
    expect(ann['prometheus.io/path']).toBe('/metrics');
  });

  it('probes: readiness is gRPC health of the FlowService on the gRPC port; liveness and startup are /healthz on the ops port', () => {
    expect(container.readinessProbe.grpc).toEqual({ port: containerPort('grpc'), service: FLOW_SERVICE_NAME });
    for (const probe of [container.livenessProbe, container.startupProbe]) {
      expect(probe.httpGet.path).toBe('/healthz');
      expect(probe.httpGet.port === 'http-ops' || probe.httpGet.port === containerPort('http-ops')).toBe(true);
    }
    // liveness must not kill a pod that takes its full drain: failureThreshold*period above the drain timeout
    const drainS = Number(setting('PENGUIFLOW_DRAIN_TIMEOUT_MS')) / 1000;
    expect(container.livenessProbe.failureThreshold * container.livenessProbe.periodSeconds).toBeGreaterThanOrEqual(drainS);
  });

  it('shutdown timing: preStop + drain timeout fit in the sidecar drain and the termination grace period', () => {
    const drainS = Number(setting('PENGUIFLOW_DRAIN_TIMEOUT_MS')) / 1000;
    const preStop = container.lifecycle.preStop.exec.command as string[];
    expect(preStop[0]).toBe('sleep');
    const preStopS = Number(preStop[1]);
    expect(preStopS).toBeGreaterThan(0);
    const grace = podSpec.terminationGracePeriodSeconds as number;
    expect(grace).toBeGreaterThanOrEqual(preStopS + drainS + 2);
    const proxyConfig = deployment.spec.template.metadata.annotations['proxy.istio.io/config'] as string;
    const sidecarDrain = /terminationDrainDuration:\s*(\S+)/.exec(proxyConfig)?.[1];
    expect(sidecarDrain).toBeDefined();
    expect(durationSeconds(sidecarDrain!)).toBeGreaterThanOrEqual(preStopS + drainS);
    expect(durationSeconds(sidecarDrain!)).toBeLessThan(grace);
  });

  it('runs as the image\'s non-root user with a read-only root filesystem and bounded resources', () => {
    const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
    const user = /^USER\s+(\d+)(?::(\d+))?\s*$/m.exec(dockerfile);
    expect(user, 'Dockerfile USER uid:gid').not.toBeNull();
    expect(podSpec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: Number(user![1]), seccompProfile: { type: 'RuntimeDefault' } });
    expect(container.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true, capabilities: { drop: ['ALL'] } });
    for (const kind of ['requests', 'limits']) {
      expect(container.resources[kind].cpu, `${kind}.cpu`).toBeDefined();
      expect(container.resources[kind].memory, `${kind}.memory`).toBeDefined();
    }
    const mi = (q: string): number => Number(/^(\d+)Mi$/.exec(q)?.[1] ?? NaN);
    const heap = Number(/--max-old-space-size=(\d+)/.exec((container.env as { name: string; value: string }[]).find((e) => e.name === 'NODE_OPTIONS')!.value)?.[1]);
    expect(heap).toBeLessThan(mi(container.resources.limits.memory));
  });

  it('runs the image\'s command: node as PID 1, no npm or shell', () => {
    const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
    const cmd = /^CMD\s+(\[.*\])\s*$/m.exec(dockerfile)?.[1];
    expect(JSON.parse(cmd ?? 'null')).toEqual(['node', 'dist/server/main.js']);
    expect(container.command ?? JSON.parse(cmd!)).toEqual(['node', 'dist/server/main.js']);
    const exposed = /^EXPOSE\s+(.+)$/m.exec(dockerfile)?.[1]?.split(/\s+/).map(Number).sort();
    expect(exposed).toEqual([containerPort('grpc'), containerPort('http-ops')].sort());
    expect(dockerfile).toMatch(/^ENV NODE_ENV=production/m);
    expect(dockerfile).toMatch(/^HEALTHCHECK /m);
  });

  it('Service: gRPC port with appProtocol grpc, selecting the pods', () => {
    const svc = one('Service');
    expect(matches(svc.spec.selector, podLabels)).toBe(true);
    const grpcPort = (svc.spec.ports as Doc[]).find((p) => p.name === 'grpc')!;
    expect(grpcPort).toMatchObject({ port: containerPort('grpc'), appProtocol: 'grpc', targetPort: 'grpc' });
    const ops = (svc.spec.ports as Doc[]).find((p) => p.name === 'http-ops')!;
    expect(ops.port).toBe(containerPort('http-ops'));
  });

  it('PodDisruptionBudget and HPA cover the Deployment', () => {
    const pdb = one('PodDisruptionBudget');
    expect(matches(pdb.spec.selector.matchLabels, podLabels)).toBe(true);
    expect(deployment.spec.selector.matchLabels).toEqual(pdb.spec.selector.matchLabels);
    const hpa = one('HorizontalPodAutoscaler');
    expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: deployment.metadata.name });
    expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(2);
    // the PDB must leave at least one pod up at the HPA minimum
    expect(hpa.spec.minReplicas - (pdb.spec.maxUnavailable as number)).toBeGreaterThanOrEqual(1);
  });

  it('Istio: STRICT mTLS, outlier detection, selectors match the pods', () => {
    expect(one('PeerAuthentication').spec.mtls.mode).toBe('STRICT');
    const dr = one('DestinationRule');
    expect(dr.spec.host).toBe(one('Service').metadata.name);
    expect(dr.spec.trafficPolicy.outlierDetection.maxEjectionPercent).toBeLessThan(100);
    for (const kind of ['PeerAuthentication', 'RequestAuthentication', 'AuthorizationPolicy']) {
      expect(matches(one(kind).spec.selector.matchLabels, podLabels), kind).toBe(true);
    }
  });

  it('Istio: every FlowService RPC has exactly one route; no retries for Emit, Call, CallStream, Fetch, StreamTrace', () => {
    const vs = one('VirtualService');
    const routes = vs.spec.http as Doc[];
    const routeOf = (rpc: string): Doc[] => routes.filter((r) => (r.match as Doc[] | undefined)?.some((m) => m.uri?.exact === `/${FLOW_SERVICE_NAME}/${rpc}`));
    const nonIdempotent = new Set(['Emit', 'Call', 'CallStream', 'Fetch', 'StreamTrace']);
    for (const method of FlowService.methods) {
      const r = routeOf(method.name);
      expect(r, method.name).toHaveLength(1);
      if (nonIdempotent.has(method.name)) expect(r[0]!.retries, method.name).toEqual({ attempts: 0 });
    }
    // the catch-all route (anything not listed) does not retry either
    const fallback = routes.find((r) => r.match === undefined);
    expect(fallback?.retries).toEqual({ attempts: 0 });
    for (const r of routes) expect(r.route[0].destination.port.number).toBe(containerPort('grpc'));
  });

  it('Istio: x-tenant-id is stripped from callers and set from the verified JWT claim', () => {
    const vs = one('VirtualService');
    for (const r of vs.spec.http as Doc[]) expect(r.headers?.request?.remove, r.name).toContain(TENANT_HEADER);
    const ra = one('RequestAuthentication');
    const claims = (ra.spec.jwtRules as Doc[]).map((rule) => (rule.outputClaimToHeaders as Doc[]).find((o) => o.header === TENANT_HEADER)?.claim);
    expect(claims.every((c) => typeof c === 'string' && c.length > 0)).toBe(true);
    const ap = one('AuthorizationPolicy');
    expect(ap.spec.action).toBe('ALLOW');
    const flowRule = (ap.spec.rules as Doc[]).find((r) => (r.to as Doc[]).some((t) => (t.operation.paths as string[]).includes(`/${FLOW_SERVICE_NAME}/*`)))!;
    expect(flowRule.from[0].source.requestPrincipals).toEqual(['*']);
    expect(flowRule.when).toContainEqual({ key: `request.auth.claims[${claims[0]}]`, values: ['*'] });
    // no other ALLOW rule opens the FlowService without a JWT
    for (const r of ap.spec.rules as Doc[]) {
      if (r === flowRule) continue;
      for (const t of r.to as Doc[]) for (const p of (t.operation.paths ?? ['*']) as string[]) expect(p.startsWith(`/${FLOW_SERVICE_NAME}`) || p === '*' || p === '/*').toBe(false);
    }
  });
});
