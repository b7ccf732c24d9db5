/**
 * The SBE generator on small schemas of its own: sets, explicit offsets and block lengths, groups,
 * and clear refusals of what it does not support, each naming the element and its line.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseXml } from '../../../tools/sbe/xml.js';
import { buildSchema } from '../../../tools/sbe/schema.js';
import { generate } from '../../../tools/sbe/generate.js';

const HEAD = `<?xml version="1.0"?>
<sbe:messageSchema xmlns:sbe="http://fixprotocol.io/2016/sbe" package="t" id="7" version="3" byteOrder="littleEndian">
  <types>
    <composite name="messageHeader">
      <type name="blockLength" primitiveType="uint16"/><type name="templateId" primitiveType="uint16"/>
      <type name="schemaId" primitiveType="uint16"/><type name="version" primitiveType="uint16"/>
    </composite>
    <composite name="groupSizeEncoding"><type name="blockLength" primitiveType="uint16"/><type name="numInGroup" primitiveType="uint16"/></composite>
    <composite name="varAsciiEncoding"><type name="length" primitiveType="uint32"/><type name="varData" primitiveType="uint8" length="0" characterEncoding="US-ASCII"/></composite>
    <set name="Flags" encodingType="uint8"><choice name="urgent">0</choice><choice name="replay" sinceVersion="2">3</choice></set>
    <enum name="Side" encodingType="int32"><validValue name="BUY">1</validValue><validValue name="SELL">2</validValue></enum>
    <type name="qty_t" primitiveType="int32" presence="optional" nullValue="0"/>
  </types>`;

function schemaOf(body: string) {
  return buildSchema(parseXml(`${HEAD}${body}</sbe:messageSchema>`));
}

test('sets, explicit offsets and block lengths, optional nulls and groups are modelled and generated', () => {
  const schema = schemaOf(`
  <!-- a comment &amp; an entity -->
  <sbe:message name="Order" id="1" blockLength="40">
    <field name="flags" id="1" type="Flags"/>
    <field name="qty" id="2" type="qty_t" offset="4"/>
    <field name="side" id="3" type="Side"/>
    <field name="price" id="4" type="int64" offset="16" sinceVersion="2"/>
    <group name="legs" id="5" dimensionType="groupSizeEncoding"><field name="leg" id="6" type="int32"/><data name="venue" id="7" type="varAsciiEncoding"/></group>
    <data name="note" id="8" type="varAsciiEncoding"/>
  </sbe:message>`);
  const m = schema.messages[0]!;
  assert.equal(m.blockLength, 40);
  assert.deepEqual(m.fields.map((f) => [f.name, f.offset, f.size, f.sinceVersion]), [['flags', 0, 1, 0], ['qty', 4, 4, 0], ['side', 8, 4, 0], ['price', 16, 8, 2]]);
  assert.equal(m.groups[0]!.blockLength, 4);
  assert.deepEqual(schema.sets[0]!.choices, [{ name: 'urgent', bit: 0, sinceVersion: 0 }, { name: 'replay', bit: 3, sinceVersion: 2 }]);
  const code = generate(schema, 'test.xml');
  assert.match(code, /export const Flags = \{ urgent: 0, replay: 3 \} as const;/);
  assert.match(code, /export function flagsHas\(bits: number, choice/);
  assert.match(code, /qty\(\): number \{\n {4}if \(!this\.present\(4, 4, 0\)\) return 0;/, 'an optional field reads its own null value when absent');
  assert.match(code, /price\(\): bigint \{\n {4}if \(!this\.present\(16, 8, 2\)\) return -9223372036854775808n;/);
  assert.match(code, /export class OrderLegsEncoder extends SbeGroupEncoder/);
  assert.match(code, /legsCount\(count: number\): OrderLegsEncoder/);
  assert.match(code, /export const MESSAGES = \[\n {2}\{ name: 'Order', templateId: 1, blockLength: 40/);
});

test('what the generator does not support is refused naming the element and its line', () => {
  const cases: [string, RegExp][] = [
    ['<sbe:message name="A" id="1"><field name="x" id="1" type="nope"/></sbe:message>', /line \d+: <field name="x">: type 'nope' is not declared/],
    ['<sbe:message name="A" id="1"><field name="x" id="1" type="messageHeader"/></sbe:message>', /<field name="x">: composite fields are not supported/],
    ['<sbe:message name="A" id="1"><field name="x" id="1" type="int32" offset="4"/><field name="y" id="2" type="int32" offset="2"/></sbe:message>', /<field name="y">: offset 2 overlaps the field before \(which ends at 8\)/],
    ['<sbe:message name="A" id="1" blockLength="2"><field name="x" id="1" type="int32"/></sbe:message>', /blockLength 2 is shorter than its fields \(4\)/],
    ['<sbe:message name="A" id="1"><data name="d" id="1" type="varAsciiEncoding"/><field name="x" id="2" type="int32"/></sbe:message>', /fields must come before groups and var data/],
    ['<sbe:message name="A" id="1"/><sbe:message name="B" id="1"/>', /template id 1 is used twice/],
  ];
  for (const [body, expected] of cases) assert.throws(() => schemaOf(body), expected, body);
  assert.throws(() => buildSchema(parseXml(HEAD.replace('littleEndian', 'bigEndian') + '</sbe:messageSchema>')), /byteOrder bigEndian is not supported/);
  assert.throws(() => buildSchema(parseXml(HEAD.replace('<type name="qty_t" primitiveType="int32"', '<type name="qty_t" primitiveType="int32" length="4"') + '</sbe:messageSchema>')), /fixed-length arrays are not supported/);
  const nested = schemaOf('<sbe:message name="A" id="1"><group name="g" id="1"><group name="h" id="2"><field name="x" id="3" type="int8"/></group></group></sbe:message>');
  assert.throws(() => generate(nested, 't.xml'), /message A, group g: nested groups are not supported/);
  assert.throws(() => parseXml('<a><b></a>'), /line 1: <\/a> does not close <b>/);
  assert.throws(() => parseXml('<a x="&bogus;"/>'), /unknown entity &bogus;/);
});
