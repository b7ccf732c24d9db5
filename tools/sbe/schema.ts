/**
 * The model of an SBE schema the generator works from (SBE.md): primitive aliases, enums, sets,
 * the header and group-size composites, messages with fixed fields at their offsets, repeating
 * groups and var data, each with its sinceVersion. What the generator does not support is refused
 * with an error naming the schema element and its line.
 */
import type { XmlElement } from './xml.js';

export type Primitive = 'char' | 'int8' | 'uint8' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'int64' | 'uint64' | 'float' | 'double';

export const PRIMITIVE_SIZE: Readonly<Record<Primitive, number>> = {
  char: 1, int8: 1, uint8: 1, int16: 2, uint16: 2, int32: 4, uint32: 4, int64: 8, uint64: 8, float: 4, double: 8,
};

/** SBE's null value of each primitive, as TypeScript source. */
export const PRIMITIVE_NULL: Readonly<Record<Primitive, string>> = {
  char: '0', int8: '-128', uint8: '255', int16: '-32768', uint16: '65535', int32: '-2147483648', uint32: '4294967295',
  int64: '-9223372036854775808n', uint64: '18446744073709551615n', float: 'Number.NaN', double: 'Number.NaN',
};

export interface SimpleType {
  readonly kind: 'simple';
  readonly name: string;
  readonly primitive: Primitive;
  readonly optional: boolean;
  /** TypeScript source of the null value. */
  readonly nullValue: string;
}

export interface EnumType {
  readonly kind: 'enum';
  readonly name: string;
  readonly primitive: Primitive;
  readonly values: readonly { readonly name: string; readonly value: number; readonly sinceVersion: number }[];
}

export interface SetType {
  readonly kind: 'set';
  readonly name: string;
  readonly primitive: Primitive;
  readonly choices: readonly { readonly name: string; readonly bit: number; readonly sinceVersion: number }[];
}

export type FieldType = SimpleType | EnumType | SetType;

export interface Field {
  readonly name: string;
  readonly id: number;
  readonly type: FieldType;
  readonly offset: number;
  readonly size: number;
  readonly sinceVersion: number;
  readonly deprecated: boolean;
}

export interface VarData {
  readonly name: string;
  readonly id: number;
  readonly encoding: 'ascii' | 'bytes';
  readonly sinceVersion: number;
}

export interface Block {
  readonly name: string;
  readonly id: number;
  readonly blockLength: number;
  readonly fields: readonly Field[];
  readonly groups: readonly Group[];
  readonly data: readonly VarData[];
  readonly sinceVersion: number;
}

export type Group = Block;
export type Message = Block & { readonly deprecated: boolean };

export interface HeaderField {
  readonly name: string;
  readonly primitive: Primitive;
  readonly offset: number;
}

export interface Schema {
  readonly package: string;
  readonly id: number;
  readonly version: number;
  readonly semanticVersion: string;
  readonly header: readonly HeaderField[];
  readonly headerLength: number;
  readonly enums: readonly EnumType[];
  readonly sets: readonly SetType[];
  readonly messages: readonly Message[];
}

class SchemaError extends Error {}

function fail(element: XmlElement, problem: string): never {
  throw new SchemaError(`line ${element.line}: <${element.name}${element.attributes.name === undefined ? '' : ` name="${element.attributes.name}"`}>: ${problem}`);
}

function intAttr(element: XmlElement, name: string, fallback?: number): number {
  const text = element.attributes[name];
  if (text === undefined) {
    if (fallback === undefined) fail(element, `attribute ${name} is missing`);
    return fallback;
  }
  const value = Number(text.trim());
  if (!Number.isInteger(value)) fail(element, `attribute ${name}="${text}" is not an integer`);
  return value;
}

function primitiveOf(element: XmlElement, text: string | undefined): Primitive {
  if (text === undefined || !(text in PRIMITIVE_SIZE)) fail(element, `primitive type '${String(text)}' is not supported`);
  return text as Primitive;
}

function local(name: string): string {
  const i = name.indexOf(':');
  return i < 0 ? name : name.slice(i + 1);
}

function nullSource(element: XmlElement, primitive: Primitive, text: string | undefined): string {
  if (text === undefined) return PRIMITIVE_NULL[primitive];
  const trimmed = text.trim();
  if (primitive === 'float' || primitive === 'double') {
    if (!Number.isFinite(Number(trimmed))) fail(element, `nullValue '${trimmed}' is not a number`);
    return trimmed;
  }
  if (!/^-?\d+$/.test(trimmed)) fail(element, `nullValue '${trimmed}' is not an integer`);
  return primitive === 'int64' || primitive === 'uint64' ? `${trimmed}n` : trimmed;
}

