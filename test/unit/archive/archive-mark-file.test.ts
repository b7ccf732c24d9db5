/**
 * The archive mark file: Aeron's layout (SBE header, version written last, activity timestamp,
 * error log at headerLength), the activity moved on every second, a directory refused while
 * another archive's mark file is fresh (and accepted after a clean close or 10 s of silence), and
 * the distinct error log: one record per distinct error, counts and timestamps for repeats.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryFiles } from '../../../src/env/memory-files.js';
import {
  ArchiveMarkFile, MARK_FILE_ERROR_BUFFER_LENGTH, MARK_FILE_HEADER_LENGTH, MARK_FILE_NAME, MARK_FILE_VERSION, readMarkFile, readMarkFileErrors, type MarkFileFields,
} from '../../../src/archive/archive-mark-file.js';
import { Skein } from '../../../src/skein.js';
import { Archive } from '../../../src/archive/archive.js';
import { SkeinError } from '../../../src/util/errors.js';
import { freeUdpPort } from '../../support/wait.js';

const DIR = '/archive';
const FIELDS: MarkFileFields = {
  startTimestamp: 1_700_000_000_000, pid: 4242, controlStreamId: 10, localControlStreamId: 11, eventsStreamId: 30, archiveId: 77,
  controlChannel: 'aeron:udp?endpoint=localhost:8010', localControlChannel: 'aeron:ipc?term-length=64k', eventsChannel: '', aeronDirectory: '/dev/shm/x',
};

function clockAt(start: number): { epochMs(): number; now: number } {
  return { now: start, epochMs() { return this.now; } };
}

test('the mark file is laid out as Aeron lays it out and keeps its activity', () => {
  const files = new MemoryFiles();
  files.mkdirs(DIR);
  const clock = clockAt(1_700_000_000_000);
  const mark = ArchiveMarkFile.open(files, DIR, clock, FIELDS);
  const file = files.open(`${DIR}/${MARK_FILE_NAME}`, 'read');
  const bytes = new Uint8Array(file.size());
  file.read(bytes, 0, bytes.length, 0);
  file.close();
  assert.equal(bytes.length, MARK_FILE_HEADER_LENGTH + MARK_FILE_ERROR_BUFFER_LENGTH, 'header plus error buffer, page aligned');
  const view = new DataView(bytes.buffer);
  assert.deepEqual([view.getUint16(0, true), view.getUint16(2, true), view.getUint16(4, true), view.getUint16(6, true)], [128, 200, 100, 2], 'SBE header: block 128, template 200, schema 100, version 2');
  assert.equal(view.getInt32(8, true), MARK_FILE_VERSION);
  assert.equal(Number(view.getBigInt64(16, true)), clock.now, 'activity');
  assert.equal(Number(view.getBigInt64(32, true)), 4242, 'pid');
  assert.equal(view.getInt32(52, true), MARK_FILE_HEADER_LENGTH, 'headerLength');
  assert.equal(view.getInt32(56, true), MARK_FILE_ERROR_BUFFER_LENGTH, 'errorBufferLength');
  assert.equal(Number(view.getBigInt64(64, true)), 77, 'archiveId');
  const summary = readMarkFile(files, DIR)!;
  assert.deepEqual({ ...summary }, { ...FIELDS, version: MARK_FILE_VERSION, activityTimestamp: clock.now, headerLength: MARK_FILE_HEADER_LENGTH, errorBufferLength: MARK_FILE_ERROR_BUFFER_LENGTH });

  clock.now += 500;
  assert.equal(mark.doWork(), 0, 'not yet a second');
  clock.now += 600;
  assert.equal(mark.doWork(), 1);
  assert.equal(readMarkFile(files, DIR)!.activityTimestamp, clock.now);
  mark.close();
  mark.close();
  assert.equal(readMarkFile(files, DIR)!.activityTimestamp, -1, 'a clean close leaves -1');
});

test('a directory whose mark file is fresh is refused; after a clean close, 10 s of silence or its process is gone it is taken', () => {
  const files = new MemoryFiles();
  files.mkdirs(DIR);
  const clock = clockAt(1_700_000_000_000);
  const alive = (): boolean => true;
  ArchiveMarkFile.open(files, DIR, clock, FIELDS, alive);
  clock.now += 9_000;
  assert.throws(() => ArchiveMarkFile.open(files, DIR, clock, { ...FIELDS, pid: 5 }, alive), (e: unknown) => e instanceof SkeinError && /in use: archive-mark\.dat of archive 77 \(pid 4242\) was active 9000 ms ago/.test(e.message));
  const taken = ArchiveMarkFile.open(files, DIR, clock, { ...FIELDS, pid: 5 }, (pid) => pid !== 4242);
  assert.equal(readMarkFile(files, DIR)!.pid, 5, 'a fresh file whose process is gone (killed) is taken at once');
  taken.close();
  ArchiveMarkFile.open(files, DIR, clock, FIELDS, alive);
  clock.now += 10_001;
  const second = ArchiveMarkFile.open(files, DIR, clock, { ...FIELDS, pid: 5 }, alive);
  assert.equal(readMarkFile(files, DIR)!.pid, 5, 'a silent archive (killed) leaves its directory after 10 s');
  second.close();
  const third = ArchiveMarkFile.open(files, DIR, clock, { ...FIELDS, pid: 6 }, alive);
  assert.equal(readMarkFile(files, DIR)!.pid, 6, 'a cleanly closed one at once');
  third.close();
});

test('the error log keeps one record per distinct error, with counts and first and last times', () => {
  const files = new MemoryFiles();
  files.mkdirs(DIR);
  const clock = clockAt(1_700_000_000_000);
  const mark = ArchiveMarkFile.open(files, DIR, clock, FIELDS);
  const a = new Error('disk is full');
  const b = new Error('session ended: timeout');
  assert.ok(mark.recordError(a));
  clock.now += 10;
  assert.ok(mark.recordError(b));
  clock.now += 10;
  assert.ok(mark.recordError(a));
  const errors = readMarkFileErrors(files, DIR);
  assert.equal(errors.length, 2);
  assert.equal(errors[0]!.observationCount, 2);
  assert.equal(errors[0]!.firstObservationMs, 1_700_000_000_000);
  assert.equal(errors[0]!.lastObservationMs, 1_700_000_000_020);
  assert.match(errors[0]!.text, /^disk is full\n\s+at /);
  assert.equal(errors[1]!.observationCount, 1);
  assert.match(errors[1]!.text, /^session ended: timeout/);
  // Agrona's record layout: length, count, last, first, text; records 8-byte aligned.
  const file = files.open(`${DIR}/${MARK_FILE_NAME}`, 'read');
  const log = new Uint8Array(64);
  file.read(log, 0, 64, MARK_FILE_HEADER_LENGTH);
  file.close();
  const view = new DataView(log.buffer);
  const length = view.getInt32(0, true);
  assert.equal(length, 24 + new TextEncoder().encode(errors[0]!.text).length);
  assert.equal(view.getInt32(4, true), 2);
  assert.equal(Number(view.getBigInt64(8, true)), 1_700_000_000_020);
  assert.equal(Number(view.getBigInt64(16, true)), 1_700_000_000_000);
  mark.close();
});

test('a second archive on the same directory is refused while the first runs', { timeout: 30_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'skein-mark-'));
  const skein = Skein.launch({ testProfile: true, seed: 141 });
  let first: Archive | null = null;
  try {
    first = await Archive.launch(skein.client, { dir, controlChannel: `aeron:udp?endpoint=127.0.0.1:${await freeUdpPort()}`, lowStorageSpaceThreshold: 0 });
    await assert.rejects(
      Archive.launch(skein.client, { dir, controlChannel: `aeron:udp?endpoint=127.0.0.1:${await freeUdpPort()}`, lowStorageSpaceThreshold: 0 }),
      (e: unknown) => e instanceof SkeinError && new RegExp(`archive directory ${dir} is in use: archive-mark.dat of archive ${first!.archiveId} \\(pid ${process.pid}\\)`).test(e.message),
    );
    const bytes = readFileSync(join(dir, MARK_FILE_NAME));
    assert.equal(bytes.readInt32LE(8), MARK_FILE_VERSION);
    first.close();
    first = null;
    const again = await Archive.launch(skein.client, { dir, controlChannel: `aeron:udp?endpoint=127.0.0.1:${await freeUdpPort()}`, lowStorageSpaceThreshold: 0 });
    again.close();
  } finally {
    first?.close();
    await skein.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a mark file that can no longer be written drops errors and activity instead of throwing', () => {
  const files = new MemoryFiles();
  files.mkdirs(DIR);
  const clock = clockAt(1_700_000_000_000);
  const mark = ArchiveMarkFile.open(files, DIR, clock, FIELDS);
  files.failWrites('EIO');
  assert.equal(mark.recordError(new Error('lost')), false);
  assert.equal(mark.droppedErrorCount, 1);
  clock.now += 2000;
  assert.equal(mark.doWork(), 0);
  files.failWrites(null);
  assert.equal(mark.recordError(new Error('kept')), true);
  assert.deepEqual(readMarkFileErrors(files, DIR).map((e) => e.text.split('\n')[0]), ['kept']);
  mark.close();
});
