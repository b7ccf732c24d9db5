import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Header } from '../../../src/logbuffer/header.js';
import { setFrameFlags, setFrameReservedValue, setFrameTermId, setFrameTermOffset, writeInt32LE } from '../../../src/logbuffer/frame-descriptor.js';

function frameAt(offset: number, termOffset: number, frameLength: number, termId: number): Uint8Array {
  const buffer = new Uint8Array(offset + 64);
  writeInt32LE(buffer, offset, frameLength);
  setFrameTermOffset(buffer, offset, termOffset);
  setFrameTermId(buffer, offset, termId);
  return buffer;
}

describe('Header', () => {
  test('position is the aligned end of the frame, exact beyond 2^32', () => {
    const header = new Header(10, 16);
    header.buffer = frameAt(7, 4096, 33, 10 + 70000);
    header.offset = 7;
    assert.equal(header.nextTermOffset, 4160);
    assert.equal(header.position, 70000 * 65536 + 4160);
  });

  test('a frame ending at the term end has the next term begin as its position', () => {
    const header = new Header(-1, 16);
    header.buffer = frameAt(0, 65536 - 64, 64, 1);
    assert.equal(header.position, 3 * 65536);
  });

  test('overrideNextTermOffset sets the end used for position; -1 restores the frame end', () => {
    const header = new Header(0, 16);
    header.buffer = frameAt(0, 1024, 5000, 0);
    header.overrideNextTermOffset(1056);
    assert.equal(header.position, 1056);
    header.overrideNextTermOffset(-1);
    assert.equal(header.position, 1024 + 5024);
  });

  test('reserved value: halves and the 64-bit bigint', () => {
    const header = new Header(0, 16);
    header.buffer = frameAt(0, 0, 32, 0);
    setFrameReservedValue(header.buffer, 0, -1, -2);
    assert.equal(header.reservedValueLow, -1);
    assert.equal(header.reservedValueHigh, -2);
    assert.equal(header.reservedValue, -4294967297n);
    setFrameReservedValue(header.buffer, 0, 0x80000000 | 0, 0x7fffffff);
    assert.equal(header.reservedValue, 0x7fffffff80000000n);
  });

  test('fragment flags', () => {
    const header = new Header(0, 16);
    header.buffer = frameAt(0, 0, 32, 0);
    for (const [flags, begin, end] of [[0x80, true, false], [0x40, false, true], [0xc0, true, true], [0x00, false, false]] as const) {
      setFrameFlags(header.buffer, 0, flags);
      assert.deepEqual([header.isBeginFragment, header.isEndFragment], [begin, end]);
    }
  });
});
