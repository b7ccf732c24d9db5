/**
 * Golden vectors encoded by Aeron's generated Java codecs (test/fixtures/sbe-vectors, see its
 * SOURCE.md): for every message of every schema, the TypeScript decoder reads the Java bytes back
 * to the values that were encoded, and the TypeScript encoder makes the same bytes from those
 * values. A schema whose vector file lacks one of its messages fails.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as archive from '../../../../src/archive/codecs/archive-codecs.js';
import * as archiveMark from '../../../../src/archive/codecs/archive-mark-codecs.js';
import * as cluster from '../../../../src/cluster/codecs/cluster-codecs.js';
import * as clusterMark from '../../../../src/cluster/codecs/cluster-mark-codecs.js';
import * as nodeState from '../../../../src/cluster/codecs/cluster-node-state-codecs.js';

interface FieldModel { readonly name: string; readonly kind: string; readonly primitive: string; readonly enumName?: string }
interface DataModel { readonly name: string; readonly encoding: string }
interface BlockModel { readonly fields: readonly FieldModel[]; readonly groups: readonly (BlockModel & { readonly name: string })[]; readonly data: readonly DataModel[] }
interface MessageModel extends BlockModel { readonly name: string; readonly templateId: number; readonly blockLength: number }
type Module = { MESSAGES: readonly MessageModel[]; SCHEMA_ID: number; SCHEMA_VERSION: number; CODECS: Record<string, { Encoder: new () => any; Decoder: new () => any }>; [k: string]: unknown };
interface Vector { message: string; templateId: number; blockLength: number; schemaId: number; schemaVersion: number; hex: string; decoded: string; fields: Record<string, unknown> }

const FIXTURES = fileURLToPath(new URL('../../../../../test/fixtures/sbe-vectors/', import.meta.url));
const SCHEMAS: [string, Module][] = [
  ['archive', archive as unknown as Module],
  ['archive-mark', archiveMark as unknown as Module],
  ['cluster', cluster as unknown as Module],
  ['cluster-mark', clusterMark as unknown as Module],
  ['cluster-node-state', nodeState as unknown as Module],
];

/** The JSON's values as the codecs take them: int64 as bigint, enums by value, bytes as Uint8Array. */
function typed(module: Module, block: BlockModel, json: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of block.fields) {
    const v = json[f.name];
    assert.ok(v !== undefined, `field ${f.name} is in the vector`);
    if (f.kind === 'enum') out[f.name] = (module[f.enumName!] as Record<string, number>)[v as string];
    else if (f.primitive === 'int64' || f.primitive === 'uint64') out[f.name] = BigInt(v as string);
    else out[f.name] = v;
  }
  for (const g of block.groups) out[g.name] = (json[g.name] as Record<string, unknown>[]).map((entry) => typed(module, g, entry));
  for (const d of block.data) out[d.name] = d.encoding === 'ascii' ? json[d.name] : Uint8Array.from(Buffer.from(json[d.name] as string, 'hex'));
  return out;
}

function encodeBlock(encoder: any, block: BlockModel, value: Record<string, unknown>): void {
  for (const f of block.fields) encoder[f.name](value[f.name]);
  for (const g of block.groups) {
    const entries = value[g.name] as Record<string, unknown>[];
    const ge = encoder[`${g.name}Count`](entries.length);
    for (const entry of entries) {
      ge.next();
      encodeBlock(ge, g, entry);
    }
  }
  for (const d of block.data) encoder[d.name](value[d.name]);
}

function decodeBlock(decoder: any, block: BlockModel): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of block.fields) out[f.name] = decoder[f.name]();
  for (const g of block.groups) {
    const gd = decoder[g.name]();
    const entries: Record<string, unknown>[] = [];
    while (gd.hasNext()) {
      gd.next();
      entries.push(decodeBlock(gd, g));
    }
    out[g.name] = entries;
  }
  for (const d of block.data) {
    const v = decoder[d.name]();
    out[d.name] = d.encoding === 'ascii' ? v : Uint8Array.from(v as Uint8Array);
  }
  return out;
}

for (const [schema, module] of SCHEMAS) {
  test(`${schema}: every message decodes from and encodes to the bytes of Aeron's Java codecs`, () => {
    const file = JSON.parse(readFileSync(`${FIXTURES}sbe-${schema}.json`, 'utf8')) as { format: string; messages: Vector[] };
    assert.equal(file.format, 'aeron-sbe-vectors/1');
    assert.deepEqual(file.messages.map((v) => v.message).sort(), module.MESSAGES.map((m) => m.name).sort(), 'one vector for each message of the schema');
    for (const vector of file.messages) {
      const model = module.MESSAGES.find((m) => m.name === vector.message)!;
      const bytes = Uint8Array.from(Buffer.from(vector.hex, 'hex'));
      assert.deepEqual([vector.templateId, vector.blockLength, vector.schemaId, vector.schemaVersion], [model.templateId, model.blockLength, module.SCHEMA_ID, module.SCHEMA_VERSION], `${vector.message}: header`);
      const { Encoder, Decoder } = module.CODECS[vector.message]!;
      const expected = typed(module, model, vector.fields);
      const decoded = decodeBlock(new Decoder().wrapAndCheckHeader(bytes, 0, bytes.length), model);
      assert.deepEqual(decoded, expected, `${vector.message}: decoded from Java's bytes`);
      const buffer = new Uint8Array(bytes.length + 64);
      const encoder = new Encoder().wrapAndApplyHeader(buffer, 0);
      encodeBlock(encoder, model, expected);
      assert.equal(encoder.encodedLength(), bytes.length, `${vector.message}: encoded length`);
      assert.equal(Buffer.from(buffer.subarray(0, bytes.length)).toString('hex'), vector.hex, `${vector.message}: encoded as Java encodes it`);
      // Java's own listing of the same message names every field with the value checked here.
      for (const f of model.fields) assert.ok(vector.decoded.includes(`${f.name}=`), `${vector.message}: Java listed ${f.name}`);
    }
  });
}
