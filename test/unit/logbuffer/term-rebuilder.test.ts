import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Header } from '../../../src/logbuffer/header.js';
import { LogBuffers } from '../../../src/logbuffer/log-buffers.js';
import { TermAppender } from '../../../src/logbuffer/term-appender.js';
import { TermReader } from '../../../src/logbuffer/term-reader.js';
import { insertPacket } from '../../../src/logbuffer/term-rebuilder.js';
import { frameLengthVolatile } from '../../../src/logbuffer/frame-descriptor.js';

const TERM = 65536;

/** A source term with frames of 64, 96, 128 bytes and a 160-byte PAD, plus an empty image term. */
function setUp(): { source: Uint8Array; image: Uint8Array } {
  const log = LogBuffers.allocate({ termLength: TERM });
  log.metaData.initialise({ correlationId: 1, initialTermId: 0, mtuLength: 1408, sessionId: 1, streamId: 2 });
  const appender = new TermAppender(log.termBuffers[0]!, log.metaData, 0);
  const template = log.metaData.defaultFrameHeader;
  for (const n of [32, 64, 96]) {
    appender.appendUnfragmentedMessage(template, Uint8Array.from({ length: n }, (_, i) => n + i), 0, n, 0, 0, 0);
  }
  appender.appendPadding(template, 128, 0);
  appender.appendUnfragmentedMessage(template, new Uint8Array([7]), 0, 1, 0, 0, 0);
  return { source: log.termBuffers[0]!, image: LogBuffers.allocate({ termLength: TERM }).termBuffers[0]! };
}

/** A datagram copied out of the source term, placed at an odd offset inside a larger buffer. */
function datagram(source: Uint8Array, offset: number, length: number): { packet: Uint8Array; at: number } {
  const backing = new Uint8Array(length + 16);
  const packet = new Uint8Array(backing.buffer, 3, length + 8);
  packet.set(source.subarray(offset, offset + length), 5);
  return { packet, at: 5 };
}

function read(term: Uint8Array): number[] {
  const lengths: number[] = [];
  new TermReader().read(term, 0, (_b, _o, l) => lengths.push(l), 100, new Header(0, 16));
  return lengths;
}

describe('insertPacket', () => {
  test('copies a datagram of several frames; readers see it whole', () => {
    const { source, image } = setUp();
    const { packet, at } = datagram(source, 0, 64 + 96 + 128);
    assert.equal(insertPacket(image, 0, packet, at, 288), true);
    assert.deepEqual(image.subarray(0, 288), source.subarray(0, 288));
    assert.deepEqual(read(image), [32, 64, 96]);
  });

  test('duplicates change nothing and report false', () => {
    const { source, image } = setUp();
    const { packet, at } = datagram(source, 64, 96);
    assert.equal(insertPacket(image, 64, packet, at, 96), true);
    const snapshot = image.slice(0, 512);
    assert.equal(insertPacket(image, 64, packet, at, 96), false);
    assert.deepEqual(image.slice(0, 512), snapshot);
  });

  test('an overlapping datagram fills in only the frames still missing', () => {
    const { source, image } = setUp();
    const first = datagram(source, 0, 64);
    insertPacket(image, 0, first.packet, first.at, 64);
    const both = datagram(source, 0, 64 + 96);
    assert.equal(insertPacket(image, 0, both.packet, both.at, 160), true);
    assert.deepEqual(image.subarray(0, 160), source.subarray(0, 160));
  });

  test('a PAD arrives as its header only and covers its padded region', () => {
    const { source, image } = setUp();
    const all = datagram(source, 0, 288);
    insertPacket(image, 0, all.packet, all.at, 288);
    const pad = datagram(source, 288, 32);
    assert.equal(insertPacket(image, 288, pad.packet, pad.at, 32), true);
    assert.equal(frameLengthVolatile(image, 288), 160);
    const last = datagram(source, 448, 64);
    insertPacket(image, 448, last.packet, last.at, 64);
    assert.deepEqual(read(image), [32, 64, 96, 1]);
    assert.equal(insertPacket(image, 288, pad.packet, pad.at, 32), false);
  });

  test('a heartbeat (frame length 0) inserts nothing', () => {
    const { image } = setUp();
    assert.equal(insertPacket(image, 0, new Uint8Array(32), 0, 32), false);
    assert.equal(frameLengthVolatile(image, 0), 0);
  });
});
