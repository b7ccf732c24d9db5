import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SkeinError } from '../../../src/util/errors.js';
import { BufferClaim } from '../../../src/logbuffer/buffer-claim.js';
import { Header } from '../../../src/logbuffer/header.js';
import { LogBuffers } from '../../../src/logbuffer/log-buffers.js';
import { indexByTermCount } from '../../../src/logbuffer/log-buffer-descriptor.js';
import { rotateLog } from '../../../src/logbuffer/log-rotation.js';
import { TermAppender } from '../../../src/logbuffer/term-appender.js';
import { TermReader } from '../../../src/logbuffer/term-reader.js';
import { TermScanner } from '../../../src/logbuffer/term-scanner.js';
import {
  PAD_FRAME_TYPE,
  frameFlags,
  frameLengthVolatile,
  frameReservedValueHigh,
  frameReservedValueLow,
  frameTermOffset,
  frameType,
} from '../../../src/logbuffer/frame-descriptor.js';
import { loadVectorFiles, type VectorDatagram } from '../../support/vectors.js';

const TERM = 65536;

interface Log {
  log: LogBuffers;
  appenders: TermAppender[];
}

function newLog(initialTermId: number, sessionId: number, streamId: number, mtuLength = 1408): Log {
  const log = LogBuffers.allocate({ termLength: TERM });
  log.metaData.initialise({ correlationId: 1, initialTermId, mtuLength, sessionId, streamId });
  return { log, appenders: log.termBuffers.map((t, i) => new TermAppender(t, log.metaData, i)) };
}

/** Appends like a publication: fragments above maxPayload, rotates and retries when a term fills. */
function offer({ log, appenders }: Log, message: Uint8Array, maxPayload = 1376): number {
  for (;;) {
    const meta = log.metaData;
    const termCount = meta.activeTermCount;
    const index = indexByTermCount(termCount);
    const termId = meta.rawTailTermId(index);
    const result =
      message.length <= maxPayload
        ? appenders[index]!.appendUnfragmentedMessage(meta.defaultFrameHeader, message, 0, message.length, 0, 0, termId)
        : appenders[index]!.appendFragmentedMessage(meta.defaultFrameHeader, message, 0, message.length, maxPayload, 0, 0, termId);
    if (result > 0) return result;
    assert.equal(result, TermAppender.APPEND_FAILED);
    rotateLog(meta, termCount, termId);
  }
}

/** Capture payloads: 8-byte little-endian message index followed by zeros. */
function indexedMessage(index: number, length: number): Uint8Array {
  const message = new Uint8Array(length);
  new DataView(message.buffer).setBigInt64(0, BigInt(index), true);
  return message;
}

