/**
 * Server configuration: `PENGUIFLOW_*` environment variables, an optional
 * JSON file, defaults; validated with zod once, at start.
 *
 * Precedence: environment variable > config file > default. An empty
 * environment variable counts as unset (shells and container specs often
 * export empty values by accident).
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { DEFAULT_STORE, parseDuration, parseStoreSpec } from '../state/store-spec.js';

/** How callers are authenticated (DESIGN §3). */
import type { AuthMode } from '../rpc/call.js';

export type { AuthMode };

/** pino log levels accepted by `PENGUIFLOW_LOG_LEVEL`. */
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

/** The validated server configuration. Times are milliseconds, sizes bytes. */
export interface ServerConfig {
  /** Interface the gRPC server binds to. */
  host: string;
  /** gRPC port; 0 binds an ephemeral port (the bound port is logged and returned by `startServer`). */
  port: number;
  /** HTTP port for /metrics, /healthz and /readyz; 0 binds an ephemeral port (logged, and returned by `startServer`). */
  opsPort: number;
  /** Capacity of every edge of the hosted flows and of each trace's server-side output log; 0 = unbounded. */
  queueMaxsize: number;
  /** Largest request accepted; larger payloads are INVALID_ARGUMENT (far larger ones are refused by the transport). */
  maxMessageBytes: number;
  /** Deepest JSON nesting accepted in `payload` and `meta`. */
  maxPayloadDepth: number;
  /** Most top-level keys accepted in `meta`. */
  maxMetaKeys: number;
  /** Authentication mode. */
  auth: AuthMode;
  /** Minimum log level. */
  logLevel: LogLevel;
  /** Flow modules to host, besides the demo flows (absolute paths or paths relative to the working directory). */
  flows: string[];
  /** Host the demo flows (echo, chain5, stream, fanout, slow, flaky). */
  demoFlows: boolean;
  /** Cancel the trace when a Call/CallStream client cancels or its deadline passes. */
  cancelOnDisconnect: boolean;
  /** How long an ended trace (its unread outputs, final status, events) and an idempotency key are remembered. */
  traceRetentionMs: number;
  /** Most ended traces remembered per flow, and ended traces' event histories kept in total (oldest forgotten first), on top of the retention time. */
  maxRetainedTraces: number;
  /** How long Emit/Call/CallStream wait for room on a full ingress queue before RESOURCE_EXHAUSTED. */
  admissionWaitMs: number;
  /** On SIGTERM, how long in-flight calls may run before they are cut off. */
  drainTimeoutMs: number;
  /**
   * Where event history, trace ownership and idempotency keys are kept:
   * `memory`, `sqlite:<path>` or a `postgres://` URL. `loadConfig` (the
   * process) defaults to the SQLite file `./data/penguiflow.db`;
   * `resolveConfig` (in-process embedding and tests) defaults to `memory`.
   */
  store: string;
  /** Stored events and trace records older than this are pruned by a background job; 0 keeps them forever. */
  historyRetentionMs: number;
  /** Log line format: `json` (structured, one object per line) or `text` (human-readable). */
  logFormat: 'json' | 'text';
  /** Extra pino redaction paths, on top of payloads, meta and credentials. */
  logRedact: string[];
  /** Log message payloads (access log, flow events); off by default: payloads are redacted everywhere. */
  logPayloads: boolean;
  /** One access log line per RPC at info. */
  accessLog: boolean;
  /** Write every log line to stdout synchronously (before the call that logs returns) instead of buffered and asynchronously. */
  logSync: boolean;
  /** Add a `tenant` label to the per-node and gRPC metrics (cardinality grows with the number of tenants). */
  metricsTenantLabel: boolean;
  /** Most traces one tenant may have in flight (admitted, not ended) across all flows; 0 = unlimited. */
  tenantMaxInflight: number;
  /** `jwt` mode: HS256 shared secret (at least 32 bytes); exclusive with `jwksFile`. */
  jwtSecret: string;
  /** `jwt` mode: path of a JWKS file (RS256/ES256 public keys); exclusive with `jwtSecret`. */
  jwksFile: string;
  /** `jwt` mode: required `iss` when non-empty. */
  jwtIssuer: string;
  /** `jwt` mode: required `aud` (one of, comma-separated) when non-empty. */
  jwtAudience: string;
  /** `jwt` mode: tolerated clock skew for `exp` and `nbf`. */
  jwtClockSkewMs: number;
  /** `jwt` mode: the claim naming the caller's tenant. */
  tenantClaim: string;
  /** PEM certificate chain of the server; with `tlsKey`, the server speaks TLS (required in `mtls` mode). */
  tlsCert: string;
  /** PEM private key of the server. */
  tlsKey: string;
  /** `mtls` mode: PEM CA bundle that client certificates must chain to. */
  tlsClientCa: string;
}

