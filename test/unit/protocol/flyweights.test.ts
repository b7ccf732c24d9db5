import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  DataHeaderFlyweight,
  ERR_MAX_MESSAGE_LENGTH,
  ErrorFlyweight,
  FrameFlags,
  FrameType,
  frameTypeName,
  HeaderFlyweight,
  ResolutionEntryFlyweight,
  ResolutionType,
  StatusMessageFlyweight,
} from '../../../src/protocol/index.js';
import { AssertionFailure } from '../../../src/util/assert.js';
import { ErrorCode, SkeinError } from '../../../src/util/errors.js';

class ViewProbe extends HeaderFlyweight {
  get dataView(): DataView {
    return this.view;
  }
}

test('wrap keeps its DataView while the ArrayBuffer stays the same', () => {
  const arrayBuffer = new ArrayBuffer(256);
  const probe = new ViewProbe().wrap(new Uint8Array(arrayBuffer, 0, 64));
  const first = probe.dataView;
  probe.wrap(new Uint8Array(arrayBuffer, 64, 64));
  probe.wrap(new Uint8Array(arrayBuffer), 128);
  assert.equal(probe.dataView, first);
  probe.wrap(new Uint8Array(64));
  assert.notEqual(probe.dataView, first);
});

test('wrap honours the byteOffset of the Uint8Array and the offset argument', () => {
  const arrayBuffer = new ArrayBuffer(128);
  const whole = new Uint8Array(arrayBuffer);
  const data = new DataHeaderFlyweight().wrap(whole.subarray(16), 8);
  data.writeHeader(46, FrameFlags.UNFRAGMENTED, FrameType.DATA, 1024, 1234, 1001, 102);
  assert.equal(new DataView(arrayBuffer).getInt32(24, true), 46);
  assert.equal(whole[24 + 5], 0xc0);
  assert.equal(new DataView(arrayBuffer).getInt32(24 + 12, true), 1234);
  assert.equal(data.payloadOffset, 8 + 32);
});

test('wrap rejects windows outside the buffer', () => {
  const flyweight = new HeaderFlyweight();
  assert.throws(() => flyweight.wrap(new Uint8Array(16), 10, 8), AssertionFailure);
  assert.throws(() => flyweight.wrap(new Uint8Array(16), -1), AssertionFailure);
  assert.doesNotThrow(() => flyweight.wrap(new Uint8Array(16), 16));
});

test('type reads as an unsigned 16-bit code and frameTypeName names it', () => {
  const header = new HeaderFlyweight().wrap(new Uint8Array(8));
  header.type = -1;
  assert.equal(header.type, FrameType.EXT);
  assert.equal(frameTypeName(header.type), 'EXT');
  assert.equal(frameTypeName(-1), 'EXT');
  assert.equal(frameTypeName(FrameType.RSP_SETUP), 'RSP_SETUP');
  assert.equal(frameTypeName(0x0c), 'UNKNOWN(0x000c)');
  header.frameLength = 0xffffffff;
  assert.equal(header.frameLength, -1);
});

test('reservedValue halves match the 64-bit value', () => {
  const data = new DataHeaderFlyweight().wrap(new Uint8Array(32));
  data.reservedValue = -2n;
  assert.equal(data.reservedValueLow, -2);
  assert.equal(data.reservedValueHigh, -1);
  data.reservedValueLow = 0x12345678;
  data.reservedValueHigh = 0x7fffffff;
  assert.equal(data.reservedValue, 0x7fffffff12345678n);
});

test('isHeartbeat: frameLength 0 in a 32-byte datagram only', () => {
  const data = new DataHeaderFlyweight().wrap(new Uint8Array(64));
  data.writeHeartbeat(FrameFlags.UNFRAGMENTED | FrameFlags.EOS, 1216, 1234, 1001, 102);
  assert.equal(data.isHeartbeat(32), true);
  assert.equal(data.isHeartbeat(64), false);
  assert.equal(data.flags, 0xe0);
  assert.equal(data.type, FrameType.DATA);
  data.frameLength = 32;
  assert.equal(data.isHeartbeat(32), false);
});

