import type { Context } from './context.js';
import { isMessage } from './message.js';
import type { Node } from './node.js';

/** What a router asks its policy. */
export interface RoutingRequest {
  /** The message being routed. */
  message: unknown;
  /** Names of the successors the router itself proposed. */
  proposed: string[];
  /** Names of all the router's successors. */
  successors: string[];
  routerName: string;
  traceId: string | undefined;
  context: Context;
}

/**
 * Overrides a router's decision. Returns successor name(s) to route to, or
 * `undefined` to keep the router's own proposal; `null` or `[]` drops the message.
 */
export interface RoutingPolicy {
  select(request: RoutingRequest): string | string[] | null | undefined;
}

/** Options of {@link DictRoutingPolicy}. */
export interface DictRoutingPolicyOptions {
  /** Used when the key is missing from the mapping; absent keeps the router's proposal. */
  default?: string | string[] | null;
  /** Extracts the lookup key; default the message's `headers.tenant`. */
  keyGetter?: (request: RoutingRequest) => string | undefined;
}

function defaultKey(request: RoutingRequest): string | undefined {
  return isMessage(request.message) ? request.message.headers.tenant : undefined;
}

/**
 * A {@link RoutingPolicy} backed by a key → successor(s) mapping, loadable
 * from JSON or an environment variable so operators can re-route without a
 * code change (e.g. per-tenant model tiers).
 */
export class DictRoutingPolicy implements RoutingPolicy {
  readonly mapping: Readonly<Record<string, string | string[] | null>>;
  readonly default: string | string[] | null | undefined;
  readonly #keyGetter: (request: RoutingRequest) => string | undefined;

  constructor(mapping: Record<string, string | string[] | null>, opts: DictRoutingPolicyOptions = {}) {
    this.mapping = { ...mapping };
    this.default = opts.default;
    this.#keyGetter = opts.keyGetter ?? defaultKey;
  }

  select(request: RoutingRequest): string | string[] | null | undefined {
    const key = this.#keyGetter(request);
    if (key !== undefined && Object.hasOwn(this.mapping, key)) return this.mapping[key];
    return this.default;
  }

  /**
   * Parses `{ "mapping": {...}, "default": ... }` or a bare mapping object,
   * given as JSON text or an already-parsed value.
   *
   * @throws TypeError when the JSON is not such an object or a value is not a name, list of names or null.
   */
  static fromJson(json: unknown, opts: Omit<DictRoutingPolicyOptions, 'default'> = {}): DictRoutingPolicy {
    const parsed: unknown = typeof json === 'string' ? JSON.parse(json) : json;
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new TypeError('routing policy JSON must be an object');
    }
    const obj = parsed as Record<string, unknown>;
    const hasEnvelope = 'mapping' in obj && typeof obj.mapping === 'object' && obj.mapping !== null;
    const rawMapping = (hasEnvelope ? obj.mapping : obj) as Record<string, unknown>;
    const mapping: Record<string, string | string[] | null> = {};
    for (const [k, v] of Object.entries(rawMapping)) mapping[k] = checkTarget(v, k);
    const def = hasEnvelope && 'default' in obj ? checkTarget(obj.default, 'default') : undefined;
    return new DictRoutingPolicy(mapping, { ...opts, ...(def === undefined ? {} : { default: def }) });
  }

  /**
   * Reads the JSON of {@link DictRoutingPolicy.fromJson} from environment variable `name`.
   *
   * @throws Error when the variable is unset or empty.
   */
  static fromEnv(name: string, opts: Omit<DictRoutingPolicyOptions, 'default'> & { env?: NodeJS.ProcessEnv } = {}): DictRoutingPolicy {
    const raw = (opts.env ?? process.env)[name];
    if (raw === undefined || raw.trim() === '') throw new Error(`environment variable ${name} is not set`);
    return DictRoutingPolicy.fromJson(raw, opts);
  }
}

function checkTarget(v: unknown, key: string): string | string[] | null {
  if (v === null || typeof v === 'string') return v;
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v;
  throw new TypeError(`routing target for ${JSON.stringify(key)} must be a node name, a list of names or null`);
}

/** Resolves a policy answer to successor nodes, rejecting names that are not successors. */
export function resolveTargets(answer: string | string[] | null, successors: readonly Node[], routerName: string): Node[] {
  if (answer === null) return [];
  const names = typeof answer === 'string' ? [answer] : answer;
  return names.map((n) => {
    const node = successors.find((s) => s.name === n);
    if (!node) throw new Error(`router ${routerName}: ${JSON.stringify(n)} is not a successor`);
    return node;
  });
}