export { ConfigError } from '../host/config-error.js';
import { ConfigError } from '../host/config-error.js';

interface VariableSpec<T> {
  env: string;
  default: T;
  meaning: string;
  /** Human description of a valid value, used in the error line. */
  expect: string;
  schema: z.ZodType<T>;
}

function intSchema(min: number, max: number): z.ZodType<number> {
  return z
    .union([z.number(), z.string().trim().regex(/^[+-]?\d+$/).transform(Number)])
    .pipe(z.number().int().min(min).max(max));
}

/** The words a boolean variable accepts (any case, surrounding spaces ignored); `expect` lines name them. */
const TRUE_WORDS = ['true', '1', 'yes', 'on'];
const FALSE_WORDS = ['false', '0', 'no', 'off'];

const boolSchema: z.ZodType<boolean> = z.union([z.boolean(), z.string().trim().pipe(z.stringbool({ truthy: TRUE_WORDS, falsy: FALSE_WORDS }))]);

function enumSchema<const T extends readonly [string, ...string[]]>(values: T): z.ZodType<T[number]> {
  return z.string().trim().toLowerCase().pipe(z.enum(values));
}

const listSchema: z.ZodType<string[]> = z.union([
  z.array(z.string().trim().min(1)),
  z.string().transform((s) =>
    s
      .split(',')
      .map((p) => p.trim())
      .filter((p) => p.length > 0),
  ),
]);

const MAX_MS = 7 * 24 * 3600 * 1000;

/** A pino redaction path: dot-separated identifiers or `*`, with `["quoted"]` segments for other keys. */
const REDACT_PATH = /^(?:[A-Za-z_$][\w$]*|\*|\["[^"\\]+"\])(?:\.(?:[A-Za-z_$][\w$]*|\*)|\["[^"\\]+"\]|\[\*\])*$/;

