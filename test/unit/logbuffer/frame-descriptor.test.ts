import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AssertionFailure } from '../../../src/util/assert.js';
import { copyBytes } from '../../../src/logbuffer/copy-bytes.js';
import {
  DATA_HEADER_LENGTH,
  FRAME_ALIGNMENT,
  PAD_FRAME_TYPE,
  DATA_FRAME_TYPE,
  BEGIN_FRAG_FLAG,
  END_FRAG_FLAG,
  frameLengthOrdered,
  frameLengthVolatile,
  frameSessionId,
  frameStreamId,
  frameType,
  int32ViewOf,
  readInt32LE,
  writeInt32LE,
  writePaddingFrame,
} from '../../../src/logbuffer/frame-descriptor.js';

describe('frame descriptor', () => {
  test('constants', () => {
    assert.deepEqual(
      [FRAME_ALIGNMENT, DATA_HEADER_LENGTH, PAD_FRAME_TYPE, DATA_FRAME_TYPE, BEGIN_FRAG_FLAG, END_FRAG_FLAG],
      [32, 32, 0, 1, 0x80, 0x40],
    );
  });

  test('int32 fields are little-endian and signed', () => {
    const bytes = new Uint8Array(8);
    writeInt32LE(bytes, 1, -2);
    assert.deepEqual(Array.from(bytes.subarray(1, 5)), [0xfe, 0xff, 0xff, 0xff]);
    assert.equal(readInt32LE(bytes, 1), -2);
  });

  test('frame lengths are published through a cached Int32Array view of the same bytes', () => {
    const term = new Uint8Array(new SharedArrayBuffer(256), 64, 128);
    frameLengthOrdered(term, 32, 1234);
    assert.equal(readInt32LE(term, 32), 1234);
    assert.equal(frameLengthVolatile(term, 32), 1234);
    assert.equal(int32ViewOf(term), int32ViewOf(term));
    assert.equal(int32ViewOf(term).byteOffset, 64);
    assert.throws(() => int32ViewOf(new Uint8Array(new ArrayBuffer(64), 2, 32)), AssertionFailure);
  });

  test('writePaddingFrame takes flags, session and stream from the template', () => {
    const template = new Uint8Array(32);
    template[5] = 0xc0;
    template[6] = DATA_FRAME_TYPE;
    writeInt32LE(template, 12, 99);
    writeInt32LE(template, 16, 98);
    const term = new Uint8Array(new ArrayBuffer(256));
    writePaddingFrame(term, 64, 192, template, 5);
    assert.equal(
      Buffer.from(term.subarray(64, 96)).toString('hex'),
      'c0000000' + '00c00000' + '40000000' + '63000000' + '62000000' + '05000000' + '0000000000000000',
    );
    assert.equal(frameType(term, 64), PAD_FRAME_TYPE);
    assert.equal(frameSessionId(term, 64), 99);
    assert.equal(frameStreamId(term, 64), 98);
  });
});

describe('copyBytes', () => {
  test('whole, short and long ranges', () => {
    const src = Uint8Array.from({ length: 300 }, (_, i) => i & 0xff);
    for (const [srcOffset, length] of [[0, 300], [5, 10], [0, 64], [7, 65], [100, 200]] as const) {
      const dst = new Uint8Array(400);
      copyBytes(dst, 50, src, srcOffset, length);
      assert.deepEqual(dst.subarray(50, 50 + length), src.subarray(srcOffset, srcOffset + length));
      assert.equal(dst[49], 0);
      assert.equal(dst[50 + length], 0);
    }
  });
});
