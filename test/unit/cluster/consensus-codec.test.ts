/**
 * The consensus core's messages in Aeron Cluster's encoding: frames Aeron 1.47.7's Java codecs
 * wrote (test/fixtures/cluster/SOURCE.md) decode to the core's messages, and the core's messages
 * encode to the same bytes (Skein writes schema version 17, Aeron 1.47.7 version 12, and
 * NewLeadershipTerm gained commitPosition in version 15); every message survives a round trip;
 * LogData and foreign bytes are refused with clear errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { ConsensusCodec, CONSENSUS_PROTOCOL_VERSION, MAX_CONSENSUS_FRAME } from '../../../src/cluster/consensus/consensus-codec.js';
import { NULL_VALUE, type ConsensusMessage } from '../../../src/cluster/consensus/consensus-messages.js';
import { SkeinError } from '../../../src/util/errors.js';

const FIXTURE = fileURLToPath(new URL('../../../../test/fixtures/cluster/consensus-aeron-1.47.7.json', import.meta.url));
const frames = (JSON.parse(readFileSync(FIXTURE, 'utf8')) as { frames: Record<string, string> }).frames;
const hex = (name: string): Uint8Array => Uint8Array.from(Buffer.from(frames[name]!, 'hex'));

/** What each Aeron frame says, as the core's message, and the member it was sent to. */
const cases: { name: string; to: number; message: ConsensusMessage }[] = [
  { name: 'canvassPosition', to: 1, message: { type: 'canvass', from: 2, logTermId: 7, logPosition: 123456789012, candidateTermId: 9 } },
  { name: 'requestVote', to: 0, message: { type: 'requestVote', from: 1, candidateTermId: 10, logTermId: 7, logPosition: 4096 } },
  { name: 'vote', to: 1, message: { type: 'vote', from: 4, candidateTermId: 10, logTermId: 6, logPosition: 2048, granted: true } },
  {
    name: 'newLeadershipTerm', to: 2,
    message: { type: 'newLeadershipTerm', from: 1, logTermId: 5, nextTermId: 8, nextTermBase: 65536, nextLogPosition: 98304, leadershipTermId: 10, termBase: 131072, logPosition: 131200, commitPosition: 0 },
  },
  {
    name: 'newLeadershipTermNotHeld', to: 2,
    message: {
      type: 'newLeadershipTerm', from: 1, logTermId: 4, nextTermId: NULL_VALUE, nextTermBase: NULL_VALUE, nextLogPosition: NULL_VALUE, leadershipTermId: 10, termBase: 131072, logPosition: 131200, commitPosition: 0,
    },
  },
  { name: 'appendPosition', to: 1, message: { type: 'appendPosition', from: 2, leadershipTermId: 10, logPosition: 131264 } },
  { name: 'commitPosition', to: 2, message: { type: 'commitPosition', from: 1, leadershipTermId: 10, logPosition: 131232 } },
  { name: 'catchupPosition', to: 1, message: { type: 'catchupPosition', from: 2, leadershipTermId: 10, logPosition: 65536 } },
  { name: 'terminationPosition', to: 2, message: { type: 'terminationPosition', from: NULL_VALUE, leadershipTermId: 10, logPosition: 262144 } },
  { name: 'terminationAck', to: 1, message: { type: 'terminationAck', from: 2, leadershipTermId: 10, logPosition: 262144 } },
];

/** The context the Aeron frames were written with (leader's recording, log session, time, endpoint). */
function codecFor(name: string): ConsensusCodec {
  if (name === 'newLeadershipTerm') return new ConsensusCodec({ leaderRecordingId: () => 3, logSessionId: () => 0xdeadbeef | 0, clusterTime: () => 1700000000123 });
  return new ConsensusCodec({ catchupEndpoint: '127.0.0.1:20113' });
}

test('frames from Aeron 1.47.7 decode to the core messages they stand for', () => {
  for (const c of cases) {
    const frame = hex(c.name);
    assert.deepEqual(codecFor(c.name).decode(frame, 0, frame.length), c.message, c.name);
  }
});