export function buildSchema(root: XmlElement): Schema {
  if (local(root.name) !== 'messageSchema') fail(root, 'the root element must be messageSchema');
  const byteOrder = root.attributes.byteOrder ?? 'littleEndian';
  if (byteOrder !== 'littleEndian') fail(root, `byteOrder ${byteOrder} is not supported`);
  const types = new Map<string, FieldType | { kind: 'composite'; element: XmlElement }>();
  for (const primitive of Object.keys(PRIMITIVE_SIZE) as Primitive[]) {
    types.set(primitive, { kind: 'simple', name: primitive, primitive, optional: false, nullValue: PRIMITIVE_NULL[primitive] });
  }
  const enums: EnumType[] = [];
  const sets: SetType[] = [];
  for (const block of root.children.filter((c) => local(c.name) === 'types')) {
    for (const t of block.children) {
      const name = t.attributes.name ?? fail(t, 'attribute name is missing');
      switch (t.name) {
        case 'type': {
          if ((t.attributes.presence ?? 'required') === 'constant') fail(t, 'constant presence is not supported');
          if (intAttr(t, 'length', 1) !== 1) fail(t, 'fixed-length arrays are not supported');
          const primitive = primitiveOf(t, t.attributes.primitiveType);
          const optional = t.attributes.presence === 'optional';
          types.set(name, { kind: 'simple', name, primitive, optional, nullValue: nullSource(t, primitive, t.attributes.nullValue) });
          break;
        }
        case 'enum': {
          const encoding = t.attributes.encodingType;
          const base = encoding === undefined ? undefined : types.get(encoding);
          const primitive = base !== undefined && base.kind === 'simple' ? base.primitive : primitiveOf(t, encoding);
          const values = t.children.filter((v) => v.name === 'validValue').map((v) => {
            const value = Number(v.text.trim());
            if (!Number.isInteger(value)) fail(v, `value '${v.text.trim()}' is not an integer`);
            return { name: v.attributes.name ?? fail(v, 'attribute name is missing'), value, sinceVersion: intAttr(v, 'sinceVersion', 0) };
          });
          const e: EnumType = { kind: 'enum', name, primitive, values };
          enums.push(e);
          types.set(name, e);
          break;
        }
        case 'set': {
          const encoding = t.attributes.encodingType;
          const base = encoding === undefined ? undefined : types.get(encoding);
          const primitive = base !== undefined && base.kind === 'simple' ? base.primitive : primitiveOf(t, encoding);
          if (!['uint8', 'uint16', 'uint32', 'uint64'].includes(primitive)) fail(t, `a set's encoding must be an unsigned integer, not ${primitive}`);
          const choices = t.children.filter((c) => c.name === 'choice').map((c) => {
            const bit = Number(c.text.trim());
            if (!(Number.isInteger(bit) && bit >= 0 && bit < PRIMITIVE_SIZE[primitive] * 8)) fail(c, `bit '${c.text.trim()}' is outside the ${primitive} encoding`);
            return { name: c.attributes.name ?? fail(c, 'attribute name is missing'), bit, sinceVersion: intAttr(c, 'sinceVersion', 0) };
          });
          const s: SetType = { kind: 'set', name, primitive, choices };
          sets.push(s);
          types.set(name, s);
          break;
        }
        case 'composite':
          types.set(name, { kind: 'composite', element: t });
          break;
        default:
          fail(t, 'this kind of type is not supported');
      }
    }
  }
  const headerType = types.get('messageHeader');
  if (headerType === undefined || headerType.kind !== 'composite') fail(root, 'composite messageHeader is missing');
  const header: HeaderField[] = [];
  let headerLength = 0;
  for (const member of headerType.element.children) {
    if (member.name !== 'type') fail(member, 'messageHeader members must be primitive types');
    const primitive = primitiveOf(member, member.attributes.primitiveType);
    header.push({ name: member.attributes.name ?? fail(member, 'attribute name is missing'), primitive, offset: headerLength });
    headerLength += PRIMITIVE_SIZE[primitive];
  }
  for (const required of ['blockLength', 'templateId', 'schemaId', 'version']) {
    if (!header.some((h) => h.name === required)) fail(headerType.element, `field ${required} is missing`);
  }
  const varEncodings = new Map<string, 'ascii' | 'bytes'>();
  for (const [name, t] of types) {
    if (t.kind !== 'composite' || name === 'messageHeader' || name === 'groupSizeEncoding') continue;
    const members = t.element.children;
    const length = members.find((m) => m.attributes.name === 'length');
    const data = members.find((m) => m.attributes.name === 'varData');
    if (length === undefined || data === undefined) continue;
    if (length.attributes.primitiveType !== 'uint32') fail(length, 'var data lengths other than uint32 are not supported');
    varEncodings.set(name, data.attributes.characterEncoding === undefined ? 'bytes' : 'ascii');
  }
  const groupSize = types.get('groupSizeEncoding');
  if (groupSize !== undefined && groupSize.kind === 'composite') {
    const names = groupSize.element.children.map((m) => `${m.attributes.name}:${m.attributes.primitiveType}`).join(',');
    if (names !== 'blockLength:uint16,numInGroup:uint16') fail(groupSize.element, `group size encoding ${names} is not supported`);
  }

  const buildBlock = (element: XmlElement, explicitBlockLength: number | undefined): Omit<Block, 'name' | 'id' | 'sinceVersion'> => {
    const fields: Field[] = [];
    const groups: Group[] = [];
    const data: VarData[] = [];
    let offset = 0;
    for (const child of element.children) {
      const name = child.attributes.name ?? fail(child, 'attribute name is missing');
      if (child.name === 'field') {
        if (groups.length > 0 || data.length > 0) fail(child, 'fields must come before groups and var data');
        const t = types.get(child.attributes.type ?? fail(child, 'attribute type is missing'));
        if (t === undefined) fail(child, `type '${child.attributes.type}' is not declared`);
        if (t.kind === 'composite') fail(child, 'composite fields are not supported');
        if ((child.attributes.presence ?? 'required') === 'constant') fail(child, 'constant presence is not supported');
        const size = PRIMITIVE_SIZE[t.primitive];
        const at = child.attributes.offset === undefined ? offset : intAttr(child, 'offset');
        if (at < offset) fail(child, `offset ${at} overlaps the field before (which ends at ${offset})`);
        fields.push({ name, id: intAttr(child, 'id'), type: t, offset: at, size, sinceVersion: intAttr(child, 'sinceVersion', 0), deprecated: child.attributes.deprecated !== undefined });
        offset = at + size;
      } else if (child.name === 'group') {
        if (data.length > 0) fail(child, 'groups must come before var data');
        if ((child.attributes.dimensionType ?? 'groupSizeEncoding') !== 'groupSizeEncoding') fail(child, 'only groupSizeEncoding dimensions are supported');
        const inner = buildBlock(child, child.attributes.blockLength === undefined ? undefined : intAttr(child, 'blockLength'));
        groups.push({ name, id: intAttr(child, 'id'), sinceVersion: intAttr(child, 'sinceVersion', 0), ...inner });
      } else if (child.name === 'data') {
        const encoding = varEncodings.get(child.attributes.type ?? '');
        if (encoding === undefined) fail(child, `type '${child.attributes.type}' is not a var data encoding`);
        data.push({ name, id: intAttr(child, 'id'), encoding, sinceVersion: intAttr(child, 'sinceVersion', 0) });
      } else {
        fail(child, 'only field, group and data are supported in a message');
      }
    }
    const blockLength = explicitBlockLength ?? offset;
    if (blockLength < offset) fail(element, `blockLength ${blockLength} is shorter than its fields (${offset})`);
    return { blockLength, fields, groups, data };
  };

  const messages: Message[] = root.children
    .filter((c) => local(c.name) === 'message')
    .map((m) => ({
      name: m.attributes.name ?? fail(m, 'attribute name is missing'),
      id: intAttr(m, 'id'),
      sinceVersion: intAttr(m, 'sinceVersion', 0),
      deprecated: m.attributes.deprecated !== undefined,
      ...buildBlock(m, m.attributes.blockLength === undefined ? undefined : intAttr(m, 'blockLength')),
    }));
  const ids = new Set<number>();
  for (const m of messages) {
    if (ids.has(m.id)) throw new SchemaError(`message ${m.name}: template id ${m.id} is used twice`);
    ids.add(m.id);
  }
  return {
    package: root.attributes.package ?? '',
    id: intAttr(root, 'id'),
    version: intAttr(root, 'version', 0),
    semanticVersion: root.attributes.semanticVersion ?? '',
    header,
    headerLength,
    enums,
    sets,
    messages,
  };
}
