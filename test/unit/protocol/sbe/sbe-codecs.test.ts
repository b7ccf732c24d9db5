/**
 * Every message of every schema round-trips through its generated encoder and decoder (fast-check
 * values: extreme 64-bit integers, every enum value, ASCII and byte var data, groups of 0 to 3
 * entries); decoders honour acting version and block length; bad input is refused by name; and
 * the committed codecs are what the generator makes from the committed schemas.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import * as archive from '../../../../src/archive/codecs/archive-codecs.js';
import * as archiveMark from '../../../../src/archive/codecs/archive-mark-codecs.js';
import * as cluster from '../../../../src/cluster/codecs/cluster-codecs.js';
import * as clusterMark from '../../../../src/cluster/codecs/cluster-mark-codecs.js';
import * as nodeState from '../../../../src/cluster/codecs/cluster-node-state-codecs.js';
import { staleTargets } from '../../../../tools/sbe/main.js';
import { ErrorCode, SkeinError } from '../../../../src/util/errors.js';
import { SbeDecoder, SbeEncoder } from '../../../../src/protocol/sbe/sbe-runtime.js';

interface FieldModel { readonly name: string; readonly kind: string; readonly primitive: string; readonly enumName?: string; readonly sinceVersion: number }
interface DataModel { readonly name: string; readonly encoding: string }
interface BlockModel { readonly fields: readonly FieldModel[]; readonly groups: readonly (BlockModel & { readonly name: string })[]; readonly data: readonly DataModel[] }
interface MessageModel extends BlockModel { readonly name: string; readonly templateId: number }
type Module = { MESSAGES: readonly MessageModel[]; CODECS: Record<string, { Encoder: new () => any; Decoder: new () => any }>; [k: string]: unknown };

const MODULES: [string, Module][] = [
  ['archive', archive as unknown as Module],
  ['archive-mark', archiveMark as unknown as Module],
  ['cluster', cluster as unknown as Module],
  ['cluster-mark', clusterMark as unknown as Module],
  ['cluster-node-state', nodeState as unknown as Module],
];

const RANGES: Record<string, [number, number]> = {
  int8: [-128, 127], uint8: [0, 255], char: [0, 127], int16: [-32768, 32767], uint16: [0, 65535], int32: [-(2 ** 31), 2 ** 31 - 1], uint32: [0, 2 ** 32 - 1],
};

function fieldValue(module: Module, f: FieldModel): fc.Arbitrary<unknown> {
  if (f.kind === 'enum') return fc.constantFrom(...Object.values(module[f.enumName!] as Record<string, number>));
  if (f.primitive === 'int64') return fc.oneof(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), fc.constantFrom(-(2n ** 63n), 2n ** 63n - 1n, -1n, 0n));
  if (f.primitive === 'uint64') return fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });
  if (f.primitive === 'float') return fc.float({ noNaN: true }).map((x) => Math.fround(x));
  if (f.primitive === 'double') return fc.double({ noNaN: true });
  const [min, max] = RANGES[f.primitive]!;
  return fc.integer({ min, max });
}

function blockValue(module: Module, block: BlockModel): fc.Arbitrary<Record<string, unknown>> {
  const shape: Record<string, fc.Arbitrary<unknown>> = {};
  for (const f of block.fields) shape[f.name] = fieldValue(module, f);
  for (const g of block.groups) shape[g.name] = fc.array(blockValue(module, g), { maxLength: 3 });
  for (const d of block.data) shape[d.name] = d.encoding === 'ascii' ? fc.string({ unit: fc.integer({ min: 0, max: 127 }).map((c) => String.fromCharCode(c)), maxLength: 40 }) : fc.uint8Array({ maxLength: 40 });
  return fc.record(shape);
}

/** One text for a value whatever its prototype: bigints and bytes spelt out, keys in order. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v instanceof Uint8Array ? `bytes:${Buffer.from(v).toString('hex')}` : Object.is(v, -0) ? '-0' : v));
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

for (const [name, module] of MODULES) {
  test(`every ${name} message round-trips through its encoder and decoder`, () => {
    assert.ok(module.MESSAGES.length > 0);
    const buffer = new Uint8Array(64 * 1024);
    for (const m of module.MESSAGES) {
      const { Encoder, Decoder } = module.CODECS[m.name]!;
      fc.assert(
        fc.property(blockValue(module, m), fc.integer({ min: 0, max: 64 }), (value, offset) => {
          const encoder = new Encoder().wrapAndApplyHeader(buffer, offset);
          encodeBlock(encoder, m, value);
          const length = encoder.encodedLength();
          const decoded = decodeBlock(new Decoder().wrapAndCheckHeader(buffer, offset, length), m);
          assert.equal(canonical(decoded), canonical(value), m.name);
        }),
        { numRuns: 25, seed: 42 },
      );
    }
  });
}

const SAFE_EDGES = [0, -1, 1, 2 ** 31, -(2 ** 31), 2 ** 32 - 1, 2 ** 32, -(2 ** 32), -(2 ** 32) + 1, 2 ** 32 + 1, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER];
const argInvalid = (fragment: string) => (e: unknown) => e instanceof SkeinError && e.code === ErrorCode.ARG_INVALID && e.message.includes(fragment);

test('int64 fields written as numbers read back as the same bigint and number; AsNumber refuses what is beyond 2^53 by name', () => {
  const buffer = new Uint8Array(128);
  const check = (n: number): void => {
    const length = new cluster.SessionMessageHeaderEncoder().wrapAndApplyHeader(buffer, 3).leadershipTermId(n).clusterSessionId(-n).timestamp(n).encodedLength();
    const d = new cluster.SessionMessageHeaderDecoder().wrapAndCheckHeader(buffer, 3, length);
    assert.equal(d.leadershipTermId(), BigInt(n));
    assert.equal(d.clusterSessionId(), BigInt(-n));
    assert.equal(d.leadershipTermIdAsNumber(), n);
    assert.equal(d.clusterSessionIdAsNumber(), -n === 0 ? 0 : -n);
    assert.equal(d.timestampAsNumber(), n);
  };
  for (const n of SAFE_EDGES) check(n);
  fc.assert(fc.property(fc.maxSafeInteger(), check), { numRuns: 500, seed: 7 });
  for (const big of [2n ** 53n, -(2n ** 53n), 2n ** 63n - 1n, -(2n ** 63n)]) {
    const length = new cluster.SessionMessageHeaderEncoder().wrapAndApplyHeader(buffer, 0).leadershipTermId(0).clusterSessionId(0).timestamp(big).encodedLength();
    const d = new cluster.SessionMessageHeaderDecoder().wrapAndCheckHeader(buffer, 0, length);
    assert.equal(d.timestamp(), big);
    assert.throws(() => d.timestampAsNumber(), argInvalid(`SessionMessageHeader.timestamp=${big} is beyond 2^53`));
  }
  const e = new cluster.SessionMessageHeaderEncoder().wrapAndApplyHeader(buffer, 0);
  assert.throws(() => e.timestamp(1.5), argInvalid('SessionMessageHeader.timestamp=1.5 is not an integer'));
  assert.throws(() => e.timestamp(2 ** 53), argInvalid('SessionMessageHeader.timestamp=9007199254740992 is not an integer of at most 2^53'));
});

/** A uint64 at offset 0 of an 8-byte block (no schema here has one): the runtime's number paths. */
class U64Probe {
  private readonly enc = new (class extends SbeEncoder {
    put(buffer: Uint8Array, value: bigint | number): void {
      this.bindEncoder(buffer, 0, 8);
      this.u64(0, value, 'Probe.value');
    }
  })();
  private readonly dec = new (class extends SbeDecoder {
    get(buffer: Uint8Array): number {
      this.bindDecoder(buffer, 0, 8, 0, 8, 'Probe');
      return this.u64Number(0, 'Probe.value');
    }
  })();
  readonly buffer = new Uint8Array(8);
  put(value: bigint | number): this {
    this.enc.put(this.buffer, value);
    return this;
  }
  get(): number {
    return this.dec.get(this.buffer);
  }
  asBigInt(): bigint {
    return new DataView(this.buffer.buffer).getBigUint64(0, true);
  }
}

