/**
 * Schema validation of Kubernetes manifests with kubernetes-models (the
 * OpenAPI schemas of Kubernetes 1.27), plus the check those schemas leave
 * out: unknown fields. The generated validators read every property the
 * schema knows, so validating through a recording Proxy tells which keys of
 * the manifest no schema looked at (a typo such as `readinesProbe` would
 * otherwise pass silently, as the API server's lenient decoding would drop it).
 */
import { Deployment } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, Namespace, Secret, Service, ServiceAccount } from 'kubernetes-models/v1';

interface Validatable {
  validate(): void;
}
type ModelCtor = new (data: object) => Validatable;

/** `apiVersion/kind` -> model class, for every kind our manifests use. */
export const KUBERNETES_MODELS: Readonly<Record<string, ModelCtor>> = {
  'apps/v1/Deployment': Deployment,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'v1/ConfigMap': ConfigMap,
  'v1/Namespace': Namespace,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'v1/ServiceAccount': ServiceAccount,
};

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A deep proxy of `root` that records, per object path, which keys were read. */
function recorder(root: object): { proxy: object; unread: () => string[] } {
  const seen = new Map<string, Set<string>>();
  const objects = new Map<string, Record<string, unknown>>();
  const wrap = (value: unknown, path: string): unknown => {
    if (typeof value !== 'object' || value === null) return value;
    if (isPlainObject(value)) objects.set(path, value);
    return new Proxy(value, {
      get(target, key, receiver) {
        const v: unknown = Reflect.get(target, key, receiver);
        if (typeof key !== 'string') return v;
        if (!seen.has(path)) seen.set(path, new Set());
        seen.get(path)!.add(key);
        return Object.prototype.hasOwnProperty.call(target, key) ? wrap(v, `${path}/${key}`) : v;
      },
    });
  };
  const proxy = wrap(root, '') as object;
  return {
    proxy,
    unread: () => {
      const out: string[] = [];
      for (const [path, obj] of objects) {
        const read = seen.get(path) ?? new Set<string>();
        for (const key of Object.keys(obj)) if (!read.has(key)) out.push(`${path}/${key}`);
      }
      return out;
    },
  };
}

/**
 * Validates one Kubernetes object; returns the problems (empty when valid).
 * Unknown `apiVersion/kind` is a problem too: add its model above.
 */
export function validateKubernetesObject(doc: Record<string, unknown>): string[] {
  const id = `${String(doc.apiVersion)}/${String(doc.kind)}`;
  const Ctor = KUBERNETES_MODELS[id];
  if (Ctor === undefined) return [`no schema for ${id}`];
  const model = new Ctor(doc);
  const rec = recorder(JSON.parse(JSON.stringify(doc)) as object);
  try {
    (Ctor.prototype as Validatable).validate.call(rec.proxy);
  } catch (err) {
    return [(err as Error).message];
  }
  // also through the real instance (the documented way), for good measure
  try {
    model.validate();
  } catch (err) {
    return [(err as Error).message];
  }
  return rec.unread().map((p) => `unknown field ${p}`);
}
