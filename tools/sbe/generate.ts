/**
 * Emits one TypeScript module per SBE schema: constants, enums and sets, the message header
 * flyweights, an encoder and a decoder flyweight per message (and per repeating group), and a
 * model table (`MESSAGES`) that tests and tools can walk. The output is deterministic, so a
 * regenerated file can be compared with the committed one byte for byte.
 */
import { PRIMITIVE_NULL, PRIMITIVE_SIZE, type Block, type Field, type Primitive, type Schema, type VarData } from './schema.js';

const GETTER: Readonly<Record<Primitive, string>> = {
  char: 'getUint8', int8: 'getInt8', uint8: 'getUint8', int16: 'getInt16', uint16: 'getUint16', int32: 'getInt32', uint32: 'getUint32',
  int64: 'getBigInt64', uint64: 'getBigUint64', float: 'getFloat32', double: 'getFloat64',
};

const is64 = (p: Primitive): boolean => p === 'int64' || p === 'uint64';
const isFloat = (p: Primitive): boolean => p === 'float' || p === 'double';
const cap = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);

function tsType(field: Field): string {
  const t = field.type;
  if (t.kind === 'enum') return t.name;
  if (is64(t.primitive)) return 'bigint';
  return 'number';
}

function setterType(field: Field): string {
  const t = field.type;
  if (t.kind === 'enum') return t.name;
  if (is64(t.primitive)) return 'bigint | number';
  return 'number';
}

function nullOf(field: Field): string {
  const t = field.type;
  if (t.kind === 'simple') return t.nullValue;
  return PRIMITIVE_NULL[t.primitive];
}

function littleEndianArg(p: Primitive): string {
  return PRIMITIVE_SIZE[p] === 1 ? '' : ', true';
}

function encodeField(field: Field, owner: string): string[] {
  const p = field.type.primitive;
  const at = `this.offset + ${field.offset}`;
  let body: string;
  if (p === 'int64') body = `this.i64(${at}, value, '${owner}.${field.name}');`;
  else if (p === 'uint64') body = `this.u64(${at}, value, '${owner}.${field.name}');`;
  else if (isFloat(p)) body = `this.float(${at}, value, ${PRIMITIVE_SIZE[p]});`;
  else body = `this.int(${at}, value, ${PRIMITIVE_SIZE[p]}, ${p.startsWith('int')}, '${field.name}');`;
  return [`  ${field.name}(value: ${setterType(field)}): this {`, `    ${body}`, '    return this;', '  }'];
}

function decodeField(field: Field, owner: string): string[] {
  const p = field.type.primitive;
  const read = `this.view.${GETTER[p]}(this.offset + ${field.offset}${littleEndianArg(p)})`;
  const lines = [`  ${field.name}(): ${tsType(field)} {`, `    if (!this.present(${field.offset}, ${field.size}, ${field.sinceVersion})) return ${nullOf(field)}${field.type.kind === 'enum' ? ` as ${field.type.name}` : ''};`];
  if (field.type.kind === 'enum') {
    lines.push(`    return this.enumValue<${field.type.name}>(${read}, ${field.type.name}_VALUES, ${nullOf(field)}, '${owner}', '${field.name}');`);
  } else {
    lines.push(`    return ${read};`);
  }
  lines.push('  }');
  if (is64(p)) {
    lines.push(`  /** {@link ${field.name}} as a number; throws ERR_SKEIN_ARG_INVALID beyond 2^53. */`);
    const reader = p === 'int64' ? 'i64Number' : 'u64Number';
    lines.push(
      `  ${field.name}AsNumber(): number {`,
      `    if (!this.present(${field.offset}, ${field.size}, ${field.sinceVersion})) return safeNumber(${nullOf(field)}, '${owner}.${field.name}');`,
      `    return this.${reader}(this.offset + ${field.offset}, '${owner}.${field.name}');`,
      '  }',
    );
  }
  return lines;
}

function encodeData(data: VarData, sync: boolean): string[] {
  const write = data.encoding === 'ascii' ? `this.ascii(value, '${data.name}');` : `this.bytes(value, '${data.name}', offset, length);`;
  const signature = data.encoding === 'ascii' ? `${data.name}(value: string): this {` : `${data.name}(value: Uint8Array, offset = 0, length = value.length - offset): this {`;
  return [`  ${signature}`, `    ${write}`, ...(sync ? ['    this.syncParent();'] : []), '    return this;', '  }'];
}

