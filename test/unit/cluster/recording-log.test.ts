/**
 * The recording log: Aeron's byte layout, terms that end where the next begins, the sort order
 * (term, base, type; snapshots by position with the consensus module's last), snapshot sets and
 * the recovery plan, invalidation and restoring, a torn last record, a damaged file, a full disk
 * that changes nothing, and a property test that what is written reads back the same.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MemoryFiles } from '../../../src/env/memory-files.js';
import { CONSENSUS_MODULE_SERVICE_ID as CM, EntryType, RecordingLog, type RecordingLogEntry } from '../../../src/cluster/recording-log.js';

const DIR = '/cluster';
const PATH = `${DIR}/recording.log`;

function open(files: MemoryFiles): RecordingLog {
  return RecordingLog.open({ files, clusterDir: DIR });
}

/** The entries without where they sit in the file. */
function fields(entries: readonly RecordingLogEntry[]): object[] {
  return entries.map(({ fileOffset: _o, appendIndex: _a, ...rest }) => rest);
}

test('layout: 64-byte little-endian records at Aeron offsets; an open term has log position -1', () => {
  const files = new MemoryFiles();
  const log = open(files);
  log.appendTerm(7, 0, 0, 1000);
  log.appendSnapshot(9, 0, 0, 4096, 2000, 0);
  const bytes = files.contentOf(PATH)!;
  assert.equal(bytes.length, 128);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  assert.deepEqual([v.getBigInt64(0, true), v.getBigInt64(8, true), v.getBigInt64(16, true), v.getBigInt64(24, true), v.getBigInt64(32, true)], [7n, 0n, 0n, -1n, 1000n]);
  assert.equal(v.getInt32(40, true), -1);
  assert.equal(v.getInt32(44, true), EntryType.TERM);
  assert.deepEqual([v.getBigInt64(64, true), v.getBigInt64(64 + 24, true), v.getBigInt64(64 + 32, true)], [9n, 4096n, 2000n]);
  assert.equal(v.getInt32(64 + 40, true), 0);
  assert.equal(v.getInt32(64 + 44, true), EntryType.SNAPSHOT);
  log.close();
  log.close();
});

test('a new term ends the previous one at its base, on disk too; a term replicated late ends where the next begins', () => {
  const files = new MemoryFiles();
  const log = open(files);
  log.appendTerm(3, 0, 0, 1);
  log.appendTerm(3, 1, 4096, 2);
  assert.equal(log.findTerm(0)?.logPosition, 4096);
  assert.equal(log.findTerm(1)?.logPosition, -1);
  log.appendTerm(3, 3, 9000, 4);
  log.appendTerm(3, 2, 8000, 3);
  assert.equal(log.findTerm(2)?.logPosition, 9000, 'ends where term 3 begins');
  assert.equal(log.findTerm(1)?.logPosition, 8000);
  assert.deepEqual(log.entries.map((e) => e.leadershipTermId), [0, 1, 2, 3]);
  log.commitLogPosition(3, 9500);
  log.close();
  const again = open(files);
  assert.deepEqual(fields(again.entries), fields(log.entries));
  assert.equal(again.lastTerm()?.logPosition, 9500);
  assert.equal(again.logRecordingId, 3);
  again.close();
});

test('refusals name what is wrong: another log recording, a duplicate term, an unknown term, a bad service id', () => {
  const log = open(new MemoryFiles());
  log.appendTerm(3, 0, 0, 1);
  assert.throws(() => log.appendTerm(4, 1, 100, 2), /TERM 1 names recording 4, but the log is recording 3/);
  assert.throws(() => log.appendTerm(3, 0, 0, 2), /duplicate TERM entry for leadershipTermId=0/);
  assert.throws(() => log.commitLogPosition(5, 10), /unknown leadershipTermId=5/);
  assert.throws(() => log.appendSnapshot(1, 0, 0, 10, 1, -2), /serviceId=-2 is invalid/);
  assert.throws(() => log.appendTerm(-1, 1, 0, 1), /recordingId=-1 is invalid/);
  log.close();
  assert.throws(() => log.appendTerm(3, 1, 0, 1), /is closed/);
});

