import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { copyIntoTerm } from '../../../src/logbuffer/copy-bytes.js';

/**
 * copyIntoTerm copies short messages word by word from a source it has seen twice in a row, and
 * everything else through copyBytes: whatever the path, the bytes in the term are the source's.
 */

function term(): { bytes: Uint8Array; ints: Int32Array } {
  const buffer = new SharedArrayBuffer(1024);
  return { bytes: new Uint8Array(buffer), ints: new Int32Array(buffer) };
}

test('every length, source offset and source alignment copies exactly, on first and repeated use', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 200 }),
      fc.integer({ min: 0, max: 3 }),
      fc.integer({ min: 0, max: 8 }),
      fc.integer({ min: 1, max: 3 }),
      (length, byteOffset, srcOffset, uses) => {
        const backing = new ArrayBuffer(byteOffset + srcOffset + length + 8);
        const src = new Uint8Array(backing, byteOffset, srcOffset + length + 4);
        for (let i = 0; i < src.length; i++) src[i] = (i * 37 + 11) & 0xff;
        const { bytes, ints } = term();
        for (let use = 0; use < uses; use++) {
          bytes.fill(0xee);
          copyIntoTerm(ints, bytes, 64, src, srcOffset, length);
          assert.deepEqual(bytes.subarray(64, 64 + length), src.subarray(srcOffset, srcOffset + length));
          assert.equal(bytes[63], 0xee, 'nothing written before the destination');
          assert.equal(bytes[64 + length], 0xee, 'nothing written after the copied bytes');
        }
      },
    ),
  );
});

test('a source that changes between uses is copied as it is now (no stale word view)', () => {
  const { bytes, ints } = term();
  const src = new Uint8Array(32);
  for (let round = 0; round < 5; round++) {
    src.fill(round + 1);
    copyIntoTerm(ints, bytes, 0, src, 0, 32);
    assert.deepEqual([...bytes.subarray(0, 32)], new Array(32).fill(round + 1));
  }
  const other = new Uint8Array(32).fill(9);
  copyIntoTerm(ints, bytes, 0, other, 0, 32);
  assert.deepEqual([...bytes.subarray(0, 32)], new Array(32).fill(9));
});

test('a length-tracking source that grew is copied in full, not cut to its old word view', () => {
  // Resizable ArrayBuffers (Node 20) are newer than this project's TypeScript lib.
  const Resizable = ArrayBuffer as unknown as new (length: number, options: { maxByteLength: number }) => ArrayBuffer & { resize(length: number): void };
  const resizable = new Resizable(16, { maxByteLength: 64 });
  const src = new Uint8Array(resizable);
  const { bytes, ints } = term();
  src.fill(1);
  copyIntoTerm(ints, bytes, 0, src, 0, 16);
  copyIntoTerm(ints, bytes, 0, src, 0, 16);
  resizable.resize(48);
  src.fill(2);
  copyIntoTerm(ints, bytes, 0, src, 0, 48);
  assert.deepEqual([...bytes.subarray(0, 48)], new Array(48).fill(2));
});