function decodeData(data: VarData, owner: string, sync: boolean): string[] {
  const read = data.encoding === 'ascii' ? `this.readAscii(${data.sinceVersion}, '${owner}', '${data.name}')` : `this.readBytes(${data.sinceVersion}, '${owner}', '${data.name}')`;
  const type = data.encoding === 'ascii' ? 'string' : 'Uint8Array';
  const lines = [`  /** Reads ${data.name} (var data come in schema order, after the groups) and moves past it. */`];
  if (sync) {
    lines.push(`  ${data.name}(): ${type} {`, `    const value = ${read};`, '    this.syncParent();', '    return value;', '  }');
    lines.push(`  skip${cap(data.name)}(): number {`, `    const length = this.skipVar(${data.sinceVersion}, '${owner}', '${data.name}');`, '    this.syncParent();', '    return length;', '  }');
  } else {
    lines.push(`  ${data.name}(): ${type} {`, `    return ${read};`, '  }');
    lines.push(`  skip${cap(data.name)}(): number {`, `    return this.skipVar(${data.sinceVersion}, '${owner}', '${data.name}');`, '  }');
  }
  return lines;
}

function groupClasses(message: string, group: Block, out: string[]): void {
  if (group.groups.length > 0) throw new Error(`message ${message}, group ${group.name}: nested groups are not supported`);
  const base = `${message}${cap(group.name)}`;
  const owner = `${message}.${group.name}`;
  out.push(
    `/** Entries of ${owner}: call next() once per entry, then set its fields and var data. */`,
    `export class ${base}Encoder extends SbeGroupEncoder {`,
    `  static readonly BLOCK_LENGTH = ${group.blockLength};`,
    '  /** @internal */',
    `  wrap(parent: SbeEncoder, count: number): this {`,
    `    this.wrapGroup(parent, count, ${group.blockLength}, '${message}', '${group.name}');`,
    '    return this;',
    '  }',
    '  next(): this {',
    `    this.nextEntry('${message}', '${group.name}');`,
    '    return this;',
    '  }',
  );
  for (const f of group.fields) out.push(...encodeField(f, owner));
  for (const d of group.data) out.push(...encodeData(d, true));
  out.push('}', '');
  out.push(
    `/** Entries of ${owner} as decoded: while (g.hasNext()) { g.next(); ... }. */`,
    `export class ${base}Decoder extends SbeGroupDecoder {`,
    '  /** @internal */',
    `  wrap(parent: SbeDecoder, actingVersion: number): this {`,
    `    this.wrapGroup(parent, actingVersion, '${message}', '${group.name}');`,
    '    return this;',
    '  }',
    '  next(): this {',
    `    this.nextEntry('${message}', '${group.name}');`,
    '    return this;',
    '  }',
  );
  for (const f of group.fields) out.push(...decodeField(f, owner));
  for (const d of group.data) out.push(...decodeData(d, owner, true));
  out.push('}', '');
}

function modelOf(block: Block): string {
  const fields = block.fields
    .map((f) => `{ name: '${f.name}', kind: '${f.type.kind}', primitive: '${f.type.primitive}', offset: ${f.offset}, sinceVersion: ${f.sinceVersion}${f.type.kind === 'enum' ? `, enumName: '${f.type.name}'` : ''} }`)
    .join(', ');
  const groups = block.groups.map((g) => `{ name: '${g.name}', blockLength: ${g.blockLength}, ...${modelBody(g)} }`).join(', ');
  const data = block.data.map((d) => `{ name: '${d.name}', encoding: '${d.encoding}', sinceVersion: ${d.sinceVersion} }`).join(', ');
  return `{ fields: [${fields}], groups: [${groups}], data: [${data}] }`;
}

function modelBody(block: Block): string {
  return modelOf(block);
}

function runtimeImports(schema: Schema): string[] {
  const names = ['SbeDecoder', 'SbeEncoder'];
  if (schema.messages.some((m) => m.groups.length > 0)) names.push('SbeGroupDecoder', 'SbeGroupEncoder');
  names.push('protocolError');
  const all = (b: Block): Field[] => [...b.fields, ...b.groups.flatMap(all)];
  if (schema.messages.some((m) => all(m).some((f) => is64(f.type.primitive)))) names.push('safeNumber');
  return names;
}

