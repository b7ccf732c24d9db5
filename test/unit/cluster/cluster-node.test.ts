/**
 * The cluster node's consensus-module duties on a single member (it leads at once) and on one
 * that does not lead: ingress accepted or redirected, timers appended by the leader once when due
 * and fired once, snapshots on request and on a schedule recorded in the recording log, and a
 * restart that recovers from the latest snapshot and applies only what follows it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SeededPrng } from '../../../src/env/prng.js';
import { MemoryFiles } from '../../../src/env/memory-files.js';
import { MemoryConsensusLog } from '../../../src/cluster/consensus/consensus-log.js';
import { ClusterNode, type SnapshotStore } from '../../../src/cluster/cluster-node.js';
import { CONSENSUS_MODULE_SERVICE_ID, EntryType } from '../../../src/cluster/recording-log.js';
import type { ClusteredService } from '../../../src/cluster/service/service-container.js';
import { EntryKind } from '../../../src/cluster/service/cluster-entries.js';
import { KvService, decodeKv, encodeKv, type KvAnswer } from '../../../src/cluster/service/kv-service.js';

const MS = 1_000_000;

function memoryStore(): SnapshotStore & { readonly recordings: Uint8Array[] } {
  const recordings: Uint8Array[] = [];
  return { recordings, write: (bytes) => recordings.push(bytes) - 1, read: (id) => recordings[id] };
}

function node(options: { memberIds?: number[]; service?: ClusteredService; log?: MemoryConsensusLog; files?: MemoryFiles; store?: SnapshotStore; clock?: { ms: number }; snapshotIntervalNs?: number; answers?: KvAnswer[]; rejected?: string[] } = {}) {
  const clock = options.clock ?? { ms: 1000 };
  const answers = options.answers ?? [];
  const n = new ClusterNode({
    memberId: 0, memberIds: options.memberIds ?? [0], log: options.log ?? new MemoryConsensusLog(), service: options.service ?? new KvService(),
    files: options.files ?? new MemoryFiles(), clusterDir: '/cluster', snapshots: options.store ?? memoryStore(), send: () => {},
    egress: (_s, _q, answer) => {
      if (answer.length > 0) answers.push(decodeKv<KvAnswer>(answer));
    }, random: new SeededPrng(3), clusterClock: () => clock.ms, nowNs: 0,
    refuseNondeterminism: true, ...(options.snapshotIntervalNs === undefined ? {} : { snapshotIntervalNs: options.snapshotIntervalNs }),
    reject: (sessionId, sequence, reason) => options.rejected?.push(`${sessionId}/${sequence}: ${reason}`),
  });
  return { n, clock, answers };
}

test('ingress: a leader appends the command stamped with cluster time; a member that does not lead names the leader it knows', () => {
  const { n, answers } = node();
  const result = n.onIngress(7, 1, encodeKv({ op: 'put', key: 'a', value: '1' }));
  assert.equal(result.accepted, true);
  n.doWork(MS);
  assert.deepEqual(answers, [{ ok: true }]);
  const follower = node({ memberIds: [0, 1, 2] }).n;
  assert.deepEqual(follower.onIngress(7, 1, encodeKv({ op: 'get', key: 'a' })), { accepted: false, leaderId: -1 });
  assert.equal(follower.requestSnapshot(), false);
});

test('resends: the leader appends a command once; a resend before it is applied is not appended again, one after is answered from the session table at once', () => {
  const log = new MemoryConsensusLog();
  const { n, answers } = node({ log });
  n.onIngress(7, 1, encodeKv({ op: 'put', key: 'a', value: '1' }));
  const end = log.appendPosition;
  n.onIngress(7, 1, encodeKv({ op: 'put', key: 'a', value: '1' }));
  assert.equal(log.appendPosition, end, 'a resend of an appended command adds nothing to the log');
  n.doWork(MS);
  assert.deepEqual(answers, [{ ok: true }]);
  const applied = log.appendPosition;
  n.onIngress(7, 1, encodeKv({ op: 'put', key: 'a', value: '1' }));
  assert.equal(log.appendPosition, applied, 'nor does a resend of an applied one');
  assert.deepEqual(answers, [{ ok: true }, { ok: true }], 'answered again from the table');
  assert.equal(n.resendsAbsorbed, 2);
  assert.equal(n.container.stats.applied, 1);
  // The next sequence is appended and applied as usual.
  n.onIngress(7, 2, encodeKv({ op: 'get', key: 'a' }));
  assert.ok(log.appendPosition > applied);
  n.doWork(2 * MS);
  assert.deepEqual(answers.at(-1), { value: '1' });
  // An earlier one (its answer lost, say, with a leader that stopped leading) is answered from the
  // session's recent answers, here and by a member started again from the log.
  const before = log.appendPosition;
  n.onIngress(7, 1, encodeKv({ op: 'put', key: 'a', value: '1' }));
  assert.deepEqual(answers.at(-1), { ok: true });
  assert.equal(log.appendPosition, before);
  n.close();
  const again = node({ log });
  again.n.doWork(3 * MS);
  again.n.onIngress(7, 1, encodeKv({ op: 'put', key: 'a', value: '1' }));
  assert.deepEqual(again.answers.at(-1), { ok: true }, 'rebuilt as the log was applied again');
  assert.equal(again.n.container.stats.applied, 2, 'nothing applied twice');
});

test('suspend and resume: actions in the log; suspended, the leader takes no command and no snapshot; a restart replays the suspension, and resume ends it', () => {
  const log = new MemoryConsensusLog();
  const files = new MemoryFiles();
  const store = memoryStore();
  const first = node({ log, files, store });
  first.n.onIngress(1, 1, encodeKv({ op: 'put', key: 'a', value: '1' }));
  first.n.doWork(MS);
  assert.equal(first.n.resume(MS), false, 'nothing to resume');
  assert.equal(first.n.suspend(), true);
  assert.equal(first.n.state, 'SUSPENDED');
  assert.equal(first.n.suspend(), false, 'suspended already');
  assert.deepEqual(first.n.onIngress(1, 2, encodeKv({ op: 'put', key: 'a', value: '2' })), { accepted: false, leaderId: -1 });
  assert.equal(first.n.requestSnapshot(), false);
  assert.equal(first.n.isLeader, true);
  first.n.doWork(2 * MS);
  assert.equal(first.n.state, 'SUSPENDED', 'its own SUSPEND applied: still suspended');
  first.n.close();

  // Started again from the same log, the member replays the SUSPEND: still suspended, until resumed.
  const again = node({ log, files, store });
  again.n.doWork(3 * MS);
  assert.equal(again.n.state, 'SUSPENDED');
  assert.equal(again.n.resume(4 * MS), true);
  assert.equal(again.n.state, 'ACTIVE');
  again.n.doWork(5 * MS);
  assert.equal(again.n.state, 'ACTIVE', 'its own RESUME applied: still active');
  assert.equal(again.n.onIngress(1, 2, encodeKv({ op: 'get', key: 'a' })).accepted, true);
  again.n.doWork(6 * MS);
  assert.deepEqual(again.answers.at(-1), { value: '1' });
  assert.equal(again.n.container.stats.unknownEntries, 0, 'the service does not count the actions as unknown');
});

test('timers: the leader appends one timer event when a timer falls due, and the service sees it once', () => {
  const fired: number[] = [];
  const service: ClusteredService = {
    onSessionMessage(_s, _t, _p, cluster) {
      cluster.scheduleTimer(42, cluster.time + 100);
      return new Uint8Array(0);
    },
    onTimerEvent(id, timestamp) {
      fired.push(id, timestamp);
    },
  };
  const { n, clock } = node({ service });
  n.onIngress(1, 1, new Uint8Array(0));
  n.doWork(MS);
  clock.ms = 1099;
  n.doWork(2 * MS);
  assert.deepEqual(fired, []);
  clock.ms = 1100;
  for (let i = 0; i < 5; i++) n.doWork((3 + i) * MS);
  assert.deepEqual(fired, [42, 1100]);
  assert.equal(n.container.stats.timersFired, 1);
  assert.equal(n.container.stats.timerEventsIgnored, 0, 'not appended twice');
});

test('snapshots on request and on a schedule are recorded; a restart recovers from the latest and applies only what follows', () => {
  const files = new MemoryFiles();
  const store = memoryStore();
  const log = new MemoryConsensusLog();
  const first = node({ files, store, log, snapshotIntervalNs: 10 * MS });
  first.n.onIngress(1, 1, encodeKv({ op: 'put', key: 'a', value: '1' }));
  assert.equal(first.n.requestSnapshot(), true);
  first.n.doWork(MS);
  assert.equal(first.n.snapshotsStored, 1);
  first.n.onIngress(1, 2, encodeKv({ op: 'put', key: 'a', value: '2' }));
  first.n.doWork(11 * MS); // the schedule asks for another
  first.n.doWork(12 * MS);
  assert.equal(first.n.snapshotsStored, 2);
  first.n.onIngress(1, 3, encodeKv({ op: 'put', key: 'b', value: '3' }));
  first.n.doWork(13 * MS);
  const entries = first.n.recordingLog.entries.filter((e) => e.type === EntryType.SNAPSHOT);
  assert.deepEqual(entries.map((e) => e.serviceId), [0, CONSENSUS_MODULE_SERVICE_ID, 0, CONSENSUS_MODULE_SERVICE_ID]);
  first.n.close();

  const again = node({ files, store, log });
  assert.equal(again.n.recoveredPosition, entries[3]!.logPosition);
  assert.ok(again.n.member.appliedPosition >= again.n.recoveredPosition);
  again.n.onIngress(2, 1, encodeKv({ op: 'get', key: 'b' }));
  again.n.onIngress(1, 3, encodeKv({ op: 'put', key: 'b', value: 'again' }));
  again.n.doWork(MS);
  // The put of b after the snapshot is applied again from the log (and, this member leading, its
  // answer sent again for a client that may still wait); the get sees it; the resend of (1, 3) is
  // answered from the session table, not applied.
  assert.deepEqual(again.answers, [{ ok: true }, { value: '3' }, { ok: true }]);
  assert.equal(again.n.container.stats.answeredAgain, 1);
  assert.throws(() => node({ files, store: memoryStore(), log }), /names snapshot recording \d+, which the snapshot store does not hold/);
});

test('sessions: opened with the first command, closed by the client or by the leader after the session timeout, keepalives keep one open', () => {
  const rejected: string[] = [];
  const { n, answers } = node({ rejected });
  n.onIngress(1, 1, encodeKv({ op: 'put', key: 'a', value: '1' }));
  n.onIngress(2, 1, encodeKv({ op: 'get', key: 'a' }));
  n.doWork(MS);
  assert.deepEqual(answers, [{ ok: true }, { value: '1' }]);
  assert.equal(n.container.stats.sessionsOpened, 2);
  assert.equal(n.closeSession(2), true);
  n.doWork(2 * MS);
  assert.equal(n.container.isClosed(2), true);
  assert.equal(n.closeSession(2), false);
  // Session 1 is silent: closed by the leader once the session timeout (10 s) passes; session 3 keeps alive.
  n.onIngress(3, 1, encodeKv({ op: 'get', key: 'a' }));
  n.doWork(3 * MS);
  for (let t = 1; t <= 12; t++) {
    assert.equal(n.onKeepAlive(3), true);
    n.doWork(t * 1000 * MS);
  }
  assert.equal(n.container.isClosed(1), true);
  assert.equal(n.container.isOpen(3), true);
  n.onIngress(1, 2, encodeKv({ op: 'put', key: 'a', value: 'late' }));
  n.doWork(13_000 * MS);
  assert.deepEqual(rejected, ['1/2: the session is closed']);
  assert.equal(n.onKeepAlive(1), false);
});

test('connect: the leader numbers a session after every one opened or appended and opens it with where the client takes answers; a follower names the leader', () => {
  const log = new MemoryConsensusLog();
  const { n } = node({ log });
  const response = { channel: 'aeron:udp?endpoint=127.0.0.1:20121', streamId: 102 };
  n.onIngress(7, 1, encodeKv({ op: 'put', key: 'a', value: '1' }));
  // Each accepted connect names where its SESSION_OPEN begins in the log.
  const first = log.appendPosition;
  assert.deepEqual(n.connect(response), { accepted: true, sessionId: 8, position: first }, 'after session 7, whose open is appended');
  const second = log.appendPosition;
  assert.ok(second > first);
  assert.deepEqual(n.connect(response), { accepted: true, sessionId: 9, position: second }, 'before the first is applied');
  assert.equal(log.entryFrom(first)?.data[0], EntryKind.SESSION_OPEN, 'session 8\'s open begins there');
  assert.equal(log.entryFrom(second)?.data[0], EntryKind.SESSION_OPEN, 'and session 9\'s there');
  assert.ok(n.isSessionOpen(9));
  n.doWork(MS);
  assert.deepEqual(n.container.responseOf(8), response);
  assert.ok(n.container.isOpen(9));
  assert.deepEqual(node({ memberIds: [0, 1, 2] }).n.connect(response), { accepted: false, leaderId: -1 });
});
