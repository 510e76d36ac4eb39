/**
 * The hand-written encoder knows its messages' fields by heart; the contract
 * (proto/) can grow without it. These tests walk the generated descriptors
 * instead: every field of every message type the encoder claims is set to a
 * non-zero value, once per oneof case, and the bytes must equal `toBinary`'s.
 * A field added to the contract and not to the encoder is then a failing
 * test, not a field silently dropped from every response.
 */
import {
  createRegistry,
  fromBinary,
  toBinary,
  ScalarType,
  type DescEnum,
  type DescField,
  type DescMessage,
  type DescOneof,
  type MessageShape,
} from '@bufbuild/protobuf';
import { isReflectMessage, reflect, type ReflectMessage } from '@bufbuild/protobuf/reflect';
import { file_google_protobuf_struct, file_google_protobuf_timestamp } from '@bufbuild/protobuf/wkt';
import { describe, expect, it } from 'vitest';
import { file_penguiflow_v1_flow_service } from '../../../../src/gen/penguiflow/v1/flow_service_pb.js';
import { file_penguiflow_v1_messages } from '../../../../src/gen/penguiflow/v1/messages_pb.js';
import { encodeResponse, SUPPORTED_TYPE_NAMES } from '../../../../src/server/codec/wire-encoder.js';

const registry = createRegistry(file_penguiflow_v1_flow_service, file_penguiflow_v1_messages, file_google_protobuf_struct, file_google_protobuf_timestamp);

function descOf(typeName: string): DescMessage {
  const desc = registry.getMessage(typeName);
  if (desc === undefined) throw new Error(`${typeName} is not in the generated descriptors`);
  return desc;
}

/** Nesting beyond which message fields stay unset (google.protobuf.Value is recursive). */
const MAX_DEPTH = 4;

/** A non-zero scalar of the field's type; negative where the type allows it (10-byte varints). */
function scalarValue(scalar: ScalarType, longAsString: boolean, name: string): unknown {
  const long = (v: bigint): unknown => (longAsString ? v.toString() : v);
  switch (scalar) {
    case ScalarType.STRING:
      return `${name}-é😀`;
    case ScalarType.BYTES:
      return new Uint8Array([1, 2, 3, name.length & 0xff]);
    case ScalarType.BOOL:
      return true;
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      return -1.5;
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
      return -(name.length + 2);
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return 300 + name.length;
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
      return long(-(2n ** 40n) - BigInt(name.length));
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return long(2n ** 40n + BigInt(name.length));
  }
}

/** A non-zero value of the enum (open enums accept any int32). */
function enumValue(e: DescEnum): number {
  const last = e.values[e.values.length - 1];
  return last !== undefined && last.number !== 0 ? last.number : 1;
}

/**
 * The message `desc` with every field set to a non-zero value, repeated
 * fields with two elements and maps with two entries; in each oneof only the
 * case `choice` selects (by default its first case). Nested messages are
 * populated the same way, down to {@link MAX_DEPTH}.
 */
function populate(desc: DescMessage, depth: number, choice: ReadonlyMap<DescOneof, DescField> = new Map()): ReflectMessage {
  const r = reflect(desc);
  const nested = (m: DescMessage): ReflectMessage | undefined => (depth < MAX_DEPTH ? populate(m, depth + 1) : undefined);
  for (const field of desc.fields) {
    if (field.oneof !== undefined && (choice.get(field.oneof) ?? field.oneof.fields[0]) !== field) continue;
    switch (field.fieldKind) {
      case 'scalar':
        r.set(field, scalarValue(field.scalar, field.longAsString, field.name));
        break;
      case 'enum':
        r.set(field, enumValue(field.enum));
        break;
      case 'message': {
        const m = nested(field.message);
        if (m !== undefined) r.set(field, m);
        break;
      }
      case 'list': {
        const list = r.get(field);
        for (let i = 0; i < 2; i++) {
          if (field.listKind === 'scalar') list.add(scalarValue(field.scalar, field.longAsString, `${field.name}${i}`));
          else if (field.listKind === 'enum') list.add(enumValue(field.enum));
          else {
            const m = nested(field.message);
            if (m !== undefined) list.add(m);
          }
        }
        if (list.size > 0) r.set(field, list);
        break;
      }
      case 'map': {
        const map = r.get(field);
        for (let i = 0; i < 2; i++) {
          const key = scalarValue(field.mapKey, false, `${field.name}${i}`) as string | number | bigint | boolean;
          if (field.mapKind === 'scalar') map.set(key, scalarValue(field.scalar, false, `${field.name}${i}`));
          else if (field.mapKind === 'enum') map.set(key, enumValue(field.enum));
          else {
            const m = nested(field.message);
            if (m !== undefined) map.set(key, m);
          }
        }
        if (map.size > 0) r.set(field, map);
        break;
      }
    }
  }
  return r;
}