test('SM group tag: present iff frameLength is exactly 44, read unaligned', () => {
  const bytes = new Uint8Array(44);
  const sm = new StatusMessageFlyweight().wrap(bytes);
  sm.writeStatusMessage(0, 1, 2, 3, 4, 5, -9134299411670013099n);
  assert.equal(sm.frameLength, 36);
  assert.equal(sm.hasGroupTag, false);
  assert.equal(sm.groupTag, null);
  assert.equal(sm.receiverId, -9134299411670013099n);
  assert.equal(new DataView(bytes.buffer).getBigInt64(28, true), -9134299411670013099n);
  sm.groupTag = 99n;
  assert.equal(sm.frameLength, 44);
  assert.equal(sm.groupTag, 99n);
  sm.frameLength = 40;
  assert.equal(sm.hasGroupTag, false, 'the C driver ignores any length but 44');
  sm.groupTag = 7n;
  sm.groupTag = null;
  assert.equal(sm.frameLength, 36);
});

test('ERR text: UTF-8, truncated to 1023 bytes on a character boundary, frameLength = 40 + n', () => {
  const bytes = new Uint8Array(2048);
  const err = new ErrorFlyweight().wrap(bytes);
  assert.equal(err.setErrorMessage('image rejected'), 14);
  assert.equal(err.frameLength, 54);
  assert.equal(err.errorMessage, 'image rejected');

  assert.equal(err.setErrorMessage('x'.repeat(5000)), ERR_MAX_MESSAGE_LENGTH);
  assert.equal(err.frameLength, 40 + ERR_MAX_MESSAGE_LENGTH);

  const n = err.setErrorMessage('é'.repeat(600)); // 2 bytes each
  assert.equal(n, 1022);
  assert.equal(err.errorMessage, 'é'.repeat(511));
});

test('ERR text that begins with U+FEFF keeps it when read back', () => {
  const err = new ErrorFlyweight().wrap(new Uint8Array(256));
  for (const text of ['\uFEFF', '\uFEFFimage rejected', '\uFEFF\uFEFFx']) {
    err.setErrorMessage(text);
    assert.equal(err.errorMessage, text);
  }
});

test('ERR text is clamped to the wrapped bytes when writing and reading', () => {
  const bytes = new Uint8Array(50);
  const err = new ErrorFlyweight().wrap(bytes);
  assert.equal(err.setErrorMessage('0123456789abcdef'), 10);
  assert.equal(err.errorMessage, '0123456789');
  err.errorLength = 1000;
  assert.equal(err.errorMessage, '0123456789');
  err.errorLength = -5;
  assert.equal(err.errorMessage, '');
  err.flags = FrameFlags.ERR_HAS_GROUP_TAG;
  assert.equal(err.hasGroupTag, true);
});

test('RES IPv6 entry: 16-byte address, name after it, entry padded to 8', () => {
  const bytes = new Uint8Array(64).fill(0xee);
  const entry = new ResolutionEntryFlyweight().wrap(bytes);
  const address = new Uint8Array(16).map((_, i) => i + 1);
  const length = entry.write({ resType: ResolutionType.IPV6, resFlags: FrameFlags.RES_SELF, udpPort: 40471, ageInMs: 7, address, name: 'node' });
  assert.equal(length, 32); // align(26 + 4, 8)
  assert.equal(ResolutionEntryFlyweight.entryLengthFor(ResolutionType.IPV6, 4), 32);
  assert.equal(ResolutionEntryFlyweight.entryLengthFor(ResolutionType.IPV4, 5), 24);
  assert.deepEqual(entry.address, address);
  assert.equal(new DataView(bytes.buffer).getInt16(24, true), 4);
  assert.equal(entry.name, 'node');
  assert.deepEqual(Array.from(bytes.subarray(30, 32)), [0, 0], 'padding zeroed');
  assert.equal(bytes[32], 0xee, 'nothing written past the entry');
  const copy = entry.address;
  copy[0] = 0xff;
  assert.equal(entry.address[0], 1, 'address getter returns a copy');
});

test('RES entry rejects an address of the wrong size and a name that does not fit', () => {
  const entry = new ResolutionEntryFlyweight().wrap(new Uint8Array(20));
  entry.resType = ResolutionType.IPV4;
  assert.throws(() => (entry.address = new Uint8Array(16)), AssertionFailure);
  assert.throws(
    () => (entry.name = 'a-name-that-is-too-long'),
    (e: unknown) => e instanceof SkeinError && e.code === ErrorCode.ARG_INVALID && /a-name-that-is-too-long/.test(e.message),
  );
  entry.name = 'fits!!';
  assert.equal(entry.nameLength, 6);
});
