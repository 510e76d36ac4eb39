/**
 * JSON conversions at the wire boundary: protobuf `Value` in (strict,
 * depth-limited) and arbitrary node results out (total, never throws).
 */
import type { JsonObject, JsonValue } from '@bufbuild/protobuf';
import { NullValue, type ListValue, type Struct, type Value } from '@bufbuild/protobuf/wkt';

/** An input value the server refuses; `path` is relative to the converted field. */
export class JsonShapeError extends Error {
  override readonly name = 'JsonShapeError';
  readonly path: string;
  constructor(path: string, message: string) {
    super(message);
    this.path = path;
  }
}

function join(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(key) ? (path === '' ? key : `${path}.${key}`) : `${path}[${JSON.stringify(key)}]`;
}

/**
 * Converts a protobuf `Value` into the plain JSON value node code receives.
 *
 * Depth counts nested containers (a scalar is depth 0, `{}` is 1, `{"a":[]}`
 * is 2). An unset `Value` (no kind) reads as null, as in the proto3 JSON
 * mapping.
 *
 * @throws JsonShapeError when nesting exceeds `maxDepth` or a number is NaN
 *   or infinite (JSON cannot carry them).
 */
export function valueToJson(value: Value, maxDepth: number, path = '', depth = 0): JsonValue {
  // Paths are built only to report a refusal: the fast pass tracks none,
  // and a refused value is walked again to name where.
  const fast = fastValueToJson(value, maxDepth, depth);
  if (fast !== REFUSED) return fast;
  return slowValueToJson(value, maxDepth, path, depth);
}

/** Marker of {@link fastValueToJson}: the value is refused (too deep or a non-finite number). */
const REFUSED: unique symbol = Symbol('refused');

function fastValueToJson(value: Value, maxDepth: number, depth: number): JsonValue | typeof REFUSED {
  const kind = value.kind;
  switch (kind.case) {
    case 'numberValue':
      return Number.isFinite(kind.value) ? kind.value : REFUSED;
    case 'stringValue':
    case 'boolValue':
      return kind.value;
    case 'structValue': {
      if (depth + 1 > maxDepth) return REFUSED;
      const out: JsonObject = {};
      const fields = kind.value.fields;
      for (const k in fields) {
        if (!Object.hasOwn(fields, k)) continue;
        const v = fastValueToJson(fields[k]!, maxDepth, depth + 1);
        if (v === REFUSED) return REFUSED;
        out[k] = v;
      }
      return out;
    }
    case 'listValue': {
      if (depth + 1 > maxDepth) return REFUSED;
      const values = kind.value.values;
      const out: JsonValue[] = new Array<JsonValue>(values.length);
      for (let i = 0; i < values.length; i++) {
        const v = fastValueToJson(values[i]!, maxDepth, depth + 1);
        if (v === REFUSED) return REFUSED;
        out[i] = v;
      }
      return out;
    }
    default:
      return null;
  }
}

function slowValueToJson(value: Value, maxDepth: number, path: string, depth: number): JsonValue {
  const kind = value.kind;
  switch (kind.case) {
    case 'numberValue':
      if (!Number.isFinite(kind.value)) throw new JsonShapeError(path, 'numbers must be finite');
      return kind.value;
    case 'stringValue':
    case 'boolValue':
      return kind.value;
    case 'structValue': {
      if (depth + 1 > maxDepth) throw new JsonShapeError(path, `nesting deeper than ${maxDepth} levels`);
      const out: JsonObject = {};
      for (const [k, v] of Object.entries(kind.value.fields)) out[k] = slowValueToJson(v, maxDepth, join(path, k), depth + 1);
      return out;
    }
    case 'listValue': {
      if (depth + 1 > maxDepth) throw new JsonShapeError(path, `nesting deeper than ${maxDepth} levels`);
      return kind.value.values.map((v, i) => slowValueToJson(v, maxDepth, join(path, i), depth + 1));
    }
    default:
      return null;
  }
}

/**
 * Checks that a decoded JSON value (e.g. a `Struct` field) nests at most
 * `maxDepth` containers deep.
 *
 * @throws JsonShapeError naming the first path that is too deep.
 */
export function checkJsonDepth(value: JsonValue, maxDepth: number, path = '', depth = 0): void {
  if (typeof value !== 'object' || value === null) return;
  if (depth + 1 > maxDepth) throw new JsonShapeError(path, `nesting deeper than ${maxDepth} levels`);
  if (Array.isArray(value)) value.forEach((v, i) => checkJsonDepth(v, maxDepth, join(path, i), depth + 1));
  else for (const [k, v] of Object.entries(value)) checkJsonDepth(v, maxDepth, join(path, k), depth + 1);
}