test('uint64 fields: numbers are written and read without bigints; negatives and values beyond 2^53 are refused by name', () => {
  const probe = new U64Probe();
  for (const n of SAFE_EDGES.filter((x) => x >= 0)) {
    assert.equal(probe.put(n).asBigInt(), BigInt(n));
    assert.equal(probe.get(), n);
  }
  fc.assert(fc.property(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), (n) => probe.put(n).get() === n), { numRuns: 500, seed: 9 });
  assert.throws(() => probe.put(-1), argInvalid('Probe.value=-1 is outside the uint64 range'));
  probe.put(2n ** 64n - 1n);
  assert.throws(() => probe.get(), argInvalid(`Probe.value=${2n ** 64n - 1n} is beyond 2^53`));
  probe.put(2n ** 53n);
  assert.throws(() => probe.get(), argInvalid('is beyond 2^53'));
});

test('decoders honour the acting version and block length: later fields read null, var data follow the acting block', () => {
  const buffer = new Uint8Array(256);
  const e = new archive.ReplayRequestEncoder().wrapAndApplyHeader(buffer, 0).controlSessionId(1).correlationId(2).recordingId(3).position(4).length(5).replayStreamId(6).fileIoMaxLength(7).replayToken(8).replayChannel('aeron:ipc');
  // A version 6 sender's block ends after replayStreamId (44 bytes): rebuild it that way.
  const old = new Uint8Array(44 + 4 + 9);
  old.set(buffer.subarray(8, 8 + 44));
  old.set(buffer.subarray(8 + 56, e.encodedLength()), 44);
  const d = new archive.ReplayRequestDecoder().wrap(old, 0, 44, 6);
  assert.equal(d.replayStreamId(), 6);
  assert.equal(d.fileIoMaxLength(), -(2 ** 31), 'since version 7: the SBE null');
  assert.equal(d.replayToken(), -(2n ** 63n), 'since version 10: the SBE null');
  assert.equal(d.replayChannel(), 'aeron:ipc');
  // A newer sender with a longer block: the extra bytes are skipped.
  const newer = new Uint8Array(64 + 4 + 9);
  newer.set(buffer.subarray(8, 8 + 56));
  newer.set(buffer.subarray(8 + 56, e.encodedLength()), 64);
  const n = new archive.ReplayRequestDecoder().wrap(newer, 0, 64, 99);
  assert.equal(n.replayToken(), 8n);
  assert.equal(n.replayChannel(), 'aeron:ipc');
});