/** One fully populated message per oneof case (other oneofs on their first case); one message when there are no oneofs. */
function variants(desc: DescMessage): { label: string; message: ReflectMessage; chosen: readonly DescField[] }[] {
  const all = (choice: ReadonlyMap<DescOneof, DescField>): DescField[] =>
    desc.fields.filter((f) => f.oneof === undefined || (choice.get(f.oneof) ?? f.oneof.fields[0]) === f);
  if (desc.oneofs.length === 0) return [{ label: 'every field', message: populate(desc, 0), chosen: all(new Map()) }];
  return desc.oneofs.flatMap((oneof) =>
    oneof.fields.map((field) => {
      const choice = new Map([[oneof, field]]);
      return { label: `every field, ${oneof.name} = ${field.name}`, message: populate(desc, 0, choice), chosen: all(choice) };
    }),
  );
}

/** Paths of the fields set in `sent` (at any depth) that are not set in `received`. */
function droppedFields(sent: ReflectMessage, received: ReflectMessage, prefix = ''): string[] {
  const dropped: string[] = [];
  const nested = (x: unknown, y: unknown, path: string): void => {
    if (y === undefined) dropped.push(path);
    else if (isReflectMessage(x) && isReflectMessage(y)) dropped.push(...droppedFields(x, y, `${path}.`));
  };
  for (const field of sent.fields) {
    if (!sent.isSet(field)) continue;
    const path = `${prefix}${field.name}`;
    if (!received.isSet(field)) dropped.push(path);
    else if (field.fieldKind === 'message') nested(sent.get(field), received.get(field), path);
    else if (field.fieldKind === 'list') {
      const [a, b] = [sent.get(field), received.get(field)];
      for (let i = 0; i < a.size; i++) nested(a.get(i), b.get(i), `${path}[${i}]`);
    } else if (field.fieldKind === 'map') {
      const [a, b] = [sent.get(field), received.get(field)];
      for (const [k, x] of a) nested(x, b.get(k), `${path}[${String(k)}]`);
    }
  }
  return dropped;
}

function hex(bytes: Uint8Array | undefined): string | undefined {
  return bytes === undefined ? undefined : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

describe('encodeResponse covers every field of the generated descriptors', () => {
  it('knows every supported type name from the generated descriptors', () => {
    expect(SUPPORTED_TYPE_NAMES.filter((t) => registry.getMessage(t) === undefined)).toEqual([]);
  });

  it('supports every message type nested in a supported type (no field falls through to an unknown type)', () => {
    const supported = new Set(SUPPORTED_TYPE_NAMES);
    const missing = new Set<string>();
    for (const typeName of SUPPORTED_TYPE_NAMES) {
      for (const field of descOf(typeName).fields) {
        const nested = field.fieldKind === 'scalar' || field.fieldKind === 'enum' ? undefined : field.message;
        if (nested !== undefined && !supported.has(nested.typeName)) missing.add(`${typeName}.${field.name}: ${nested.typeName}`);
      }
    }
    expect([...missing]).toEqual([]);
  });

  for (const typeName of SUPPORTED_TYPE_NAMES) {
    const desc = descOf(typeName);
    for (const { label, message, chosen } of variants(desc)) {
      it(`encodes ${typeName} with ${label} byte for byte like toBinary`, () => {
        // Every field is set at the top level: a field the populator could not fill would show here.
        expect(chosen.filter((f) => !message.isSet(f)).map((f) => f.name)).toEqual([]);
        const m = message.message as MessageShape<DescMessage>;
        const expected = toBinary(desc, m);
        const actual = encodeResponse(typeName, m);
        expect(actual, 'the encoder declined the message').toBeDefined();
        // Names what the encoder left out, at any depth, before comparing bytes.
        const decoded = reflect(desc, fromBinary(desc, new Uint8Array(actual!)));
        expect(droppedFields(message, decoded), 'fields the encoder dropped').toEqual([]);
        expect(hex(actual)).toBe(hex(expected));
      });
    }
  }
});