/** Deepest nesting {@link toJsonValue} follows before cutting a branch off (as null). */
export const MAX_OUTPUT_DEPTH = 256;

/**
 * Converts anything node code produced into JSON, the way `JSON.stringify`
 * would, but without ever throwing: non-finite numbers, functions, symbols
 * and cycles become null (or are omitted as object members); bigint becomes
 * its decimal string; `Date` its ISO string; bytes base64; `Map` an object;
 * `Set` an array; errors `{ name, message }`; objects with `toJSON` are
 * converted through it; branches deeper than {@link MAX_OUTPUT_DEPTH} are
 * cut off.
 */
export function toJsonValue(value: unknown): JsonValue {
  return convert(value, new Set(), 0) ?? null;
}

/** {@link toJsonValue} for fields that must be a JSON object (Struct): anything else becomes `{}`. */
export function toJsonObject(value: unknown): JsonObject {
  const json = toJsonValue(value);
  return typeof json === 'object' && json !== null && !Array.isArray(json) ? json : {};
}

/**
 * {@link toJsonValue}, as a protobuf `Value`.
 *
 * Builds the message objects directly instead of through `fromJson`: this
 * runs for every output on the hot path and reflection-driven construction
 * costs several times more.
 */
export function toProtoValue(value: unknown): Value {
  return jsonToValue(toJsonValue(value));
}

function jsonToValue(json: JsonValue): Value {
  switch (typeof json) {
    case 'string':
      return { $typeName: 'google.protobuf.Value', kind: { case: 'stringValue', value: json } };
    case 'number':
      return { $typeName: 'google.protobuf.Value', kind: { case: 'numberValue', value: json } };
    case 'boolean':
      return { $typeName: 'google.protobuf.Value', kind: { case: 'boolValue', value: json } };
    default:
      break;
  }
  if (json === null) return { $typeName: 'google.protobuf.Value', kind: { case: 'nullValue', value: NullValue.NULL_VALUE } };
  if (Array.isArray(json)) {
    const list: ListValue = { $typeName: 'google.protobuf.ListValue', values: json.map(jsonToValue) };
    return { $typeName: 'google.protobuf.Value', kind: { case: 'listValue', value: list } };
  }
  const fields: Record<string, Value> = {};
  for (const [k, v] of Object.entries(json)) fields[k] = jsonToValue(v);
  const struct: Struct = { $typeName: 'google.protobuf.Struct', fields };
  return { $typeName: 'google.protobuf.Value', kind: { case: 'structValue', value: struct } };
}

/** Returns undefined for values JSON omits (functions, symbols, undefined). */
function convert(value: unknown, stack: Set<object>, depth: number): JsonValue | undefined {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      return Number.isFinite(value) ? value : null;
    case 'bigint':
      return value.toString();
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
    default:
      break;
  }
  if (value === null) return null;
  const obj = value as object;
  if (depth >= MAX_OUTPUT_DEPTH || stack.has(obj)) return null;
  stack.add(obj);
  try {
    if (obj instanceof Date) return Number.isNaN(obj.getTime()) ? null : obj.toISOString();
    if (obj instanceof Uint8Array) return Buffer.from(obj.buffer, obj.byteOffset, obj.byteLength).toString('base64');
    if (Array.isArray(obj) || obj instanceof Set) {
      return [...(obj as Iterable<unknown>)].map((v) => convert(v, stack, depth + 1) ?? null);
    }
    if (obj instanceof Map) {
      const out: JsonObject = {};
      for (const [k, v] of obj) {
        const c = convert(v, stack, depth + 1);
        if (c !== undefined) out[String(k)] = c;
      }
      return out;
    }
    if (obj instanceof Error) return { name: obj.name, message: obj.message };
    const toJSON = (obj as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === 'function') {
      try {
        return convert((toJSON as () => unknown).call(obj), stack, depth + 1);
      } catch {
        return null;
      }
    }
    const out: JsonObject = {};
    for (const k of Object.keys(obj)) {
      let v: unknown;
      try {
        v = (obj as Record<string, unknown>)[k];
      } catch {
        continue; // a throwing getter must not fail the whole output
      }
      const c = convert(v, stack, depth + 1);
      if (c !== undefined) out[k] = c;
    }
    return out;
  } finally {
    stack.delete(obj);
  }
}