const VARIABLES: { [K in keyof ServerConfig]: VariableSpec<ServerConfig[K]> } = {
  host: {
    env: 'PENGUIFLOW_HOST',
    default: '0.0.0.0',
    meaning: 'Interface the gRPC server binds to.',
    expect: 'a non-empty host name or IP address',
    schema: z.string().trim().min(1).max(255),
  },
  port: {
    env: 'PENGUIFLOW_PORT',
    default: 50051,
    meaning: 'gRPC port; 0 picks a free port (logged at start).',
    expect: 'an integer from 0 to 65535',
    schema: intSchema(0, 65535),
  },
  opsPort: {
    env: 'PENGUIFLOW_OPS_PORT',
    default: 9464,
    meaning: 'HTTP port for /metrics, /healthz and /readyz (same interface as the gRPC port); 0 picks a free port (logged at start).',
    expect: 'an integer from 0 to 65535',
    schema: intSchema(0, 65535),
  },
  queueMaxsize: {
    env: 'PENGUIFLOW_QUEUE_MAXSIZE',
    default: 64,
    meaning: 'Capacity of every edge queue and of each trace\'s output buffer; 0 = unbounded.',
    expect: 'an integer from 0 to 1000000',
    schema: intSchema(0, 1_000_000),
  },
  maxMessageBytes: {
    env: 'PENGUIFLOW_MAX_MESSAGE_BYTES',
    default: 4 * 1024 * 1024,
    meaning: 'Largest request in bytes; larger payloads are INVALID_ARGUMENT.',
    expect: 'an integer from 1024 to 268435456',
    schema: intSchema(1024, 256 * 1024 * 1024),
  },
  maxPayloadDepth: {
    env: 'PENGUIFLOW_MAX_PAYLOAD_DEPTH',
    default: 32,
    meaning: 'Deepest JSON nesting accepted in payload and meta.',
    expect: 'an integer from 1 to 1000',
    schema: intSchema(1, 1000),
  },
  maxMetaKeys: {
    env: 'PENGUIFLOW_MAX_META_KEYS',
    default: 64,
    meaning: 'Most top-level keys accepted in a message\'s meta.',
    expect: 'an integer from 0 to 100000',
    schema: intSchema(0, 100_000),
  },
  auth: {
    env: 'PENGUIFLOW_AUTH',
    default: 'none',
    meaning: 'Authentication: none (local development only; refused when NODE_ENV=production), jwt, mtls or header.',
    expect: 'one of none, jwt, mtls, header',
    schema: enumSchema(['none', 'jwt', 'mtls', 'header'] as const),
  },
  logLevel: {
    env: 'PENGUIFLOW_LOG_LEVEL',
    default: 'info',
    meaning: 'Minimum log level (JSON logs on stdout).',
    expect: 'one of fatal, error, warn, info, debug, trace, silent',
    schema: enumSchema(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const),
  },
  flows: {
    env: 'PENGUIFLOW_FLOWS',
    default: [],
    meaning: 'Comma-separated flow modules to host (each default-exports defineFlow(...)); relative paths resolve against the working directory.',
    expect: 'a comma-separated list of module paths',
    schema: listSchema,
  },
  demoFlows: {
    env: 'PENGUIFLOW_DEMO_FLOWS',
    default: true,
    meaning: 'Host the demo flows echo, chain5, stream, fanout, slow and flaky.',
    expect: 'true or false',
    schema: boolSchema,
  },
  cancelOnDisconnect: {
    env: 'PENGUIFLOW_CANCEL_ON_DISCONNECT',
    default: true,
    meaning: 'Cancel the trace when a Call/CallStream client cancels or its deadline passes.',
    expect: 'true or false',
    schema: boolSchema,
  },
  traceRetentionMs: {
    env: 'PENGUIFLOW_TRACE_RETENTION_MS',
    default: 300_000,
    meaning: 'How long an ended trace (unread outputs, final status) and an idempotency key are remembered; its event history follows PENGUIFLOW_HISTORY_RETENTION.',
    expect: `an integer from 0 to ${MAX_MS}`,
    schema: intSchema(0, MAX_MS),
  },
  maxRetainedTraces: {
    env: 'PENGUIFLOW_MAX_RETAINED_TRACES',
    default: 10_000,
    meaning: 'Most ended traces remembered per flow; with PENGUIFLOW_STORE=memory also the most ended traces whose event history is kept (all flows). The oldest are forgotten first.',
    expect: 'an integer from 0 to 10000000',
    schema: intSchema(0, 10_000_000),
  },
  admissionWaitMs: {
    env: 'PENGUIFLOW_ADMISSION_WAIT_MS',
    default: 5_000,
    meaning: 'How long Emit/Call/CallStream wait for room on a full ingress queue before RESOURCE_EXHAUSTED.',
    expect: 'an integer from 0 to 600000',
    schema: intSchema(0, 600_000),
  },
  store: {
    env: 'PENGUIFLOW_STORE',
    default: DEFAULT_STORE,
    meaning: 'Where event history, trace ownership and idempotency keys are kept: memory (bounded by PENGUIFLOW_MAX_RETAINED_TRACES; lost on restart), sqlite:<path> (embedded, WAL) or a postgres:// URL (clusters; schema migrated at start).',
    expect: 'memory, sqlite:<path> or a postgres:// URL',
    schema: z.string().trim().refine((v) => parseStoreSpec(v) !== undefined),
  },
  historyRetentionMs: {
    env: 'PENGUIFLOW_HISTORY_RETENTION',
    default: 7 * 24 * 3600 * 1000,
    meaning: 'How long stored events and trace records are kept before a background job prunes them: milliseconds or a duration such as 7d, 12h, 30m; 0 keeps them forever.',
    expect: 'milliseconds or a duration such as 7d, 12h, 30m, 45s',
    schema: z
      .union([z.number(), z.string()])
      .transform((v) => parseDuration(v) ?? -1)
      .pipe(z.number().int().min(0)),
  },
  drainTimeoutMs: {
    env: 'PENGUIFLOW_DRAIN_TIMEOUT_MS',
    default: 10_000,
    meaning: 'On SIGTERM/SIGINT, how long in-flight calls may finish before they are cut off.',
    expect: 'an integer from 0 to 600000',
    schema: intSchema(0, 600_000),
  },
  logFormat: {
    env: 'PENGUIFLOW_LOG_FORMAT',
    default: 'json',
    meaning: 'Log format on stdout: json (structured, one object per line) or text (human-readable).',
    expect: 'one of json, text',
    schema: enumSchema(['json', 'text'] as const),
  },
  logRedact: {
    env: 'PENGUIFLOW_LOG_REDACT',
    default: [],
    meaning: 'Comma-separated extra log paths to redact (pino paths such as user.email, *.ssn or headers["x-api-key"]); payloads, meta and credentials are always redacted.',
    expect: 'a comma-separated list of paths like a.b, *.c or a["x-y"]',
    schema: listSchema.pipe(z.array(z.string().regex(REDACT_PATH))),
  },
  logPayloads: {
    env: 'PENGUIFLOW_LOG_PAYLOADS',
    default: false,
    meaning: 'Log message payloads (the access log then carries the request payload). Off by default: payloads never reach the logs.',
    expect: 'true or false',
    schema: boolSchema,
  },
  accessLog: {
    env: 'PENGUIFLOW_ACCESS_LOG',
    default: true,
    meaning: 'Write one access log line per RPC (method, tenant, status code, duration, trace id) at info.',
    expect: 'true or false',
    schema: boolSchema,
  },
  logSync: {
    env: 'PENGUIFLOW_LOG_SYNC',
    default: false,
    meaning: 'Write each log line to stdout before going on. Off by default: lines are written asynchronously (coalesced under load, at most 16 MiB buffered, flushed on exit); a SIGKILL can lose the last few milliseconds of lines.',
    expect: 'true or false',
    schema: boolSchema,
  },
  metricsTenantLabel: {
    env: 'PENGUIFLOW_METRICS_TENANT_LABEL',
    default: false,
    meaning: 'Add a tenant label to the node and gRPC metrics. Off by default: the number of tenants is unbounded.',
    expect: 'true or false',
    schema: boolSchema,
  },
  tenantMaxInflight: {
    env: 'PENGUIFLOW_TENANT_MAX_INFLIGHT',
    default: 1000,
    meaning: 'Most traces one tenant may have in flight (admitted, not yet ended) across all flows; further Emit/Call/CallStream wait up to the admission wait, then get RESOURCE_EXHAUSTED. 0 = unlimited.',
    expect: 'an integer from 0 to 10000000',
    schema: intSchema(0, 10_000_000),
  },
  jwtSecret: {
    env: 'PENGUIFLOW_JWT_SECRET',
    default: '',
    meaning: 'jwt mode: HS256 shared secret (at least 32 bytes). Set this or PENGUIFLOW_JWKS_FILE, not both. Never logged.',
    expect: 'a string',
    schema: z.string(),
  },
  jwksFile: {
    env: 'PENGUIFLOW_JWKS_FILE',
    default: '',
    meaning: 'jwt mode: path of a JWKS file (JSON {"keys": [...]}) with the RS256/ES256 public keys tokens are verified against.',
    expect: 'a file path',
    schema: z.string().trim(),
  },
  jwtIssuer: {
    env: 'PENGUIFLOW_JWT_ISSUER',
    default: '',
    meaning: 'jwt mode: when set, tokens must carry exactly this iss.',
    expect: 'a string',
    schema: z.string().trim(),
  },
  jwtAudience: {
    env: 'PENGUIFLOW_JWT_AUDIENCE',
    default: '',
    meaning: 'jwt mode: when set, tokens\' aud must contain this value (comma-separated: any of these values).',
    expect: 'a string',
    schema: z.string().trim(),
  },
  jwtClockSkewMs: {
    env: 'PENGUIFLOW_JWT_CLOCK_SKEW_MS',
    default: 5_000,
    meaning: 'jwt mode: clock skew tolerated when checking exp and nbf.',
    expect: 'an integer from 0 to 600000',
    schema: intSchema(0, 600_000),
  },
  tenantClaim: {
    env: 'PENGUIFLOW_TENANT_CLAIM',
    default: 'tenant',
    meaning: 'jwt mode: name of the claim holding the caller\'s tenant.',
    expect: 'a non-empty claim name',
    schema: z.string().trim().min(1).max(256),
  },
  tlsCert: {
    env: 'PENGUIFLOW_TLS_CERT',
    default: '',
    meaning: 'Path of the server\'s PEM certificate chain; with PENGUIFLOW_TLS_KEY the gRPC port speaks TLS (required in mtls mode).',
    expect: 'a file path',
    schema: z.string().trim(),
  },
  tlsKey: {
    env: 'PENGUIFLOW_TLS_KEY',
    default: '',
    meaning: 'Path of the server\'s PEM private key.',
    expect: 'a file path',
    schema: z.string().trim(),
  },
  tlsClientCa: {
    env: 'PENGUIFLOW_TLS_CLIENT_CA',
    default: '',
    meaning: 'mtls mode: path of the PEM CA bundle client certificates must chain to; clients without a valid certificate are refused.',
    expect: 'a file path',
    schema: z.string().trim(),
  },
};