test('the core messages encode to the bytes Aeron 1.47.7 writes, but for the schema version (17, not 12) and the commit position NewLeadershipTerm gained in version 15', () => {
  for (const c of cases) {
    const aeron = hex(c.name);
    const buffer = new Uint8Array(MAX_CONSENSUS_FRAME);
    const length = codecFor(c.name).encode(c.to, c.message, buffer, 0);
    const ours = buffer.subarray(0, length);
    const view = new DataView(ours.buffer, ours.byteOffset, ours.length);
    assert.equal(view.getUint16(6, true), 17, `${c.name}: schema version`);
    const expected = Uint8Array.from(aeron);
    new DataView(expected.buffer).setUint16(6, 17, true);
    if (c.name.startsWith('newLeadershipTerm')) {
      assert.equal(length, aeron.length + 8, 'eight more bytes: commitPosition');
      assert.equal(view.getUint16(0, true), 96, 'block length 96 (Aeron 1.47.7: 88)');
      new DataView(expected.buffer).setUint16(0, 96, true);
      assert.deepEqual(ours.subarray(0, aeron.length), expected, c.name);
      assert.equal(view.getBigInt64(aeron.length, true), 0n, 'the commit position');
    } else {
      assert.deepEqual(ours, expected, c.name);
    }
  }
  const canvass = new Uint8Array(MAX_CONSENSUS_FRAME);
  new ConsensusCodec().encode(1, cases[0]!.message, canvass, 0);
  assert.equal(new DataView(canvass.buffer).getInt32(8 + 28, true), CONSENSUS_PROTOCOL_VERSION, 'protocol version 1.0.0 as Aeron sends it');
});

const i64 = fc.integer({ min: -1, max: Number.MAX_SAFE_INTEGER });
const id = fc.integer({ min: 0, max: 2 ** 31 - 1 });
const messages: fc.Arbitrary<ConsensusMessage> = fc.oneof(
  fc.record({ type: fc.constant('canvass' as const), from: id, logTermId: i64, logPosition: i64, candidateTermId: i64 }),
  fc.record({ type: fc.constant('requestVote' as const), from: id, candidateTermId: i64, logTermId: i64, logPosition: i64 }),
  fc.record({ type: fc.constant('vote' as const), from: id, candidateTermId: i64, logTermId: i64, logPosition: i64, granted: fc.boolean() }),
  fc.record({
    type: fc.constant('newLeadershipTerm' as const), from: id, logTermId: i64, nextTermId: i64, nextTermBase: i64, nextLogPosition: i64, leadershipTermId: i64, termBase: i64, logPosition: i64,
    commitPosition: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
  }),
  fc.record({ type: fc.constant('appendPosition' as const), from: id, leadershipTermId: i64, logPosition: i64 }),
  fc.record({ type: fc.constant('commitPosition' as const), from: id, leadershipTermId: i64, logPosition: i64 }),
  fc.record({ type: fc.constant('catchupPosition' as const), from: id, leadershipTermId: i64, logPosition: i64 }),
  fc.record({ type: fc.constant('terminationPosition' as const), from: fc.constant(NULL_VALUE), leadershipTermId: i64, logPosition: i64 }),
  fc.record({ type: fc.constant('terminationAck' as const), from: id, leadershipTermId: i64, logPosition: i64 }),
);

test('every consensus message survives encoding and decoding, at any offset in a shared buffer', () => {
  const codec = new ConsensusCodec({ catchupEndpoint: 'localhost:20113' });
  const buffer = new Uint8Array(MAX_CONSENSUS_FRAME + 64);
  fc.assert(fc.property(messages, fc.integer({ min: 0, max: 63 }), (message, offset) => {
    const length = codec.encode(3, message, buffer, offset);
    assert.deepEqual(codec.decode(buffer, offset, length), { ...message });
  }), { numRuns: 2000 });
});

test('LogData is not a consensus message, other schemas are refused, other messages of the schema are not consensus', () => {
  const codec = new ConsensusCodec();
  const buffer = new Uint8Array(MAX_CONSENSUS_FRAME);
  assert.throws(() => codec.encode(1, { type: 'logData', from: 0, leadershipTermId: 3, termBase: 0, position: 64, entries: [], commitPosition: 0 }, buffer, 0), (e: unknown) => e instanceof SkeinError && /LogData from member 0 \(term 3, position 64\) travels on the log stream/.test(e.message));
  const foreign = Uint8Array.from(hex('commitPosition'));
  new DataView(foreign.buffer).setUint16(4, 101, true);
  assert.throws(() => codec.decode(foreign, 0, foreign.length), (e: unknown) => e instanceof SkeinError && /schema 101, expected 111 \(template 55, 28 bytes\)/.test(e.message));
  const sessionMessageHeader = Uint8Array.from(hex('commitPosition'));
  new DataView(sessionMessageHeader.buffer).setUint16(2, 1, true);
  assert.equal(codec.decode(sessionMessageHeader, 0, sessionMessageHeader.length), null);
  const cut = hex('newLeadershipTerm').subarray(0, 40);
  assert.throws(() => codec.decode(cut, 0, cut.length), SkeinError);
  assert.throws(() => new ConsensusCodec({ catchupEndpoint: 'x'.repeat(201) }), /201 characters, more than 200/);
});
