import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CountersManager } from '../../../src/agent/counters.js';
import { CounterTypeId } from '../../../src/agent/counter-types.js';
import { DistinctErrorLog } from '../../../src/agent/distinct-error-log.js';
import { decodeSnapshot, encodeSnapshot, listSnapshots, SnapshotPublisher, type Snapshot } from '../../../src/agent/snapshot.js';
import { nodeStorage } from '../../../src/env/storage.js';
import { MemoryStorage } from '../../../src/sim/memory-storage.js';
import { isStale } from '../../../src/cli/live-snapshots.js';
import { ErrorCode, SkeinError } from '../../../src/util/errors.js';

function fixture() {
  let nowMs = 1_000;
  const epochClock = { epochMs: () => nowMs };
  const counters = new CountersManager({ capacity: 16 });
  const bytes = counters.allocate(CounterTypeId.SYSTEM, 'Bytes sent', { registrationId: 0 });
  const pos = counters.allocate(CounterTypeId.SENDER_POSITION, 'snd-pos', { registrationId: 7, sessionId: -5, streamId: 1001, channel: 'aeron:udp?endpoint=localhost:40123' });
  counters.set(bytes, 2 ** 53 - 1);
  counters.set(pos, 4096);
  const errors = new DistinctErrorLog(epochClock);
  errors.record(new SkeinError(ErrorCode.DRIVER_TIMEOUT, 'no heartbeat'));
  errors.record(new Error('plain'));
  return { counters, errors, epochClock, advance: (ms: number) => void (nowMs += ms) };
}

test('encode and decode round-trip counters, keys, errors and extra fields', () => {
  const { counters, errors } = fixture();
  const text = encodeSnapshot({ pid: 4242, startedAtMs: 10, snapshotAtMs: 20, counters, errors, extra: { role: 'driver' } });
  const snapshot = decodeSnapshot(text);
  assert.equal(snapshot.format, 'skein-snapshot');
  assert.equal(snapshot.version, 1);
  assert.equal(snapshot.pid, 4242);
  assert.equal(snapshot.startedAtMs, 10);
  assert.equal(snapshot.snapshotAtMs, 20);
  assert.deepEqual(snapshot.counters, [
    { id: 0, typeId: CounterTypeId.SYSTEM, label: 'Bytes sent', value: 2 ** 53 - 1, registrationId: 0 },
    { id: 1, typeId: CounterTypeId.SENDER_POSITION, label: 'snd-pos', value: 4096, registrationId: 7, sessionId: -5, streamId: 1001, channel: 'aeron:udp?endpoint=localhost:40123' },
  ]);
  assert.deepEqual(snapshot.errors, errors.entries());
  assert.equal(snapshot.errors[0]?.code, ErrorCode.DRIVER_TIMEOUT);
  assert.equal(snapshot.errors[1]?.code, undefined);
  assert.equal(snapshot.errorOverflowCount, 0);
  assert.deepEqual(snapshot.extra, { role: 'driver' });
});

test('decodeSnapshot rejects malformed input naming the field', () => {
  const { counters, errors } = fixture();
  const good = JSON.parse(encodeSnapshot({ pid: 1, startedAtMs: 0, snapshotAtMs: 0, counters, errors }));
  const cases: Array<[string, RegExp]> = [
    ['not json', /not valid JSON/],
    ['[]', /field snapshot is \[\]; expected an object/],
    [JSON.stringify({ ...good, format: 'other' }), /snapshot\.format/],
    [JSON.stringify({ ...good, version: 2 }), /snapshot\.version is 2; expected 1/],
    [JSON.stringify({ ...good, pid: 'x' }), /snapshot\.pid is "x"; expected a safe integer/],
    [JSON.stringify({ ...good, counters: {} }), /snapshot\.counters .*expected an array/],
    [JSON.stringify({ ...good, counters: [{ ...good.counters[0], label: 3 }] }), /snapshot\.counters\[0\]\.label/],
    [JSON.stringify({ ...good, errors: [{ ...good.errors[0], observationCount: undefined }] }), /snapshot\.errors\[0\]\.observationCount is missing/],
  ];
  for (const [text, message] of cases) {
    assert.throws(
      () => decodeSnapshot(text),
      (e: unknown) => e instanceof SkeinError && e.code === ErrorCode.SNAPSHOT_INVALID && message.test(e.message),
      text.slice(0, 60),
    );
  }
});