/** The variable naming the optional JSON configuration file. */
export const CONFIG_FILE_VARIABLE = 'PENGUIFLOW_CONFIG_FILE';

/** One row of {@link CONFIG_VARIABLES}, for the README and `--help`-style output. */
export interface ConfigVariableDoc {
  /** Environment variable name. */
  variable: string;
  /** Key of the same setting in the JSON config file (and in {@link ServerConfig}); empty for the file variable itself. */
  key: string;
  /** Default, rendered as text. */
  default: string;
  meaning: string;
}

function renderDefault(value: unknown): string {
  if (Array.isArray(value)) return value.length === 0 ? '(none)' : value.join(',');
  if (value === '') return '(none)';
  return String(value);
}

/** Every configuration variable with its default and meaning, in documentation order. */
export const CONFIG_VARIABLES: readonly ConfigVariableDoc[] = [
  ...Object.entries(VARIABLES).map(([key, spec]) => ({
    variable: spec.env,
    key,
    default: renderDefault(spec.default),
    meaning: spec.meaning,
  })),
  {
    variable: CONFIG_FILE_VARIABLE,
    key: '',
    default: '(none)',
    meaning: 'Optional JSON file with any of the settings above, keyed by variable name or by key; environment variables win.',
  },
];

const KEYS = Object.keys(VARIABLES) as (keyof ServerConfig)[];