const protocolInvalid = (fragment: string) => (e: unknown) => e instanceof SkeinError && e.code === ErrorCode.PROTOCOL_INVALID && e.message.includes(fragment);

test('bad input is refused naming message, field and value', () => {
  const buffer = new Uint8Array(256);
  const e = new archive.StartRecordingRequestEncoder().wrapAndApplyHeader(buffer, 0).controlSessionId(1).correlationId(2).streamId(3).sourceLocation(archive.SourceLocation.LOCAL).channel('aeron:ipc');
  const length = e.encodedLength();
  assert.throws(() => new archive.StartRecordingRequestDecoder().wrapAndCheckHeader(buffer, 0, 20), protocolInvalid('StartRecordingRequest: block length 24 runs past the end of the message'));
  const d = new archive.StartRecordingRequestDecoder().wrapAndCheckHeader(buffer, 0, length - 2);
  assert.throws(() => d.channel(), protocolInvalid('StartRecordingRequest.channel: length 9 runs past the end of the message'));
  const bad = buffer.slice(0, length);
  new DataView(bad.buffer).setInt32(8 + 20, 7, true);
  assert.throws(() => new archive.StartRecordingRequestDecoder().wrapAndCheckHeader(bad, 0).sourceLocation(), protocolInvalid('StartRecordingRequest.sourceLocation: value 7 is not one of the schema'));
  assert.throws(() => new archive.StopRecordingRequestDecoder().wrapAndCheckHeader(buffer, 0, length), protocolInvalid('header says schema 101 template 4, expected schema 101 template 5'));
  assert.throws(() => new cluster.SessionMessageHeaderDecoder().wrapAndCheckHeader(buffer, 0, length), protocolInvalid('expected schema 111 template 1'));
  assert.throws(() => new archive.StartRecordingRequestEncoder().wrapAndApplyHeader(buffer, 0).channel('café'), (x: unknown) => x instanceof SkeinError && x.code === ErrorCode.ARG_INVALID && x.message.includes('character 233 at index 3 is not US-ASCII'));
  assert.throws(() => new archive.StartRecordingRequestEncoder().wrapAndApplyHeader(buffer, 0).streamId(2 ** 31), /streamId=2147483648 is outside/);
  assert.throws(() => new archive.StartRecordingRequestEncoder().wrapAndApplyHeader(buffer, 0).controlSessionId(2 ** 60), /is not an integer of at most 2\^53/);
  assert.throws(() => new archive.StartRecordingRequestEncoder().wrapAndApplyHeader(new Uint8Array(16), 0), /does not fit a buffer of 16 bytes/);
  assert.throws(() => new archive.StartRecordingRequestEncoder().wrapAndApplyHeader(new Uint8Array(40), 0).channel('x'.repeat(100)), /do not fit the buffer/);
  assert.throws(() => new archive.ControlResponseDecoder().wrapAndCheckHeader(buffer, 0, length).relevantIdAsNumber(), protocolInvalid('expected schema 101 template 1'));
});

test('encoding a message allocates nothing once its encoder and buffer exist', () => {
  const buffer = new Uint8Array(1024);
  const e = new archive.RecordingSignalEventEncoder();
  const run = (n: number): void => {
    for (let i = 0; i < n; i++) e.wrapAndApplyHeader(buffer, 0).controlSessionId(1n).correlationId(2n).recordingId(3n).subscriptionId(4n).position(5n).signal(archive.RecordingSignal.START);
  };
  run(10_000);
  const before = process.memoryUsage().heapUsed;
  run(100_000);
  const grown = process.memoryUsage().heapUsed - before;
  assert.ok(grown < 4 * 1024 * 1024, `heap grew ${grown} bytes over 100k encodings`);
});

test('the committed codecs are what the generator makes from the committed schemas', () => {
  assert.deepEqual(staleTargets(), [], 'run npm run generate:sbe and commit the result');
});
