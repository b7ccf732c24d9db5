/**
 * The catalog: entries are added with dense ids, updated in place, listed in id order, kept across
 * a reopen byte for byte, and pushed to the device at its sync level; a catalog of another major
 * version or with entries that do not add up is refused by name; interrupted recordings get their
 * stop position back from their segment files.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Catalog, CATALOG_FILE_NAME, RecordingState, type NewRecording } from '../../../src/archive/catalog.js';
import { recoverInterruptedRecordings } from '../../../src/archive/catalog-recovery.js';
import { RecordingWriter } from '../../../src/archive/recording-writer.js';
import { MemoryFiles } from '../../../src/env/memory-files.js';
import { nodeFiles } from '../../../src/env/files.js';
import { ErrorCode, SkeinError } from '../../../src/util/errors.js';

const DIR = '/archive';

function recording(i: number): NewRecording {
  return {
    controlSessionId: 1_000_000 + i, correlationId: 42 + i, startTimestamp: 1_700_000_000_000 + i, stopTimestamp: -1,
    startPosition: i * 4096, stopPosition: -1, initialTermId: -7 + i, segmentFileLength: 128 * 1024 * 1024, termBufferLength: 64 * 1024,
    mtuLength: 1408, sessionId: -123456 + i, streamId: 1001 + i,
    strippedChannel: `aeron:udp?endpoint=localhost:${40000 + i}`, originalChannel: `aeron:udp?endpoint=localhost:${40000 + i}|alias=r${i}`, sourceIdentity: `127.0.0.1:${50000 + i}`,
  };
}

test('entries get dense ids, are updated in place and listed in id order', () => {
  const files = new MemoryFiles();
  files.mkdirs(DIR);
  const catalog = Catalog.open({ files, archiveDir: DIR, syncLevel: 0 });
  assert.equal(catalog.nextRecordingId, 0);
  for (let i = 0; i < 5; i++) assert.equal(catalog.addNewRecording(recording(i)), i);
  assert.equal(catalog.nextRecordingId, 5);
  catalog.recordingStopped(1, 1_000_000, 1_700_000_000_999);
  catalog.extendRecording(2, 77, 78, 79);
  catalog.updateStartPosition(3, 65_536);
  catalog.changeState(4, RecordingState.DELETED);
  assert.equal(catalog.descriptor(4), null);
  assert.equal(catalog.state(4), RecordingState.DELETED);
  assert.equal(catalog.state(99), null);
  assert.deepEqual(catalog.descriptor(1), { ...recording(1), recordingId: 1, stopPosition: 1_000_000, stopTimestamp: 1_700_000_000_999 });
  assert.deepEqual(catalog.descriptor(2), { ...recording(2), recordingId: 2, controlSessionId: 77, correlationId: 78, sessionId: 79 });
  const listed: number[] = [];
  catalog.forEach(1, (d) => {
    listed.push(d.recordingId);
  });
  assert.deepEqual(listed, [1, 2, 3]);
  const firstTwo: number[] = [];
  catalog.forEach(0, (d) => firstTwo.push(d.recordingId) < 2);
  assert.deepEqual(firstTwo, [0, 1]);
  catalog.updateChannel(0, 'aeron:ipc', 'aeron:ipc?alias=x');
  assert.equal(catalog.descriptor(0)!.originalChannel, 'aeron:ipc?alias=x');
  assert.throws(() => catalog.updateChannel(0, 'aeron:udp?endpoint=' + 'x'.repeat(200), 'y'), (e: unknown) => e instanceof SkeinError && e.code === ErrorCode.ARG_INVALID && /needs \d+ bytes in its catalog entry, which has \d+/.test(e.message));
  assert.throws(() => catalog.recordingStopped(4, 1, 1), /recordingStopped: unknown recording id 4/);
  assert.throws(() => catalog.addNewRecording({ ...recording(9), sourceIdentity: 'café' }), /not ASCII/);
  const bytes = catalog.descriptorBytes(1)!;
  assert.equal(bytes.length % 64, 32, 'a descriptor with its padding fills its 64-byte aligned entry');
  catalog.close();
  catalog.close();
  assert.throws(() => catalog.addNewRecording(recording(9)), (e: unknown) => e instanceof SkeinError && e.code === ErrorCode.CLOSED);
});

test('a reopened catalog holds the same entries, byte for byte; sync levels push writes to the device', () => {
  const dir = mkdtempSync(join(tmpdir(), 'skein-catalog-'));
  try {
    const catalog = Catalog.open({ files: nodeFiles, archiveDir: dir, syncLevel: 1 });
    for (let i = 0; i < 40; i++) catalog.addNewRecording(recording(i));
    catalog.recordingStopped(7, 123_456, 1_700_000_001_000);
    catalog.changeState(8, RecordingState.INVALID);
    catalog.close();
    const before = readFileSync(join(dir, CATALOG_FILE_NAME));
    assert.equal(before.length, 32 + 40 * 256, 'a 32-byte header and one 256-byte entry per recording (these descriptors)');
    assert.equal(before.readInt32LE(0), 0x030100);
    assert.equal(before.readBigInt64LE(8), 40n);
    assert.equal(before.readInt32LE(16), 64);
    const again = Catalog.open({ files: nodeFiles, archiveDir: dir, syncLevel: 0 });
    assert.equal(again.nextRecordingId, 40);
    assert.equal(again.entryCount, 40);
    assert.equal(again.descriptor(7)!.stopPosition, 123_456);
    assert.equal(again.descriptor(8), null);
    assert.deepEqual(again.descriptor(39), { ...recording(39), recordingId: 39 });
    assert.equal(again.addNewRecording(recording(40)), 40);
    again.close();

    const memory = new MemoryFiles();
    memory.mkdirs(DIR);
    const synced = Catalog.open({ files: memory, archiveDir: DIR, syncLevel: 2 });
    synced.addNewRecording(recording(0));
    assert.ok(memory.metadataSyncCount >= 2, 'level 2 syncs data and metadata after every change');
    synced.close();
    const unsynced = new MemoryFiles();
    unsynced.mkdirs(DIR);
    const plain = Catalog.open({ files: unsynced, archiveDir: DIR, syncLevel: 0 });
    plain.addNewRecording(recording(0));
    plain.close();
    assert.equal(unsynced.syncCount, 0, 'level 0 leaves writing to the OS');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a catalog of another major version, or with a broken entry, is refused naming the file and the problem', () => {
  const dir = mkdtempSync(join(tmpdir(), 'skein-catalog-'));
  try {
    const catalog = Catalog.open({ files: nodeFiles, archiveDir: dir, syncLevel: 0 });
    catalog.addNewRecording(recording(0));
    catalog.addNewRecording(recording(1));
    catalog.close();
    const path = join(dir, CATALOG_FILE_NAME);
    const good = readFileSync(path);
    const wrongVersion = Buffer.from(good);
    wrongVersion.writeInt32LE(0x020000, 0);
    writeFileSync(path, wrongVersion);
    assert.throws(() => Catalog.open({ files: nodeFiles, archiveDir: dir, syncLevel: 0 }), (e: unknown) => e instanceof SkeinError && e.code === ErrorCode.STORAGE_FAILED && e.message.includes(path) && e.message.includes('version 2.0.0 is not 3.1.0'));
    const badLength = Buffer.from(good);
    badLength.writeInt32LE(10_000, 32 + 256);
    writeFileSync(path, badLength);
    assert.throws(() => Catalog.open({ files: nodeFiles, archiveDir: dir, syncLevel: 0 }), /the entry at offset 288 has length 10000, which does not fit the file of 544 bytes/);
    const wrongId = Buffer.from(good);
    wrongId.writeBigInt64LE(5n, 32 + 256 + 32 + 16);
    writeFileSync(path, wrongId);
    assert.throws(() => Catalog.open({ files: nodeFiles, archiveDir: dir, syncLevel: 0 }), /holds recording 5 where 1 belongs/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('interrupted recordings get their stop position back from their segment files', () => {
  const files = new MemoryFiles();
  files.mkdirs(DIR);
  const catalog = Catalog.open({ files, archiveDir: DIR, syncLevel: 0 });
  const termLength = 64 * 1024;
  const id = catalog.addNewRecording({ ...recording(0), startPosition: 0, initialTermId: 5, termBufferLength: termLength, segmentFileLength: termLength, streamId: 9, sessionId: 3 });
  const stopped = catalog.addNewRecording({ ...recording(1), startPosition: 0, stopPosition: 0, initialTermId: 5, termBufferLength: termLength, segmentFileLength: termLength });
  const writer = new RecordingWriter({ files, archiveDir: DIR, recordingId: id, startPosition: 0, position: 0, initialTermId: 5, termLength, segmentLength: termLength, fileSyncLevel: 0 });
  // Three frames of 64 bytes in term 5, written as a recorder would.
  const block = new Uint8Array(192);
  const view = new DataView(block.buffer);
  for (let i = 0; i < 3; i++) {
    view.setInt32(i * 64, 64, true);
    view.setUint8(i * 64 + 5, 0xc0);
    view.setUint16(i * 64 + 6, 1, true);
    view.setInt32(i * 64 + 8, i * 64, true);
    view.setInt32(i * 64 + 12, 3, true);
    view.setInt32(i * 64 + 16, 9, true);
    view.setInt32(i * 64 + 20, 5, true);
  }
  writer.write(block, 0, 192, 5);
  // No close: the archive was killed here.
  const recovered = recoverInterruptedRecordings(catalog, files, DIR, 1_700_000_009_000);
  assert.deepEqual(recovered, [{ recordingId: id, stopPosition: 192 }]);
  assert.equal(catalog.descriptor(id)!.stopPosition, 192);
  assert.equal(catalog.descriptor(id)!.stopTimestamp, 1_700_000_009_000);
  assert.equal(catalog.descriptor(stopped)!.stopPosition, 0, 'a stopped recording is left alone');
  assert.deepEqual(recoverInterruptedRecordings(catalog, files, DIR, 0), []);
});

test("catalog entries hold the schema's RecordingDescriptor body, as the generated codec reads it", async () => {
  const { RecordingDescriptorDecoder, RecordingDescriptorHeaderDecoder, RecordingState: WireState } = await import('../../../src/archive/codecs/archive-codecs.js');
  const files = new MemoryFiles();
  files.mkdirs(DIR);
  const catalog = Catalog.open({ files, archiveDir: DIR, syncLevel: 0 });
  catalog.addNewRecording(recording(3));
  catalog.close();
  const bytes = files.contentOf(`${DIR}/${CATALOG_FILE_NAME}`)!;
  const header = new RecordingDescriptorHeaderDecoder().wrap(bytes, 32, 32, 14);
  assert.equal(header.state(), WireState.VALID);
  const d = new RecordingDescriptorDecoder().wrap(bytes, 64, 80, 14, header.length());
  const r = recording(3);
  assert.deepEqual(
    [d.controlSessionIdAsNumber(), d.correlationIdAsNumber(), d.recordingIdAsNumber(), d.startTimestampAsNumber(), d.stopPositionAsNumber(), d.initialTermId(), d.sessionId(), d.streamId()],
    [r.controlSessionId, r.correlationId, 0, r.startTimestamp, -1, r.initialTermId, r.sessionId, r.streamId],
  );
  assert.equal(d.strippedChannel(), r.strippedChannel);
  assert.equal(d.originalChannel(), r.originalChannel);
  assert.equal(d.sourceIdentity(), r.sourceIdentity);
});
