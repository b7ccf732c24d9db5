/**
 * LogData on the log stream: any batch of entries survives encoding (positions follow from the
 * first and the aligned lengths, data are copies); frames cut short, with a wrong magic or version,
 * or with bytes after the last entry are refused naming what is wrong. And the snapshot store on
 * files: ids count up across restarts, a snapshot reads back whole, an unknown id is undefined.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeLogData, encodeLogData, logDataLength } from '../../../src/cluster/consensus/log-data-codec.js';
import { entryLength, LogEntryRecord, type LogEntry } from '../../../src/cluster/consensus/consensus-log.js';
import type { LogData } from '../../../src/cluster/consensus/consensus-messages.js';
import { FileSnapshotStore } from '../../../src/cluster/file-snapshot-store.js';
import { MemoryFiles } from '../../../src/env/memory-files.js';
import { SkeinError } from '../../../src/util/errors.js';

function batch(position: number, datas: Uint8Array[], termIds: number[]): LogData {
  const entries: LogEntry[] = [];
  let at = position;
  datas.forEach((data, i) => {
    entries.push(new LogEntryRecord(termIds[i % termIds.length]!, at, entryLength(data.length), data));
    at += entryLength(data.length);
  });
  return { type: 'logData', from: 2, leadershipTermId: 7, termBase: 4096, position, entries, commitPosition: 2048 };
}

test('any batch of entries survives the log stream encoding', () => {
  fc.assert(fc.property(
    fc.nat({ max: 1 << 20 }).map((n) => n * 32),
    fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 20 }),
    fc.array(fc.nat({ max: 9 }), { minLength: 1, maxLength: 3 }),
    fc.nat({ max: 16 }),
    (position, datas, termIds, offset) => {
      const message = batch(position, datas, termIds);
      const buffer = new Uint8Array(offset + logDataLength(message));
      assert.equal(encodeLogData(message, buffer, offset), logDataLength(message));
      const decoded = decodeLogData(buffer, offset, buffer.length - offset);
      assert.deepEqual(decoded, message);
      if (datas.length > 0) {
        buffer.fill(0);
        assert.notEqual(decoded.entries[0]!.data.buffer, buffer.buffer, 'the data are copies');
        assert.deepEqual(decoded, message, 'the entries outlive the receive buffer');
      }
    },
  ), { numRuns: 300 });
});

test('without a copy the entries are views into the receive buffer, read alike', () => {
  const message = batch(64, [new Uint8Array(10).fill(1), new Uint8Array(3).fill(2), new Uint8Array(0)], [1, 2]);
  const buffer = new Uint8Array(8 + logDataLength(message));
  encodeLogData(message, buffer, 8);
  const decoded = decodeLogData(buffer, 8, buffer.length - 8, undefined, false);
  assert.deepEqual(decoded, message);
  for (const e of decoded.entries) assert.equal(e.data.buffer, buffer.buffer, 'a view, not a copy');
  buffer.fill(0);
  assert.deepEqual([...decoded.entries[0]!.data], new Array(10).fill(0), 'the view reads the buffer as it is now');
});

test('broken LogData frames are refused naming what is wrong', () => {
  const message = batch(64, [new Uint8Array(10).fill(1), new Uint8Array(3)], [1]);
  const buffer = new Uint8Array(logDataLength(message) + 4);
  const length = encodeLogData(message, buffer, 0);
  const refused = (bytes: Uint8Array, n: number, why: RegExp) => assert.throws(() => decodeLogData(bytes, 0, n), (e: unknown) => e instanceof SkeinError && why.test(e.message));
  refused(buffer, 20, /LogData \(20 bytes\): shorter than its 48-byte header/);
  refused(buffer, length - 1, /entry 1 of 2 says 3 bytes, past the end/);
  refused(buffer, length + 4, /4 bytes after the last entry/);
  const wrongMagic = buffer.slice();
  wrongMagic[0] = 0;
  refused(wrongMagic, length, /magic 0x4c00, expected 0x4c44/);
  const wrongVersion = buffer.slice();
  wrongVersion[2] = 9;
  refused(wrongVersion, length, /version 9, expected 1/);
  assert.throws(() => encodeLogData(message, new Uint8Array(10), 0), /LogData of 2 entries \(101 bytes\) does not fit at 0 of a 10-byte buffer/);
});

test('snapshots on files: whole, numbered on across restarts', () => {
  const files = new MemoryFiles();
  const store = new FileSnapshotStore(files, '/c/snapshots');
  assert.equal(store.write(Uint8Array.of(1, 2, 3)), 0);
  assert.equal(store.write(Uint8Array.of(4)), 1);
  const again = new FileSnapshotStore(files, '/c/snapshots');
  assert.deepEqual(again.read(0), Uint8Array.of(1, 2, 3));
  assert.equal(again.read(7), undefined);
  assert.equal(again.write(new Uint8Array(0)), 2);
  assert.deepEqual(again.read(2), new Uint8Array(0));
  files.failWrites('ENOSPC');
  assert.throws(() => again.write(Uint8Array.of(9)), (e: unknown) => e instanceof SkeinError && /cannot write snapshot \/c\/snapshots\/3.snapshot \(1 bytes\)/.test(e.message));
});