test('SnapshotPublisher writes on its first cycle, then every interval, and removes its file on close', () => {
  const { counters, errors, epochClock, advance } = fixture();
  const storage = new MemoryStorage();
  const publisher = new SnapshotPublisher({ storage, dir: '/skein', pid: 31, startedAtMs: 1, counters, errors, epochClock, intervalMs: 1000, extra: () => ({ cycles: 3 }) });
  publisher.onStart();
  assert.equal(publisher.doWork(0), 1);
  assert.equal(publisher.doWork(999_999_999), 0);
  counters.set(1, 8192);
  advance(1000);
  assert.equal(publisher.doWork(1_000_000_000), 1);
  assert.equal(publisher.publicationCount, 2);
  const listed = listSnapshots(storage, '/skein');
  assert.equal(listed.length, 1);
  assert.equal(listed[0]?.pid, 31);
  assert.equal(listed[0]?.path, '/skein/31.json');
  assert.equal(listed[0]?.snapshot.snapshotAtMs, 2000);
  assert.equal(listed[0]?.snapshot.counters[1]?.value, 8192);
  assert.deepEqual(listed[0]?.snapshot.extra, { cycles: 3, snapshotIntervalMs: 1000 });
  publisher.onClose();
  assert.deepEqual(listSnapshots(storage, '/skein'), []);
});

test('listSnapshots reads real files, sorted by pid, skipping other and broken files', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'skein-snapshots-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const { counters, errors } = fixture();
  nodeStorage.writeFileAtomic(join(dir, '200.json'), encodeSnapshot({ pid: 200, startedAtMs: 0, snapshotAtMs: 0, counters, errors }));
  nodeStorage.writeFileAtomic(join(dir, '30.json'), encodeSnapshot({ pid: 30, startedAtMs: 0, snapshotAtMs: 0, counters, errors }));
  nodeStorage.writeFileAtomic(join(dir, '77.json'), '{ truncated');
  nodeStorage.writeFileAtomic(join(dir, 'notes.txt'), 'hello');
  assert.deepEqual(listSnapshots(nodeStorage, dir).map((s) => s.pid), [30, 200]);
  assert.deepEqual(listSnapshots(nodeStorage, join(dir, 'missing')), []);
});

test('SnapshotPublisher on start removes the files of processes that are gone (snapshots and cut-short writes), and no others', () => {
  const storage = new MemoryStorage();
  storage.mkdirs('/skein');
  for (const pid of [5, 6, 7]) storage.writeFileAtomic(`/skein/${pid}.json`, '{}');
  storage.writeFileAtomic('/skein/notes.txt', 'kept');
  // Left by atomic writes cut short: by a dead writer (removed) and by a live one (kept).
  storage.writeFileAtomic('/skein/5.json.5.3.tmp', '{');
  storage.writeFileAtomic('/skein/6.json.6.9.tmp', '{');
  storage.writeFileAtomic('/skein/8.json.8.1.tmp.bak', 'not ours');
  const counters = new CountersManager({ epochClock: { epochMs: () => 0 }, capacity: 16 });
  const errors = new DistinctErrorLog({ epochMs: () => 0 }, 8);
  const alive = new Set([6, 31]);
  const publisher = new SnapshotPublisher({
    storage, dir: '/skein', pid: 31, startedAtMs: 1, counters, errors, epochClock: { epochMs: () => 0 }, isProcessAlive: (pid) => alive.has(pid),
  });
  publisher.onStart();
  assert.deepEqual(storage.list('/skein').sort(), ['6.json', '6.json.6.9.tmp', '8.json.8.1.tmp.bak', 'notes.txt']);
});

test('isStale: a snapshot that says its interval and was not refreshed for 30 of them (30 s at least)', () => {
  const base: Snapshot = { format: 'skein-snapshot', version: 1, pid: 1, startedAtMs: 0, snapshotAtMs: 1_000_000, counters: [], errors: [], errorOverflowCount: 0 };
  const withInterval = { ...base, extra: { snapshotIntervalMs: 1000 } };
  assert.equal(isStale(withInterval, 1_000_000 + 30_000), false);
  assert.equal(isStale(withInterval, 1_000_000 + 30_001), true);
  assert.equal(isStale({ ...base, extra: { snapshotIntervalMs: 5000 } }, 1_000_000 + 100_000), false, '30 intervals of 5 s');
  assert.equal(isStale(base, 1_000_000 + 1e9), false, 'without its interval a snapshot is not judged');
});
