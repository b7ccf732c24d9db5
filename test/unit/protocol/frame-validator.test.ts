import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  FrameType,
  HeaderFlyweight,
  InvalidFrameReason,
  invalidFrameReasonName,
  validateDatagram,
} from '../../../src/protocol/index.js';
import { AssertionFailure } from '../../../src/util/assert.js';

const header = new HeaderFlyweight();

/** A zeroed datagram of `length` bytes with the given header. */
function datagram(length: number, type: number, frameLength = length, version = 0): Uint8Array {
  const bytes = new Uint8Array(length);
  header.wrap(bytes);
  if (length >= 8) {
    header.writeFrameHeader(frameLength, 0, type);
    header.version = version;
  }
  return bytes;
}

const gate = (bytes: Uint8Array): number => validateDatagram(bytes, 0, bytes.length);

const FIXED_LENGTHS: [number, number][] = [
  [FrameType.NAK, 28],
  [FrameType.SM, 36],
  [FrameType.ERR, 40],
  [FrameType.SETUP, 40],
  [FrameType.RTTM, 40],
  [FrameType.RES, 22],
  [FrameType.RSP_SETUP, 20],
];

test('accepts every known frame type at its minimum length and returns the type', () => {
  assert.equal(gate(datagram(32, FrameType.DATA, 0)), FrameType.DATA);
  assert.equal(gate(datagram(32, FrameType.PAD, 65536)), FrameType.PAD, 'PAD frameLength may exceed the datagram');
  assert.equal(gate(datagram(1408, FrameType.DATA, 1400)), FrameType.DATA);
  for (const [type, length] of FIXED_LENGTHS) {
    assert.equal(gate(datagram(length, type)), type, `type ${type} at ${length} bytes`);
    assert.equal(gate(datagram(length + 5, type)), type, `type ${type} with trailing bytes`);
  }
});

test('checks the datagram at an offset inside a larger buffer', () => {
  const buffer = new Uint8Array(100).fill(0xff);
  buffer.set(datagram(36, FrameType.SM), 50);
  assert.equal(validateDatagram(buffer, 50, 36), FrameType.SM);
  assert.equal(validateDatagram(buffer, 50, 35), InvalidFrameReason.CONTROL_TOO_SHORT);
  assert.throws(() => validateDatagram(buffer, 90, 36), AssertionFailure);
});

test('TOO_SHORT: fewer than 8 bytes', () => {
  for (let length = 0; length < 8; length++) {
    assert.equal(gate(new Uint8Array(length)), InvalidFrameReason.TOO_SHORT);
  }
});

test('BAD_VERSION: version byte other than 0', () => {
  assert.equal(gate(datagram(36, FrameType.SM, 36, 1)), InvalidFrameReason.BAD_VERSION);
  assert.equal(gate(datagram(32, FrameType.DATA, 0, 0xff)), InvalidFrameReason.BAD_VERSION);
});

test('NEGATIVE_FRAME_LENGTH: frameLength negative as int32', () => {
  assert.equal(gate(datagram(32, FrameType.DATA, -1)), InvalidFrameReason.NEGATIVE_FRAME_LENGTH);
  assert.equal(gate(datagram(36, FrameType.SM, 0x80000000)), InvalidFrameReason.NEGATIVE_FRAME_LENGTH);
});

test('DATA_LENGTH_NOT_ALIGNED: DATA/PAD datagram not a multiple of 32', () => {
  assert.equal(gate(datagram(33, FrameType.DATA, 33)), InvalidFrameReason.DATA_LENGTH_NOT_ALIGNED);
  assert.equal(gate(datagram(46, FrameType.DATA, 46)), InvalidFrameReason.DATA_LENGTH_NOT_ALIGNED);
  assert.equal(gate(datagram(40, FrameType.PAD, 64)), InvalidFrameReason.DATA_LENGTH_NOT_ALIGNED);
});

test('DATA_TOO_SHORT: DATA/PAD datagram below 32 bytes', () => {
  assert.equal(gate(datagram(8, FrameType.DATA, 0)), InvalidFrameReason.DATA_TOO_SHORT);
  assert.equal(gate(datagram(31, FrameType.PAD, 31)), InvalidFrameReason.DATA_TOO_SHORT);
});

test('CONTROL_TOO_SHORT: control datagram below the fixed size of its type', () => {
  for (const [type, length] of FIXED_LENGTHS) {
    assert.equal(gate(datagram(length - 1, type, 8)), InvalidFrameReason.CONTROL_TOO_SHORT, `type ${type} at ${length - 1} bytes`);
  }
});

test('FRAME_LENGTH_EXCEEDS_DATAGRAM: control frameLength larger than the datagram', () => {
  assert.equal(gate(datagram(36, FrameType.SM, 44)), InvalidFrameReason.FRAME_LENGTH_EXCEEDS_DATAGRAM);
  assert.equal(gate(datagram(40, FrameType.ERR, 86)), InvalidFrameReason.FRAME_LENGTH_EXCEEDS_DATAGRAM);
  for (const [type, length] of FIXED_LENGTHS) {
    assert.equal(gate(datagram(length, type, length + 1)), InvalidFrameReason.FRAME_LENGTH_EXCEEDS_DATAGRAM);
  }
});

test('UNKNOWN_TYPE: ATS types, EXT and unassigned codes', () => {
  for (const type of [FrameType.ATS_DATA, FrameType.ATS_SETUP, FrameType.ATS_SM, FrameType.EXT, 0x0c, 0x1234, 0x8000]) {
    assert.equal(gate(datagram(64, type, 64)), InvalidFrameReason.UNKNOWN_TYPE, `type 0x${type.toString(16)}`);
  }
});

test('every reason is negative, distinct and named', () => {
  const codes = Object.values(InvalidFrameReason);
  assert.equal(new Set(codes).size, codes.length);
  for (const [name, code] of Object.entries(InvalidFrameReason)) {
    assert.ok(code < 0);
    assert.equal(invalidFrameReasonName(code), name);
  }
  assert.equal(invalidFrameReasonName(-99), 'UNKNOWN_REASON(-99)');
});
