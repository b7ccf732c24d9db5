import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SkeinError } from '../../../src/util/errors.js';
import { LogBuffers } from '../../../src/logbuffer/log-buffers.js';
import { END_OF_STREAM_POSITION_NONE, LogMetaData } from '../../../src/logbuffer/log-meta-data.js';
import { LOG_BUFFER_TYPE_PUBLICATION_IMAGE } from '../../../src/logbuffer/log-buffer-descriptor.js';

const TERM = 65536;

function metaView(log: LogBuffers): DataView {
  return new DataView(log.buffer, log.buffer.byteLength - 4096, 4096);
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

function initialised(overrides: Partial<Parameters<LogMetaData['initialise']>[0]> = {}): LogBuffers {
  const log = LogBuffers.allocate({ termLength: TERM });
  log.metaData.initialise({
    correlationId: 77,
    initialTermId: 100,
    mtuLength: 1408,
    pageSize: 4096,
    sessionId: 1234,
    streamId: 1001,
    ...overrides,
  });
  return log;
}

describe('LogBuffers.allocate / wrap', () => {
  test('one SharedArrayBuffer: three terms then metadata in the last 4096 bytes', () => {
    const log = LogBuffers.allocate({ termLength: TERM });
    assert.ok(log.buffer instanceof SharedArrayBuffer);
    assert.equal(log.buffer.byteLength, 3 * TERM + 4096);
    assert.equal(log.termLength, TERM);
    assert.equal(log.positionBitsToShift, 16);
    assert.equal(log.termBuffers.length, 3);
    log.termBuffers.forEach((term, i) => {
      assert.equal(term.buffer, log.buffer);
      assert.equal(term.byteOffset, i * TERM);
      assert.equal(term.length, TERM);
    });
    assert.equal(log.metaData.bytes.byteOffset, 3 * TERM);
    assert.equal(log.metaData.termLength, TERM);
    assert.equal(log.metaData.pageSize, 4096);
  });

  test('an ArrayBuffer when shared is false, and metadata at the end of a page-aligned log', () => {
    const log = LogBuffers.allocate({ termLength: TERM, pageSize: 1 << 20, shared: false });
    assert.ok(!(log.buffer instanceof SharedArrayBuffer));
    assert.equal(log.buffer.byteLength, 1 << 20);
    assert.equal(log.metaData.bytes.byteOffset, (1 << 20) - 4096);
    assert.equal(log.pageSize, 1 << 20);
    assert.equal(metaView(log).getInt32(276, true), TERM);
    assert.equal(metaView(log).getInt32(280, true), 1 << 20);
  });

  test('rejects invalid term lengths and page sizes', () => {
    assert.throws(() => LogBuffers.allocate({ termLength: 1000 }), (e: unknown) => e instanceof SkeinError && e.code === 'ERR_SKEIN_CONFIG_INVALID');
    assert.throws(() => LogBuffers.allocate({ termLength: TERM, pageSize: 1024 }), /pageSize=1024/);
  });

  test('wrap reads the term length from the metadata and sees the same bytes', () => {
    const log = initialised();
    log.termBuffers[1]![5] = 42;
    const other = LogBuffers.wrap(log.buffer);
    assert.equal(other.termLength, TERM);
    assert.equal(other.termBuffers[1]![5], 42);
    assert.equal(other.metaData.initialTermId, 100);
    assert.equal(other.metaData.mtuLength, 1408);
  });

  test('wrap rejects buffers whose length or metadata do not describe a log', () => {
    assert.throws(() => LogBuffers.wrap(new SharedArrayBuffer(100)), SkeinError);
    assert.throws(() => LogBuffers.wrap(new SharedArrayBuffer(3 * TERM + 4096)), /termLength=0/);
    const log = initialised();
    const longer = new SharedArrayBuffer(log.buffer.byteLength + 4096);
    new Uint8Array(longer).set(new Uint8Array(log.buffer), 4096);
    assert.throws(() => LogBuffers.wrap(longer), /does not match/);
  });
});

describe('LogMetaData.initialise', () => {
  test('writes every field at its §5 offset', () => {
    const log = initialised({
      publicationWindowLength: 32768,
      receiverWindowLength: 16384,
      socketSndbufLength: 1,
      osDefaultSocketSndbufLength: 2,
      osMaxSocketSndbufLength: 3,
      socketRcvbufLength: 4,
      osDefaultSocketRcvbufLength: 5,
      osMaxSocketRcvbufLength: 6,
      maxResend: 7,
      entityTag: 2 ** 40 + 1,
      responseCorrelationId: -5,
      lingerTimeoutNs: 3_000_000_000,
      untetheredWindowLimitTimeoutNs: 11,
      untetheredRestingTimeoutNs: 12,
      untetheredLingerTimeoutNs: 13,
      group: true,
      isResponse: true,
      rejoin: false,
      reliable: false,
      sparse: false,
      signalEos: false,
      spiesSimulateConnection: true,
      tether: false,
      type: LOG_BUFFER_TYPE_PUBLICATION_IMAGE,
    });
    const v = metaView(log);
    assert.equal(v.getBigInt64(0, true), 100n << 32n);
    assert.equal(v.getBigInt64(8, true), 98n << 32n);
    assert.equal(v.getBigInt64(16, true), 99n << 32n);
    assert.equal(v.getInt32(24, true), 0);
    assert.equal(v.getBigInt64(128, true), 0x7fffffffffffffffn);
    assert.equal(v.getInt32(136, true), 0);
    assert.equal(v.getInt32(140, true), 0);
    assert.equal(v.getBigInt64(256, true), 77n);
    const int32s = [100, 32, 1408, TERM, 4096, 32768, 16384, 1, 2, 3, 4, 5, 6, 7];
    int32s.forEach((value, i) => assert.equal(v.getInt32(264 + 4 * i, true), value, `int32 at ${264 + 4 * i}`));
    assert.equal(v.getBigInt64(448, true), 2n ** 40n + 1n);
    assert.equal(v.getBigInt64(456, true), -5n);
    assert.equal(v.getBigInt64(464, true), 3_000_000_000n);
    assert.equal(v.getBigInt64(472, true), 11n);
    assert.equal(v.getBigInt64(480, true), 12n);
    assert.equal(v.getBigInt64(500, true), 13n);
    const flagBytes = [1, 1, 0, 0, 0, 0, 1, 0, 0, LOG_BUFFER_TYPE_PUBLICATION_IMAGE];
    flagBytes.forEach((value, i) => assert.equal(v.getUint8(488 + i), value, `byte at ${488 + i}`));
  });

  test('default header template: version 0, flags 0xC0, type DATA, session, stream, initial term id', () => {
    const log = initialised();
    assert.equal(
      hex(log.metaData.defaultFrameHeader),
      '00000000' + '00' + 'c0' + '0100' + '00000000' + 'd2040000' + 'e9030000' + '64000000' + '0000000000000000',
    );
    assert.equal(log.metaData.defaultFrameHeader.byteOffset, 3 * TERM + 320);
    assert.equal(log.metaData.defaultFrameHeaderLength, 32);
  });

  test('defaults: windows, resend, linger, untethered timeouts, flags, null ids', () => {
    const m = initialised().metaData;
    assert.equal(m.publicationWindowLength, TERM / 2);
    assert.equal(m.receiverWindowLength, TERM / 2);
    assert.equal(m.maxResend, 16);
    assert.equal(m.entityTag, -1);
    assert.equal(m.responseCorrelationId, -1);
    assert.equal(m.lingerTimeoutNs, 5_000_000_000);
    assert.equal(m.untetheredWindowLimitTimeoutNs, 5_000_000_000);
    assert.equal(m.untetheredLingerTimeoutNs, 5_000_000_000);
    assert.equal(m.untetheredRestingTimeoutNs, 10_000_000_000);
    assert.deepEqual(
      [m.group, m.isResponse, m.rejoin, m.reliable, m.sparse, m.signalEos, m.spiesSimulateConnection, m.tether, m.isPublicationRevoked],
      [false, false, true, true, true, true, false, true, false],
    );
    assert.equal(m.endOfStreamPosition, END_OF_STREAM_POSITION_NONE);
  });

  test('with termId/termOffset the active partition is termCount mod 3 and the others stay coherent', () => {
    const m = initialised({ termId: 105, termOffset: 1024 }).metaData;
    assert.equal(m.activeTermCount, 5);
    assert.equal(m.activePartitionIndex(), 2);
    assert.deepEqual([m.rawTailTermId(2), m.rawTailOffset(2)], [105, 1024]);
    assert.deepEqual([m.rawTailTermId(0), m.rawTailOffset(0)], [103, 0]);
    assert.deepEqual([m.rawTailTermId(1), m.rawTailOffset(1)], [104, 0]);
    assert.equal(m.initialTermId, 100);
    assert.equal(m.tailTermOffset(2), 1024);
  });

  test('termId wrapping past int32 max', () => {
    const m = initialised({ initialTermId: 0x7ffffffe, termId: -0x7fffffff, termOffset: TERM }).metaData;
    assert.equal(m.activeTermCount, 3);
    assert.deepEqual([m.rawTailTermId(0), m.rawTailOffset(0)], [-0x7fffffff, TERM]);
    assert.equal(m.rawTailTermId(1), 0x7fffffff);
    assert.equal(m.rawTailTermId(2), -0x80000000);
  });

  test('reports every invalid option in one CONFIG_INVALID error', () => {
    assert.throws(
      () => initialised({ mtuLength: 100, termOffset: 33, termId: 99 }),
      (e: unknown) =>
        e instanceof SkeinError &&
        e.code === 'ERR_SKEIN_CONFIG_INVALID' &&
        e.message.includes('mtuLength=100') &&
        e.message.includes('termOffset=33') &&
        e.message.includes('termId=99 is before initialTermId=100'),
    );
  });
});

describe('LogMetaData accessors', () => {
  test('tail counters are two int32 words: offset at +0, term id at +4', () => {
    const log = initialised();
    const m = log.metaData;
    m.setRawTail(1, -7, 4096);
    assert.equal(metaView(log).getInt32(8, true), 4096);
    assert.equal(metaView(log).getInt32(12, true), -7);
    m.setRawTailOffset(1, TERM + 96);
    assert.equal(m.rawTailOffset(1), TERM + 96);
    assert.equal(m.tailTermOffset(1), TERM);
    assert.equal(m.rawTailTermId(1), -7);
  });

  test('activeTermCount compare-and-set', () => {
    const m = initialised().metaData;
    assert.equal(m.casActiveTermCount(1, 2), false);
    assert.equal(m.casActiveTermCount(0, 1), true);
    assert.equal(m.activeTermCount, 1);
    m.activeTermCount = -5;
    assert.equal(m.casActiveTermCount(-5, -4), true);
    assert.equal(m.activeTermCount, -4);
  });

  test('end of stream position: real positions round trip, "none" is INT64_MAX in bytes', () => {
    const log = initialised();
    const m = log.metaData;
    m.endOfStreamPosition = 2 ** 45 + 96;
    assert.equal(m.endOfStreamPosition, 2 ** 45 + 96);
    assert.equal(metaView(log).getBigInt64(128, true), 2n ** 45n + 96n);
    m.endOfStreamPosition = END_OF_STREAM_POSITION_NONE;
    assert.equal(metaView(log).getBigInt64(128, true), 0x7fffffffffffffffn);
    assert.equal(m.endOfStreamPosition, Number.MAX_SAFE_INTEGER);
  });

  test('64-bit fields: negative and large values, out-of-range values rejected, foreign values clamped', () => {
    const log = initialised();
    const m = log.metaData;
    m.correlationId = -(2 ** 52) - 3;
    assert.equal(metaView(log).getBigInt64(256, true), -(2n ** 52n) - 3n);
    assert.equal(m.correlationId, -(2 ** 52) - 3);
    m.correlationId = Number.MAX_SAFE_INTEGER;
    assert.equal(m.correlationId, Number.MAX_SAFE_INTEGER);
    assert.throws(() => { m.correlationId = 2 ** 60; }, (e: unknown) => e instanceof SkeinError && e.code === 'ERR_SKEIN_ARG_INVALID');
    metaView(log).setBigInt64(448, -(2n ** 62n), true);
    assert.equal(m.entityTag, -Number.MAX_SAFE_INTEGER);
  });

  test('status fields', () => {
    const log = initialised();
    const m = log.metaData;
    m.isConnected = true;
    m.activeTransportCount = 3;
    m.isPublicationRevoked = true;
    assert.equal(metaView(log).getInt32(136, true), 1);
    assert.equal(metaView(log).getInt32(140, true), 3);
    assert.equal(metaView(log).getUint8(496), 1);
    assert.deepEqual([m.isConnected, m.activeTransportCount, m.isPublicationRevoked], [true, 3, true]);
  });

  test('each flag setter writes only its own byte', () => {
    const log = initialised();
    const m = log.metaData;
    const before = new Uint8Array(log.metaData.bytes.slice(488, 498));
    m.sparse = !m.sparse;
    const after = log.metaData.bytes.slice(488, 498);
    const changed = [...after].map((b, i) => (b !== before[i] ? 488 + i : -1)).filter((i) => i >= 0);
    assert.deepEqual(changed, [492]);
  });
});
