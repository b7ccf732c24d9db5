/**
 * The generated codecs against the worked examples of SBE.md §11 (checked there against Java
 * codecs made by Aeron's SBE tool): each example encodes to the same bytes and decodes back to the
 * same values, header included.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as archive from '../../../../src/archive/codecs/archive-codecs.js';
import * as cluster from '../../../../src/cluster/codecs/cluster-codecs.js';

function hex(text: string): Uint8Array {
  return Uint8Array.from(Buffer.from(text.replace(/[^0-9a-f]/gi, ''), 'hex'));
}

test('11.1 StartRecordingRequest', () => {
  const expected = hex(`
    18 00 04 00 65 00 0e 00 34 12 00 00 00 00 00 00
    2a 00 00 00 00 00 00 00 e9 03 00 00 01 00 00 00
    22 00 00 00 61 65 72 6f 6e 3a 75 64 70 3f 65 6e
    64 70 6f 69 6e 74 3d 6c 6f 63 61 6c 68 6f 73 74
    3a 34 30 34 35 36`);
  const buffer = new Uint8Array(256).fill(0xee);
  const e = new archive.StartRecordingRequestEncoder()
    .wrapAndApplyHeader(buffer, 16)
    .controlSessionId(0x1234)
    .correlationId(42n)
    .streamId(1001)
    .sourceLocation(archive.SourceLocation.REMOTE)
    .channel('aeron:udp?endpoint=localhost:40456');
  assert.equal(e.encodedLength(), 70);
  assert.deepEqual(buffer.subarray(16, 16 + 70), expected);
  const d = new archive.StartRecordingRequestDecoder().wrapAndCheckHeader(expected, 0);
  assert.equal(d.controlSessionId(), 0x1234n);
  assert.equal(d.correlationIdAsNumber(), 42);
  assert.equal(d.streamId(), 1001);
  assert.equal(d.sourceLocation(), archive.SourceLocation.REMOTE);
  assert.equal(d.channel(), 'aeron:udp?endpoint=localhost:40456');
});

test('11.2 AuthConnectRequest, and what a v11 archive reads of it', () => {
  const expected = hex(`
    10 00 3a 00 65 00 0e 00 07 00 00 00 00 00 00 00
    14 00 00 00 00 0c 01 00 2d 00 00 00 61 65 72 6f
    6e 3a 75 64 70 3f 65 6e 64 70 6f 69 6e 74 3d 6c
    6f 63 61 6c 68 6f 73 74 3a 30 7c 73 65 73 73 69
    6f 6e 2d 69 64 3d 2d 39 39 00 00 00 00 09 00 00
    00 6e 61 6d 65 3d 64 65 6d 6f`);
  const buffer = new Uint8Array(128);
  const e = new archive.AuthConnectRequestEncoder()
    .wrapAndApplyHeader(buffer, 0)
    .correlationId(7)
    .responseStreamId(20)
    .version(0x010c00)
    .responseChannel('aeron:udp?endpoint=localhost:0|session-id=-99')
    .encodedCredentials(new Uint8Array(0))
    .clientInfo('name=demo');
  assert.equal(e.encodedLength(), 90);
  assert.deepEqual(buffer.subarray(0, 90), expected);
  const d = new archive.AuthConnectRequestDecoder().wrapAndCheckHeader(expected, 0);
  assert.equal(d.version(), 0x010c00);
  assert.equal(d.responseChannel(), 'aeron:udp?endpoint=localhost:0|session-id=-99');
  assert.equal(d.encodedCredentials().length, 0);
  assert.equal(d.clientInfo(), 'name=demo');
  // A version 11 reader: clientInfo (since 12) is absent and the cursor stays after the credentials.
  const old = new archive.AuthConnectRequestDecoder().wrap(expected, 8, 16, 11, expected.length - 8);
  assert.equal(old.responseChannel(), 'aeron:udp?endpoint=localhost:0|session-id=-99');
  assert.equal(old.encodedCredentials().length, 0);
  assert.equal(old.clientInfo(), '');
});

test('11.3 ControlResponse: OK and ERROR', () => {
  const ok = hex('20 00 01 00 65 00 0e 00 34 12 00 00 00 00 00 00 2a 00 00 00 00 00 00 00 55 00 00 00 00 00 00 00 00 00 00 00 00 0c 01 00 00 00 00 00');
  const buffer = new Uint8Array(128);
  const e = new archive.ControlResponseEncoder().wrapAndApplyHeader(buffer, 0).controlSessionId(0x1234).correlationId(42).relevantId(0x55).code(archive.ControlResponseCode.OK).version(0x010c00).errorMessage('');
  assert.equal(e.encodedLength(), 44);
  assert.deepEqual(buffer.subarray(0, 44), ok);
  const text = 'unknown recording id: 99';
  const error = new Uint8Array([...hex('20 00 01 00 65 00 0e 00 34 12 00 00 00 00 00 00 2b 00 00 00 00 00 00 00 05 00 00 00 00 00 00 00 01 00 00 00 00 0c 01 00 18 00 00 00'), ...Buffer.from(text)]);
  const e2 = new archive.ControlResponseEncoder().wrapAndApplyHeader(buffer, 0).controlSessionId(0x1234).correlationId(43).relevantId(5).code(archive.ControlResponseCode.ERROR).version(0x010c00).errorMessage(text);
  assert.equal(e2.encodedLength(), 68);
  assert.deepEqual(buffer.subarray(0, 68), error);
  const d = new archive.ControlResponseDecoder().wrapAndCheckHeader(error, 0);
  assert.equal(d.code(), archive.ControlResponseCode.ERROR);
  assert.equal(d.relevantId(), 5n);
  assert.equal(d.errorMessage(), text);
  // From a version 3 sender (no version field in its 28-byte block): version reads 0, the null of version_t.
  const v3 = new Uint8Array(28 + 4);
  v3.set(error.subarray(8, 8 + 28));
  const d3 = new archive.ControlResponseDecoder().wrap(v3, 0, 28, 3);
  assert.equal(d3.version(), 0);
  assert.equal(d3.errorMessage(), '');
});

test('11.4 cluster SessionMessageHeader with a 2-byte payload after it', () => {
  const expected = hex('18 00 01 00 6f 00 11 00 03 00 00 00 00 00 00 00 11 00 00 00 00 00 00 00 00 68 e5 cf 8b 01 00 00 68 69');
  const buffer = new Uint8Array(64);
  const e = new cluster.SessionMessageHeaderEncoder().wrapAndApplyHeader(buffer, 0).leadershipTermId(3).clusterSessionId(17).timestamp(1700000000000);
  assert.equal(e.encodedLength(), 32);
  buffer.set(Buffer.from('hi'), 32);
  assert.deepEqual(buffer.subarray(0, 34), expected);
  const d = new cluster.SessionMessageHeaderDecoder().wrapAndCheckHeader(expected, 0);
  assert.equal(d.timestampAsNumber(), 1700000000000);
  assert.equal(Buffer.from(expected.subarray(32)).toString(), 'hi');
});