function vectorFile(name: string): VectorDatagram[] {
  const file = loadVectorFiles().find((f) => f.file === name);
  assert.ok(file, `vector file ${name}`);
  return file.datagrams;
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

describe('TermAppender against the captured C driver frames', () => {
  test('fragmentation.json: 3 × 3000 bytes at MTU 1408 → BEGIN/middle/END frames byte-identical', () => {
    const datagrams = vectorFile('fragmentation.json').filter((d) => d.direction === 'sender->receiver' && d.frames[0]!.type === 'DATA' && d.frames[0]!.frameLength > 0);
    assert.equal(datagrams.length, 9);
    const first = datagrams[0]!.frames[0]!;
    const pub = newLog(first.termId, first.sessionId, first.streamId);
    const ends = [0, 1, 2].map((i) => offer(pub, indexedMessage(i, 3000)));
    assert.deepEqual(ends, [3104, 6208, 9312]);
    const term = pub.log.termBuffers[0]!;
    assert.deepEqual(
      [0, 1408, 2816].map((o) => [frameTermOffset(term, o), frameFlags(term, o), frameLengthVolatile(term, o)]),
      [[0, 0x80, 1408], [1408, 0x00, 1408], [2816, 0x40, 280]],
    );
    const scanner = new TermScanner();
    for (const datagram of datagrams) {
      const offset = datagram.frames[0]!.termOffset as number;
      const available = scanner.scanForAvailability(term, offset, 1408);
      assert.equal(available, datagram.datagramLength, `datagram at ${offset}`);
      assert.equal(hex(term.subarray(offset, offset + available)), datagram.hex, `bytes at ${offset}`);
    }
  });

  test('padding.json: a term ends with a 64-byte PAD, the next message starts term+1 at offset 0', () => {
    const datagrams = vectorFile('padding.json');
    const withPad = datagrams.find((d) => d.frames.length === 2 && d.frames[1]!.type === 'PAD')!;
    const nextTerm = datagrams.find((d) => d.index === withPad.index + 1)!;
    const data = withPad.frames[0]!;
    const pub = newLog(data.termId, data.sessionId, data.streamId);
    for (let i = 0; i < 62; i++) {
      assert.equal(offer(pub, indexedMessage(i, 1000)), (i + 1) * 1056);
    }
    assert.equal(offer(pub, indexedMessage(62, 1000)), 1056);
    assert.equal(pub.log.metaData.activeTermCount, 1);
    const term0 = pub.log.termBuffers[0]!;
    const scanner = new TermScanner();
    assert.equal(scanner.scanForAvailability(term0, 64416, 1408), 1088);
    assert.equal(scanner.padding, 32);
    assert.equal(hex(term0.subarray(64416, 64416 + 1088)), withPad.hex);
    assert.equal(frameLengthVolatile(term0, 65472), 64);
    const term1 = pub.log.termBuffers[1]!;
    assert.equal(scanner.scanForAvailability(term1, 0, 1056), 1056);
    assert.equal(hex(term1.subarray(0, 1056)), nextTerm.hex);
  });

  test('batching.json: 40 messages of 32 bytes are consecutive 64-byte frames', () => {
    const datagrams = vectorFile('batching.json').filter((d) => d.frames.length > 1);
    const first = datagrams[0]!.frames[0]!;
    const pub = newLog(first.termId, first.sessionId, first.streamId);
    for (let i = 0; i < 40; i++) offer(pub, indexedMessage(i, 32));
    const term = pub.log.termBuffers[0]!;
    assert.equal(hex(term.subarray(0, 1408)), datagrams[0]!.hex);
    assert.equal(hex(term.subarray(1408, 1408 + 1152)), datagrams[1]!.hex);
  });
});

describe('TermAppender behaviour', () => {
  test('an unfragmented frame: header fields, reserved value halves, payload, tail advance', () => {
    const pub = newLog(7, 11, 13);
    const meta = pub.log.metaData;
    const payload = Uint8Array.from({ length: 45 }, (_, i) => i + 1);
    const end = pub.appenders[0]!.appendUnfragmentedMessage(meta.defaultFrameHeader, payload, 0, 45, -2, 0x12345678, 7);
    assert.equal(end, 96);
    assert.equal(meta.rawTailOffset(0), 96);
    const term = pub.log.termBuffers[0]!;
    assert.equal(
      hex(term.subarray(0, 32)),
      '4d000000' + '00c00100' + '00000000' + '0b000000' + '0d000000' + '07000000' + 'feffffff' + '78563412',
    );
    assert.deepEqual(term.subarray(32, 77), payload);
    assert.equal(frameReservedValueLow(term, 0), -2);
    assert.equal(frameReservedValueHigh(term, 0), 0x12345678);
    assert.equal(pub.appenders[0]!.appendUnfragmentedMessage(meta.defaultFrameHeader, payload, 40, 5, 0, 0, 7), 96 + 64);
    assert.deepEqual(term.subarray(96 + 32, 96 + 37), payload.subarray(40));
  });

  test('a claim that overruns the term pads the rest and fails; a full term fails without writing', () => {
    const pub = newLog(0, 1, 2);
    const meta = pub.log.metaData;
    meta.setRawTail(0, 0, TERM - 64);
    const appender = pub.appenders[0]!;
    const message = new Uint8Array(100);
    assert.equal(appender.appendUnfragmentedMessage(meta.defaultFrameHeader, message, 0, 100, 0, 0, 0), TermAppender.APPEND_FAILED);
    const term = pub.log.termBuffers[0]!;
    assert.equal(frameType(term, TERM - 64), PAD_FRAME_TYPE);
    assert.equal(frameLengthVolatile(term, TERM - 64), 64);
    assert.equal(frameFlags(term, TERM - 64), 0xc0);
    assert.equal(meta.rawTailOffset(0), TERM - 64 + 160);
    assert.equal(appender.appendUnfragmentedMessage(meta.defaultFrameHeader, message, 0, 100, 0, 0, 0), TermAppender.APPEND_FAILED);
    assert.equal(meta.rawTailOffset(0), TERM - 64 + 160, 'a tripped tail does not move again');

    meta.setRawTail(0, 0, TERM - 64);
    term.fill(0, TERM - 64);
    assert.equal(appender.appendUnfragmentedMessage(meta.defaultFrameHeader, new Uint8Array(32), 0, 32, 0, 0, 0), TERM);
    assert.equal(appender.appendUnfragmentedMessage(meta.defaultFrameHeader, message, 0, 1, 0, 0, 0), TermAppender.APPEND_FAILED);
    assert.equal(meta.rawTailOffset(0), TERM);
  });

  test('a tail of another term id is stale: nothing is written', () => {
    const pub = newLog(50, 1, 2);
    const meta = pub.log.metaData;
    const before = new Uint8Array(pub.log.termBuffers[1]!.slice(0, 256));
    assert.equal(
      pub.appenders[1]!.appendUnfragmentedMessage(meta.defaultFrameHeader, new Uint8Array(10), 0, 10, 0, 0, 51),
      TermAppender.APPEND_STALE,
    );
    assert.equal(meta.rawTailOffset(1), 0);
    assert.deepEqual(pub.log.termBuffers[1]!.slice(0, 256), before);
  });

  test('gathered (V) appends write the same bytes as contiguous ones', () => {
    const message = Uint8Array.from({ length: 5000 }, (_, i) => (i * 7) & 0xff);
    const splits = [[5000], [1, 0, 4999], [1375, 1, 1, 3623], [100, 2900, 2000]];
    const reference = newLog(3, 4, 5);
    const meta = reference.log.metaData;
    reference.appenders[0]!.appendUnfragmentedMessage(meta.defaultFrameHeader, message, 0, 1000, 9, 8, 3);
    reference.appenders[0]!.appendFragmentedMessage(meta.defaultFrameHeader, message, 0, 5000, 1376, 9, 8, 3);
    for (const split of splits) {
      const pub = newLog(3, 4, 5);
      const parts: Uint8Array[] = [];
      let at = 0;
      for (const n of split) {
        parts.push(message.subarray(at, at + n));
        at += n;
      }
      const m = pub.log.metaData;
      pub.appenders[0]!.appendUnfragmentedMessageV(m.defaultFrameHeader, [message.subarray(0, 600), message.subarray(600, 1000)], 1000, 9, 8, 3);
      const end = pub.appenders[0]!.appendFragmentedMessageV(m.defaultFrameHeader, parts, 5000, 1376, 9, 8, 3);
      assert.equal(end, 1056 + 5152);
      assert.deepEqual(pub.log.termBuffers[0]!.subarray(0, end), reference.log.termBuffers[0]!.subarray(0, end), `split ${split}`);
    }
  });

  test('appendPadding writes a PAD frame that readers skip', () => {
    const pub = newLog(0, 1, 2);
    const meta = pub.log.metaData;
    assert.equal(pub.appenders[0]!.appendPadding(meta.defaultFrameHeader, 100, 0), 160);
    assert.equal(offer(pub, new Uint8Array([1, 2, 3])), 224);
    const seen: number[] = [];
    const reader = new TermReader();
    reader.read(pub.log.termBuffers[0]!, 0, (_b, _o, length, header) => seen.push(length, header.termOffset), 10, new Header(0, 16));
    assert.deepEqual(seen, [3, 160]);
    assert.equal(reader.offset, 224);
  });
});

describe('claim / BufferClaim', () => {
  test('an uncommitted claim blocks readers; commit publishes it', () => {
    const pub = newLog(0, 1, 2);
    const meta = pub.log.metaData;
    const claim = new BufferClaim();
    assert.equal(pub.appenders[0]!.claim(meta.defaultFrameHeader, 10, claim, 0), 64);
    assert.equal(claim.offset, 32);
    assert.equal(claim.length, 10);
    assert.equal(claim.buffer, pub.log.termBuffers[0]);
    const term = pub.log.termBuffers[0]!;
    assert.equal(frameLengthVolatile(term, 0), -42);
    const reader = new TermReader();
    const header = new Header(0, 16);
    const lengths: number[] = [];
    assert.equal(reader.read(term, 0, (_b, _o, n) => lengths.push(n), 10, header), 0);
    claim.putBytes(0, Uint8Array.from([9, 8, 7]), 0, 3).reservedValue(5, 6);
    claim.commit();
    assert.equal(claim.isActive, false);
    assert.equal(reader.read(term, 0, (b, o, n, h) => lengths.push(n, b[o]!, h.reservedValueLow, h.reservedValueHigh), 10, header), 1);
    assert.deepEqual(lengths, [10, 9, 5, 6]);
  });

  test('abort turns the claim into padding that readers skip', () => {
    const pub = newLog(0, 1, 2);
    const meta = pub.log.metaData;
    const claim = new BufferClaim();
    pub.appenders[0]!.claim(meta.defaultFrameHeader, 100, claim, 0);
    offer(pub, new Uint8Array([4]));
    claim.abort();
    const term = pub.log.termBuffers[0]!;
    assert.equal(frameType(term, 0), PAD_FRAME_TYPE);
    const seen: number[] = [];
    new TermReader().read(term, 0, (b, o) => seen.push(b[o]!), 10, new Header(0, 16));
    assert.deepEqual(seen, [4]);
  });

  test('using a released claim is an ARG_INVALID error', () => {
    const claim = new BufferClaim();
    assert.throws(() => claim.commit(), (e: unknown) => e instanceof SkeinError && e.code === 'ERR_SKEIN_ARG_INVALID');
    const pub = newLog(0, 1, 2);
    pub.appenders[0]!.claim(pub.log.metaData.defaultFrameHeader, 8, claim, 0);
    assert.throws(() => claim.putBytes(4, new Uint8Array(8), 0, 8), /outside the claimed payload/);
    claim.commit();
    assert.throws(() => claim.abort(), /needs an active claim/);
  });
});