test('snapshot sets: services before the consensus module at the same position; the plan loads the latest set and replays the log after it', () => {
  const files = new MemoryFiles();
  const log = open(files);
  log.appendTerm(1, 0, 0, 10);
  for (const position of [1024, 2048]) {
    log.appendSnapshot(100 + position, 0, 0, position, 20, 0);
    log.appendSnapshot(200 + position, 0, 0, position, 20, 1);
    log.appendSnapshot(300 + position, 0, 0, position, 20, CM);
  }
  log.appendTerm(1, 1, 3000, 30);
  const order = log.entries.map((e) => (e.type === EntryType.TERM ? `T${e.leadershipTermId}` : `S${e.serviceId}@${e.logPosition}`));
  assert.deepEqual(order, ['T0', 'S1@1024', 'S0@1024', 'S-1@1024', 'S1@2048', 'S0@2048', 'S-1@2048', 'T1']);
  assert.equal(log.latestSnapshot(CM)?.recordingId, 2348);
  assert.equal(log.latestSnapshot(1)?.recordingId, 2248);
  const plan = log.recoveryPlan(2, (id) => (id === 1 ? { startPosition: 0, stopPosition: 5000 } : undefined));
  assert.deepEqual(plan.snapshots.map((s) => [s.serviceId, s.recordingId]), [[CM, 2348], [0, 2148], [1, 2248]]);
  assert.deepEqual(plan.log, { recordingId: 1, leadershipTermId: 1, termBaseLogPosition: 3000, logPosition: -1, startPosition: 2048, stopPosition: 5000 });
  assert.equal(plan.lastLeadershipTermId, 1);
  assert.equal(plan.appendedLogPosition, 5000);
  assert.equal(plan.committedLogPosition, 2048, 'the open term: committed as far as the snapshot');
  assert.throws(() => log.recoveryPlan(3, () => ({ startPosition: 0, stopPosition: 5000 })), /no valid snapshot for service 2 of 3/);
  assert.throws(() => log.recoveryPlan(2, () => undefined), /names log recording 1, which the archive does not hold/);

  // The latest set invalidated: the plan falls back to the one before; restoring it appends nothing.
  assert.equal(log.invalidateLatestSnapshot(), true);
  assert.deepEqual(log.recoveryPlan(2, () => ({ startPosition: 0, stopPosition: 5000 })).snapshots.map((s) => s.recordingId), [1324, 1124, 1224]);
  const size = files.contentOf(PATH)!.length;
  log.appendSnapshot(2248, 0, 0, 2048, 21, 1);
  log.appendSnapshot(2148, 0, 0, 2048, 21, 0);
  log.appendSnapshot(2348, 0, 0, 2048, 21, CM);
  assert.equal(files.contentOf(PATH)!.length, size);
  assert.equal(open(files).latestSnapshot(0)?.recordingId, 2148, 'restored on disk');
});

test('a plan with no snapshot replays the log from its start; with nothing at all it is empty', () => {
  const log = open(new MemoryFiles());
  assert.deepEqual(log.recoveryPlan(1, () => undefined), { lastLeadershipTermId: -1, lastTermBaseLogPosition: 0, appendedLogPosition: 0, committedLogPosition: 0, snapshots: [], log: null });
  log.appendTerm(4, 0, 0, 1);
  log.appendTerm(4, 1, 700, 1);
  log.commitLogPosition(1, 900);
  const plan = log.recoveryPlan(1, () => ({ startPosition: 0, stopPosition: 1000 }));
  assert.equal(plan.log?.startPosition, 0);
  assert.equal(plan.committedLogPosition, 900);
  assert.equal(plan.appendedLogPosition, 1000);
});

test('a record torn by a crash is dropped and overwritten by the next append; an unknown entry type is refused naming its offset', () => {
  const files = new MemoryFiles();
  const log = open(files);
  log.appendTerm(2, 0, 0, 1);
  log.close();
  const handle = files.open(PATH, 'write');
  handle.write(new Uint8Array(30).fill(0x5a), 0, 30, 64);
  handle.close();
  const reopened = open(files);
  assert.equal(reopened.entries.length, 1);
  reopened.appendTerm(2, 1, 500, 2);
  reopened.close();
  assert.deepEqual(open(files).entries.map((e) => [e.leadershipTermId, e.logPosition]), [[0, 500], [1, -1]]);

  const damaged = files.open(PATH, 'write');
  const bad = new Uint8Array(4);
  new DataView(bad.buffer).setInt32(0, 9, true);
  damaged.write(bad, 0, 4, 64 + 44);
  damaged.close();
  assert.throws(() => open(files), /cannot be used: the record at offset 64 has entry type 9/);
});

