import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { TermGapScanner } from '../../../src/logbuffer/term-gap-scanner.js';
import { fillGap } from '../../../src/logbuffer/term-gap-filler.js';
import { LogBuffers } from '../../../src/logbuffer/log-buffers.js';
import { Header } from '../../../src/logbuffer/header.js';
import { TermReader } from '../../../src/logbuffer/term-reader.js';
import { PAD_FRAME_TYPE, frameLengthOrdered, frameTermId, frameTermOffset, frameType, setFrameType } from '../../../src/logbuffer/frame-descriptor.js';

const TERM = 65536;

function image(): { term: Uint8Array; log: LogBuffers } {
  const log = LogBuffers.allocate({ termLength: TERM });
  log.metaData.initialise({ correlationId: 1, initialTermId: 3, mtuLength: 1408, sessionId: 5, streamId: 6 });
  return { term: log.termBuffers[0]!, log };
}

/** Marks a DATA frame of `length` bytes at `offset` (only the length word matters to the scanner). */
function frame(term: Uint8Array, offset: number, length: number, type = 1): void {
  setFrameType(term, offset, type);
  frameLengthOrdered(term, offset, length);
}

describe('TermGapScanner', () => {
  test('no gap: the rebuild offset moves to the end of the contiguous frames', () => {
    const { term } = image();
    frame(term, 0, 64);
    frame(term, 64, 40);
    const scanner = new TermGapScanner();
    assert.equal(scanner.scanForGap(term, 3, 0, 128), 128);
    assert.equal(scanner.hasGap, false);
  });

  test('reports the first gap up to where data starts again', () => {
    const { term } = image();
    frame(term, 0, 64);
    frame(term, 192, 64);
    frame(term, 512, 64);
    const scanner = new TermGapScanner();
    assert.equal(scanner.scanForGap(term, 3, 0, 576), 64);
    assert.deepEqual([scanner.hasGap, scanner.gapTermId, scanner.gapOffset, scanner.gapLength], [true, 3, 64, 128]);
    assert.equal(scanner.scanForGap(term, 3, 192, 576), 256);
    assert.deepEqual([scanner.gapOffset, scanner.gapLength], [256, 256]);
  });

  test('a gap ending at the high-water mark, and a high-water mark past the term', () => {
    const { term } = image();
    frame(term, 0, 32);
    const scanner = new TermGapScanner();
    assert.equal(scanner.scanForGap(term, 3, 0, 1024), 32);
    assert.deepEqual([scanner.gapOffset, scanner.gapLength], [32, 992]);
    frame(term, TERM - 64, 64);
    scanner.scanForGap(term, 3, 32, TERM + 4096);
    assert.deepEqual([scanner.gapOffset, scanner.gapLength], [32, TERM - 96]);
  });

  test('PAD frames fill their whole padded length', () => {
    const { term } = image();
    frame(term, 0, 4096, PAD_FRAME_TYPE);
    frame(term, 4096, 33);
    const scanner = new TermGapScanner();
    assert.equal(scanner.scanForGap(term, 3, 0, 4160), 4160);
    assert.equal(scanner.hasGap, false);
    frame(term, 4160, TERM - 4160, PAD_FRAME_TYPE);
    assert.equal(scanner.scanForGap(term, 3, 0, TERM), TERM);
    assert.equal(scanner.hasGap, false);
  });
});

describe('fillGap', () => {
  test('pads a gap with the default header so readers skip it', () => {
    const { term, log } = image();
    frame(term, 0, 33);
    frame(term, 192, 33);
    assert.equal(fillGap(log.metaData, term, 3, 64, 128), true);
    assert.equal(frameType(term, 64), PAD_FRAME_TYPE);
    assert.equal(frameTermOffset(term, 64), 64);
    assert.equal(frameTermId(term, 64), 3);
    const offsets: number[] = [];
    const reader = new TermReader();
    reader.read(term, 0, (_b, _o, _l, h) => offsets.push(h.offset), 10, new Header(3, 16));
    assert.deepEqual(offsets, [0, 192]);
    assert.equal(reader.offset, 256);
  });

  test('refuses when data arrived inside the gap', () => {
    const { term, log } = image();
    frame(term, 128, 33);
    assert.equal(fillGap(log.metaData.defaultFrameHeader, term, 3, 64, 128), false);
    assert.equal(frameType(term, 64), 0);
    assert.equal(new Int32Array(term.buffer, 64, 1)[0], 0);
  });
});