export function generate(schema: Schema, sourceName: string): string {
  const out: string[] = [
    `// Generated by tools/sbe from schemas/sbe/${sourceName} (package ${schema.package}, schema id ${schema.id}, version ${schema.version}).`,
    '// Do not edit: change the generator or the schema and run `npm run generate:sbe`.',
    '/* eslint-disable */',
    `import { ${runtimeImports(schema).join(', ')} } from '../../protocol/sbe/sbe-runtime.js';`,
    '',
    `export const SCHEMA_ID = ${schema.id};`,
    `export const SCHEMA_VERSION = ${schema.version};`,
    `export const HEADER_LENGTH = ${schema.headerLength};`,
    '',
  ];
  for (const e of schema.enums) {
    out.push(`export const ${e.name} = { ${e.values.map((v) => `${v.name}: ${v.value}`).join(', ')} } as const;`);
    out.push(`export type ${e.name} = (typeof ${e.name})[keyof typeof ${e.name}];`);
    out.push(`/** The value that stands for "no ${e.name}". */`);
    out.push(`export const ${e.name}_NULL = ${PRIMITIVE_NULL[e.primitive]};`);
    out.push(`/** Since which schema version each ${e.name} value exists. */`);
    out.push(`export const ${e.name}_SINCE_VERSION: Readonly<Record<${e.name}, number>> = { ${e.values.map((v) => `${v.value}: ${v.sinceVersion}`).join(', ')} } as Readonly<Record<${e.name}, number>>;`);
    out.push(`const ${e.name}_VALUES: ReadonlySet<number> = new Set([${e.values.map((v) => v.value).join(', ')}]);`);
    out.push('');
  }
  for (const s of schema.sets) {
    out.push(`/** Bit positions of the ${s.name} choices (a set is a ${s.primitive} bit field). */`);
    out.push(`export const ${s.name} = { ${s.choices.map((c) => `${c.name}: ${c.bit}`).join(', ')} } as const;`);
    out.push(`export function ${s.name.charAt(0).toLowerCase()}${s.name.slice(1)}Has(bits: ${is64(s.primitive) ? 'bigint' : 'number'}, choice: (typeof ${s.name})[keyof typeof ${s.name}]): boolean {`);
    out.push(is64(s.primitive) ? '  return ((bits >> BigInt(choice)) & 1n) === 1n;' : '  return ((bits >>> choice) & 1) === 1;');
    out.push('}', '');
  }
  // Header
  out.push('/** The message header that precedes every message of this schema. */');
  out.push('export class MessageHeaderEncoder extends SbeEncoder {');
  out.push('  wrap(buffer: Uint8Array, offset: number): this {', `    this.bindEncoder(buffer, offset, ${schema.headerLength});`, '    return this;', '  }');
  for (const h of schema.header) {
    const f: Field = { name: h.name, id: 0, type: { kind: 'simple', name: h.primitive, primitive: h.primitive, optional: false, nullValue: PRIMITIVE_NULL[h.primitive] }, offset: h.offset, size: PRIMITIVE_SIZE[h.primitive], sinceVersion: 0, deprecated: false };
    out.push(...encodeField(f, 'messageHeader'));
  }
  out.push('}', '');
  out.push('export class MessageHeaderDecoder extends SbeDecoder {');
  out.push(
    '  wrap(buffer: Uint8Array, offset: number, length: number = buffer.length - offset): this {',
    `    this.bindDecoder(buffer, offset, ${schema.headerLength}, SCHEMA_VERSION, length, 'messageHeader');`,
    '    return this;',
    '  }',
  );
  for (const h of schema.header) {
    out.push(`  ${h.name}(): ${is64(h.primitive) ? 'bigint' : 'number'} {`, `    return this.view.${GETTER[h.primitive]}(this.offset + ${h.offset}${littleEndianArg(h.primitive)});`, '  }');
  }
  out.push('}', '');

  for (const m of schema.messages) {
    for (const g of m.groups) groupClasses(m.name, g, out);
    const groupFields = m.groups.map((g) => ({ g, name: `${m.name}${cap(g.name)}` }));
    // Encoder
    out.push(`/** ${m.name} (template ${m.id}${m.sinceVersion > 0 ? `, since version ${m.sinceVersion}` : ''}): set fields in any order, then groups and var data in schema order. */`);
    out.push(`export class ${m.name}Encoder extends SbeEncoder {`);
    out.push(`  static readonly TEMPLATE_ID = ${m.id};`, `  static readonly BLOCK_LENGTH = ${m.blockLength};`, '  static readonly SCHEMA_ID = SCHEMA_ID;', '  static readonly SCHEMA_VERSION = SCHEMA_VERSION;');
    for (const { g, name } of groupFields) out.push(`  private readonly ${g.name}Group = new ${name}Encoder();`);
    out.push('  /** Wraps the body at `offset` (no header). */');
    out.push('  wrap(buffer: Uint8Array, offset: number): this {', `    this.bindEncoder(buffer, offset, ${m.blockLength});`, '    return this;', '  }');
    out.push('  /** Writes the message header at `offset`, then wraps the body after it; encodedLength() counts both. */');
    out.push('  wrapAndApplyHeader(buffer: Uint8Array, offset: number): this {');
    const headerValues: Record<string, string> = { blockLength: String(m.blockLength), templateId: String(m.id), schemaId: 'SCHEMA_ID', version: 'SCHEMA_VERSION' };
    out.push(`    this.bindEncoder(buffer, offset + HEADER_LENGTH, ${m.blockLength}, offset);`);
    out.push('    if (offset < 0 || offset + HEADER_LENGTH > buffer.length) throw protocolError(`' + m.name + ': no room for the header at ${offset}`);');
    for (const h of schema.header) {
      const value = headerValues[h.name] ?? '0';
      out.push(`    this.view.set${GETTER[h.primitive].slice(3)}(offset + ${h.offset}, ${is64(h.primitive) ? `BigInt(${value})` : value}${littleEndianArg(h.primitive)});`);
    }
    out.push('    return this;', '  }');
    for (const f of m.fields) out.push(...encodeField(f, m.name));
    for (const { g } of groupFields) {
      out.push(`  ${g.name}Count(count: number): ${m.name}${cap(g.name)}Encoder {`, `    return this.${g.name}Group.wrap(this, count);`, '  }');
    }
    for (const d of m.data) out.push(...encodeData(d, false));
    out.push('}', '');
    // Decoder
    out.push(`export class ${m.name}Decoder extends SbeDecoder {`);
    out.push(`  static readonly TEMPLATE_ID = ${m.id};`, `  static readonly BLOCK_LENGTH = ${m.blockLength};`, '  static readonly SCHEMA_ID = SCHEMA_ID;', '  static readonly SCHEMA_VERSION = SCHEMA_VERSION;');
    for (const { g, name } of groupFields) out.push(`  private readonly ${g.name}Group = new ${name}Decoder();`);
    out.push('  private readonly header = new MessageHeaderDecoder();');
    out.push(
      '  /** Wraps a body of `length` bytes at `offset` as sent by a peer with `actingBlockLength` and `actingVersion`. */',
      '  wrap(buffer: Uint8Array, offset: number, actingBlockLength: number, actingVersion: number, length: number = buffer.length - offset): this {',
      `    this.bindDecoder(buffer, offset, actingBlockLength, actingVersion, length, '${m.name}');`,
      '    return this;',
      '  }',
      '  /** Reads the header at `offset`, checks it is this message of this schema, and wraps the body after it. */',
      '  wrapAndCheckHeader(buffer: Uint8Array, offset: number, length: number = buffer.length - offset): this {',
      '    const h = this.header.wrap(buffer, offset, length);',
      `    if (h.schemaId() !== SCHEMA_ID || h.templateId() !== ${m.id}) throw protocolError(\`${m.name}: header says schema \${h.schemaId()} template \${h.templateId()}, expected schema \${SCHEMA_ID} template ${m.id}\`);`,
      '    return this.wrap(buffer, offset + HEADER_LENGTH, h.blockLength(), h.version(), length - HEADER_LENGTH);',
      '  }',
    );
    for (const f of m.fields) out.push(...decodeField(f, m.name));
    for (const { g } of groupFields) {
      out.push(`  ${g.name}(): ${m.name}${cap(g.name)}Decoder {`, `    return this.${g.name}Group.wrap(this, this.actingVersion);`, '  }');
    }
    for (const d of m.data) out.push(...decodeData(d, m.name, false));
    out.push('}', '');
  }
  out.push('/** Every message of the schema, as the generator saw it: for tools and tests that walk the codecs. */');
  out.push('export const MESSAGES = [');
  for (const m of schema.messages) out.push(`  { name: '${m.name}', templateId: ${m.id}, blockLength: ${m.blockLength}, sinceVersion: ${m.sinceVersion}, ...${modelOf(m)} },`);
  out.push('] as const;', '');
  out.push('/** Encoder and decoder classes by message name. */');
  out.push('export const CODECS = {');
  for (const m of schema.messages) out.push(`  ${m.name}: { Encoder: ${m.name}Encoder, Decoder: ${m.name}Decoder },`);
  out.push('} as const;', '');
  return out.join('\n');
}