function showValue(value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value) ?? String(value);
  const clipped = text.length > 60 ? `${text.slice(0, 57)}...` : text;
  return JSON.stringify(clipped);
}

function parseOne<K extends keyof ServerConfig>(key: K, raw: unknown, where: string): ServerConfig[K] {
  const spec = VARIABLES[key];
  const parsed = spec.schema.safeParse(raw);
  if (!parsed.success) {
    throw new ConfigError(spec.env, `invalid configuration: ${spec.env}${where}=${showValue(raw)}: expected ${spec.expect}`);
  }
  return parsed.data;
}

function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'read error';
    throw new ConfigError(CONFIG_FILE_VARIABLE, `invalid configuration: ${CONFIG_FILE_VARIABLE}=${showValue(path)}: cannot read the file (${code})`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new ConfigError(CONFIG_FILE_VARIABLE, `invalid configuration: ${CONFIG_FILE_VARIABLE}=${showValue(path)}: the file is not valid JSON`);
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new ConfigError(CONFIG_FILE_VARIABLE, `invalid configuration: ${CONFIG_FILE_VARIABLE}=${showValue(path)}: the file must hold a JSON object`);
  }
  const byKey: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(data as Record<string, unknown>)) {
    const key = KEYS.find((k) => k === name || VARIABLES[k].env === name);
    if (key === undefined) {
      throw new ConfigError(CONFIG_FILE_VARIABLE, `invalid configuration: ${CONFIG_FILE_VARIABLE}=${showValue(path)}: unknown setting ${showValue(name)}`);
    }
    byKey[key] = value;
  }
  return byKey;
}

/**
 * Reads and validates the configuration from `env` (default `process.env`)
 * and the file named by `PENGUIFLOW_CONFIG_FILE`, if any.
 *
 * @throws ConfigError on the first invalid value, with a one-line message
 *   naming the variable, e.g.
 *   `invalid configuration: PENGUIFLOW_PORT="abc": expected an integer from 0 to 65535`.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): ServerConfig {
  const filePath = env[CONFIG_FILE_VARIABLE];
  const file = filePath === undefined || filePath.trim() === '' ? {} : readConfigFile(filePath.trim());
  const out: Partial<Record<keyof ServerConfig, unknown>> = {};
  for (const key of KEYS) {
    const spec = VARIABLES[key];
    const fromEnv = env[spec.env];
    if (fromEnv !== undefined && fromEnv !== '') out[key] = parseOne(key, fromEnv, '');
    else if (key in file) out[key] = parseOne(key, file[key], ` (in ${CONFIG_FILE_VARIABLE} ${filePath})`);
    else out[key] = spec.default;
  }
  return out as ServerConfig;
}

/** Defaults of {@link resolveConfig} that differ from the process's: in-process servers keep no files unless asked. */
const EMBEDDED_DEFAULTS: Partial<ServerConfig> = { store: 'memory' };

/**
 * The defaults with `overrides` applied and validated: the in-process way to
 * configure `startServer` (tests, embedding) without touching the environment.
 *
 * @throws ConfigError when an override is invalid.
 */
export function resolveConfig(overrides: Partial<ServerConfig> = {}): ServerConfig {
  const out: Partial<Record<keyof ServerConfig, unknown>> = {};
  for (const key of KEYS) {
    const value = overrides[key];
    out[key] = value === undefined ? structuredClone(key in EMBEDDED_DEFAULTS ? EMBEDDED_DEFAULTS[key] : VARIABLES[key].default) : parseOne(key, value, '');
  }
  return out as ServerConfig;
}