test('reads a standby snapshot record with its archive endpoint, as Aeron writes it', () => {
  const files = new MemoryFiles();
  open(files).close();
  const record = new Uint8Array(128);
  const v = new DataView(record.buffer);
  v.setBigInt64(0, 12n, true);
  v.setBigInt64(24, 4096n, true);
  v.setInt32(40, CM, true);
  v.setInt32(44, EntryType.STANDBY_SNAPSHOT, true);
  const endpoint = 'standby-host:8010';
  v.setInt32(48, endpoint.length, true);
  for (let i = 0; i < endpoint.length; i++) record[52 + i] = endpoint.charCodeAt(i);
  const handle = files.open(PATH, 'write');
  handle.write(record, 0, 128, 0);
  handle.close();
  const log = open(files);
  assert.equal(log.entries[0]?.archiveEndpoint, endpoint);
  assert.equal(log.entries[0]?.type, EntryType.STANDBY_SNAPSHOT);
  log.appendTerm(5, 1, 0, 1);
  assert.equal(open(files).entries.length, 2, 'the next record starts at the next 64-byte boundary');
});

test('a full disk fails the append with a storage error and changes nothing; after space returns the log goes on', () => {
  const files = new MemoryFiles();
  const log = open(files);
  log.appendTerm(2, 0, 0, 1);
  files.setCapacity(files.usedBytes + 10);
  assert.throws(() => log.appendSnapshot(5, 0, 0, 100, 2, CM), (e: Error & { code?: string }) => e.code === 'ERR_SKEIN_STORAGE_FAILED' && /ENOSPC/.test(e.message));
  assert.equal(log.entries.length, 1);
  files.setCapacity(Number.MAX_SAFE_INTEGER);
  log.appendSnapshot(5, 0, 0, 100, 2, CM);
  assert.deepEqual(fields(open(files).entries), fields(log.entries));
});

test('sync levels: 0 never syncs, 1 and 2 sync every change', () => {
  for (const level of [0, 1, 2] as const) {
    const files = new MemoryFiles();
    const log = RecordingLog.open({ files, clusterDir: DIR, fileSyncLevel: level });
    log.appendTerm(1, 0, 0, 1);
    log.commitLogPosition(0, 64);
    assert.equal(files.syncCount, level === 0 ? 0 : 2);
    assert.equal(files.metadataSyncCount, level === 2 ? 2 : 0);
  }
  assert.throws(() => RecordingLog.open({ files: new MemoryFiles(), clusterDir: DIR, fileSyncLevel: 3 as 0 }), /fileSyncLevel=3 is invalid/);
});

test('property: whatever sequence of terms, snapshots, commits and invalidations, the file reads back to the same entries', () => {
  const op = fc.oneof(
    fc.record({ kind: fc.constant('term' as const), base: fc.integer({ min: 0, max: 1 << 20 }) }),
    fc.record({ kind: fc.constant('snapshot' as const), position: fc.integer({ min: 0, max: 1 << 20 }), serviceId: fc.integer({ min: -1, max: 2 }) }),
    fc.record({ kind: fc.constant('commit' as const), position: fc.integer({ min: 0, max: 1 << 20 }) }),
    fc.record({ kind: fc.constant('invalidate' as const), pick: fc.nat() }),
  );
  fc.assert(
    fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
      const files = new MemoryFiles();
      const log = open(files);
      let term = -1;
      for (const o of ops) {
        if (o.kind === 'term') log.appendTerm(1, ++term, o.base, term);
        else if (o.kind === 'snapshot' && term >= 0) log.appendSnapshot(10, term, 0, o.position, 0, o.serviceId);
        else if (o.kind === 'commit' && term >= 0 && log.findTerm(term) !== undefined) log.commitLogPosition(term, o.position);
        else if (o.kind === 'invalidate' && log.entries.length > 0) log.invalidateEntry(o.pick % log.entries.length);
      }
      const sorted = log.entries;
      for (let i = 1; i < sorted.length; i++) {
        const a = sorted[i - 1]!;
        const b = sorted[i]!;
        assert.ok(a.leadershipTermId < b.leadershipTermId || (a.leadershipTermId === b.leadershipTermId && (a.termBaseLogPosition <= b.termBaseLogPosition)), 'sorted by term then base');
      }
      assert.deepEqual(fields(open(files).entries), fields(sorted));
    }),
    { seed: 14, numRuns: 200 },
  );
});
