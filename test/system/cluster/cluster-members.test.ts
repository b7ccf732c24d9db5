/**
 * Three cluster members, each with its own Skein (media driver and client) in this process, over
 * UDP on loopback, with the log as a recording of each member's archive and, again, in a file: they elect a leader with Aeron's consensus messages, replicate key-value
 * commands to every member's files and apply them alike, and take a snapshot at one position on
 * every member; when the leader is killed (its Skein
 * closed under it, no shutdown) the other two elect a new one in a newer term and go on; the old
 * leader, started again on its directory, rejoins as a follower from its snapshot and log files and catches up to the same state.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Skein } from '../../../src/skein.js';
import { ClusterMember, type ClusterMemberEndpoint } from '../../../src/cluster/cluster-member.js';
import { CONSENSUS_LOG_FILE, FileConsensusLog } from '../../../src/cluster/consensus/file-consensus-log.js';
import { ArchiveConsensusLog } from '../../../src/cluster/archive-consensus-log.js';
import { KvService, decodeKv, encodeKv, type KvAnswer } from '../../../src/cluster/service/kv-service.js';
import { freeUdpPort, waitFor } from '../../support/wait.js';
import { liveSnapshots } from '../../../src/cli/live-snapshots.js';
import { CounterTypeId } from '../../../src/agent/counter-types.js';
import { ErrorCode, SkeinError } from '../../../src/util/errors.js';

const SETTINGS = { leaderHeartbeatTimeoutNs: 1_500_000_000, leaderHeartbeatIntervalNs: 100_000_000, electionTimeoutNs: 300_000_000, startupCanvassTimeoutNs: 3_000_000_000 };

interface Running {
  readonly skein: Skein;
  readonly member: ClusterMember;
  readonly kv: KvService;
}

for (const logStorage of ['archive', 'file'] as const) test(`three members over UDP, log ${logStorage === 'archive' ? 'as an archive recording' : 'in a file'}: elect, replicate, lose the leader, elect again, and the old leader catches up`, { timeout: 90_000 }, async () => {
  const root = mkdtempSync(join(tmpdir(), 'skein-cluster-'));
  const endpoints: ClusterMemberEndpoint[] = [];
  for (let id = 0; id < 3; id++) endpoints.push({ id, consensus: `127.0.0.1:${await freeUdpPort()}` });
  const answers = new Map<string, KvAnswer>();
  const errors: unknown[] = [];
  const running: (Running | null)[] = [null, null, null];
  const start = async (id: number): Promise<Running> => {
    const skein = Skein.launch({ testProfile: true, seed: 100 + id, dir: join(root, `skein-${id}`), driver: { publishSnapshots: true, snapshotIntervalNs: 100_000_000 }, errorHandler: (e) => errors.push(e) });
    const kv = new KvService();
    try {
      const member = await ClusterMember.launch(skein.client, {
        memberId: id, members: endpoints, clusterDir: join(root, `member-${id}`), service: kv, settings: SETTINGS, seed: id + 1, logStorage,
        archiveOptions: { segmentFileLength: 1024 * 1024, lowStorageSpaceThreshold: 0 },
        // A small window: the old leader's catch-up reads what it missed back from the new leader's storage.
        retainedLogBytes: 1024,
        egress: (sessionId, sequence, answer) => answers.set(`${sessionId}/${sequence}`, decodeKv<KvAnswer>(answer)),
      });
      return (running[id] = { skein, member, kv });
    } catch (error) {
      skein.destroy();
      throw error;
    }
  };
  const live = (): Running[] => running.filter((r): r is Running => r !== null);
  const leader = (): Running | undefined => {
    const leaders = live().filter((r) => r.member.role === 'LEADER' && r.member.electionState === 'CLOSED');
    return leaders.length === 1 && live().every((r) => r.member.leaderId === leaders[0]!.member.memberId) ? leaders[0] : undefined;
  };
  const sendPuts = async (via: Running, sessionId: number, count: number): Promise<void> => {
    for (let seq = 1; seq <= count; seq++) {
      const result = via.member.offer(sessionId, seq, encodeKv({ op: 'put', key: `k${seq % 17}`, value: `s${sessionId}-${seq}` }));
      assert.ok(result.accepted, `command ${sessionId}/${seq} taken by the leader`);
    }
    await waitFor(() => answers.size > 0 && [...Array(count).keys()].every((i) => answers.get(`${sessionId}/${i + 1}`)?.ok === true), 20_000, `answers to session ${sessionId}`);
  };
  const converged = (): boolean => {
    const all = live();
    const digest = all[0]!.kv.digest();
    const end = all[0]!.member.log.appendPosition;
    return all.every((r) => r.kv.digest() === digest && r.member.log.appendPosition === end && r.member.node.member.appliedPosition === r.member.commitPosition && r.member.commitPosition === end);
  };
  try {
    for (let id = 0; id < 3; id++) await start(id);
    await waitFor(() => leader() !== undefined, 20_000, 'a leader all three agree on');
    const first = leader()!;
    const firstTerm = first.member.leadershipTermId;
    await sendPuts(first, 1, 100);
    await waitFor(converged, 20_000, 'every member applies the same log');
    const before = first.kv.digest();
    assert.match(before, /"k0","s1-85"/, 'the last put of k0 won');
    // A snapshot at the same position on every member, into its files and recording log.
    assert.ok(first.member.requestSnapshot());
    await waitFor(() => live().every((r) => r.member.node.snapshotsStored === 1), 20_000, 'every member stores the snapshot');
    const snapshotPosition = first.member.node.recordingLog.latestSnapshot(-1)?.logPosition;
    assert.ok(snapshotPosition !== undefined && snapshotPosition > 0, `snapshot at ${snapshotPosition}`);

    // Kill the leader: its Skein goes away under it, nothing is shut down in order.
    const killed = first.member.memberId;
    const killedEnd = first.member.log.appendPosition;
    first.skein.destroy();
    running[killed] = null;
    await waitFor(() => leader() !== undefined && leader()!.member.leadershipTermId > firstTerm, 20_000, 'a new leader of a newer term among the two left');
    const second = leader()!;
    assert.notEqual(second.member.memberId, killed);
    await sendPuts(second, 2, 50);
    await waitFor(converged, 20_000, 'the two apply the same log');
    const released = (second.member.log as ArchiveConsensusLog | FileConsensusLog).releasedPosition;
    assert.ok(released > killedEnd, `the new leader holds in memory only the log after ${released}, past where the old leader stopped (${killedEnd})`);

    // The old leader comes back on its directory and catches up as a follower.
    const back = await start(killed);
    assert.equal(back.member.log.appendPosition, killedEnd, 'its log as it was on its files');
    assert.equal(back.member.node.recoveredPosition, snapshotPosition, 'it started from its snapshot and replays only the log after it');
    await waitFor(() => back.member.role === 'FOLLOWER' && back.member.leaderId === second.member.memberId && converged(), 30_000, 'the old leader rejoins and catches up');
    assert.equal(back.kv.digest(), second.kv.digest());
    assert.match(back.kv.digest(), /"k16","s2-50"/);
    for (let id = 0; id < 3; id++) {
      const member = running[id]!.member;
      if (logStorage === 'file') {
        const file = join(root, `member-${id}`, CONSENSUS_LOG_FILE);
        assert.ok(existsSync(file) && statSync(file).size === second.member.log.appendPosition, `member ${id}'s log file holds the whole log`);
      } else {
        assert.ok(member.log instanceof ArchiveConsensusLog);
        await waitFor(() => member.log.durablePosition === second.member.log.appendPosition, 10_000, `member ${id}'s archive records the whole log`);
        assert.equal((member.log as ArchiveConsensusLog).state, 'WRITING');
      }
    }
    // What `skein stat` shows of each member: Aeron's cluster counters (role, election state, commit position, snapshots).
    const counters = (id: number): Record<number, number> => {
      const out: Record<number, number> = {};
      for (const f of liveSnapshots(join(root, `skein-${id}`))) for (const c of f.snapshot.counters) if (c.typeId >= 200 && c.typeId < 300) out[c.typeId] = c.value;
      return out;
    };
    await waitFor(() => [0, 1, 2].every((id) => counters(id)[203] === second.member.commitPosition), 10_000, 'counters published');
    for (const id of [0, 1, 2]) {
      assert.deepEqual(counters(id), {
        [CounterTypeId.CLUSTER_CONSENSUS_MODULE_STATE]: 1, [CounterTypeId.CLUSTER_NODE_ROLE]: id === second.member.memberId ? 2 : 0,
        [CounterTypeId.CLUSTER_COMMIT_POSITION]: second.member.commitPosition, [CounterTypeId.CLUSTER_SNAPSHOT_COUNT]: id === killed ? 0 : 1, [CounterTypeId.CLUSTER_ELECTION_STATE]: 17,
      }, `member ${id}'s counters`);
    }
    assert.deepEqual(live().map((r) => r.member.failure), [null, null, null]);
    assert.deepEqual(live().map((r) => r.member.framesRefused), [0, 0, 0]);
  } finally {
    for (const r of live()) {
      await r.member.close();
      await r.skein.close();
    }
    rmSync(root, { recursive: true, force: true });
  }
  assert.deepEqual(errors.map(String), [], 'no error reported by any member or driver');
});

for (const kind of ['shutdown', 'abort'] as const) test(`${kind} over UDP (A003): ${kind === 'shutdown' ? 'a snapshot, ' : ''}every member terminates at one position, each process closes its member, archive and driver in that order with no error, and all restart ${kind === 'shutdown' ? 'from the snapshot' : 'from the log'}`, { timeout: 90_000 }, async () => {
  const root = mkdtempSync(join(tmpdir(), 'skein-cluster-shutdown-'));
  const endpoints: ClusterMemberEndpoint[] = [];
  for (let id = 0; id < 3; id++) endpoints.push({ id, consensus: `127.0.0.1:${await freeUdpPort()}` });
  const answers = new Map<string, KvAnswer>();
  const errors: unknown[] = [];
  const terminated: string[] = [];
  let running: Running[] = [];
  const startAll = async (round: number): Promise<Running[]> => {
    const started: Running[] = [];
    for (let id = 0; id < 3; id++) {
      const skein = Skein.launch({ testProfile: true, seed: 200 + round * 10 + id, dir: join(root, `skein-${round}-${id}`), errorHandler: (e) => errors.push(e) });
      const kv = new KvService();
      try {
        const member = await ClusterMember.launch(skein.client, {
          memberId: id, members: endpoints, clusterDir: join(root, `member-${id}`), service: kv, settings: SETTINGS, seed: id + 1,
          archiveOptions: { segmentFileLength: 1024 * 1024, lowStorageSpaceThreshold: 0 },
          egress: (sessionId, sequence, answer) => answers.set(`${sessionId}/${sequence}`, decodeKv<KvAnswer>(answer)),
          onTerminated: (reason) => terminated.push(`${id}: ${reason}`),
        });
        started.push({ skein, member, kv });
      } catch (error) {
        skein.destroy();
        // What started before the failure is closed too: nothing outlives the test.
        for (const r of started) {
          await r.member.close();
          await r.skein.close();
        }
        throw error;
      }
    }
    return started;
  };
  const leaderOf = (all: Running[]): Running | undefined => all.find((r) => r.member.role === 'LEADER' && r.member.electionState === 'CLOSED' && all.every((o) => o.member.leaderId === r.member.memberId));
  try {
    running = await startAll(0);
    await waitFor(() => leaderOf(running) !== undefined, 20_000, 'a leader');
    const leader = leaderOf(running)!;
    for (let seq = 1; seq <= 30; seq++) assert.ok(leader.member.offer(7, seq, encodeKv({ op: 'put', key: `k${seq % 5}`, value: `v${seq}` })).accepted);
    await waitFor(() => answers.size === 30, 20_000, 'answers');
    assert.ok(kind === 'shutdown' ? leader.member.shutdown() : leader.member.abort());
    await waitFor(() => running.every((r) => r.member.state === 'CLOSED'), 20_000, 'every member terminates');
    const position = leader.member.node.terminationLogPosition;
    assert.ok(running.every((r) => r.member.node.terminationLogPosition === position && r.member.node.member.appliedPosition === position), 'at one position, applied there');
    assert.deepEqual(terminated.sort(), ['0', '1', '2'].map((id) => `${id}: ${id === String(leader.member.memberId) ? 'shut down: every member reached the termination position' : 'reached the termination position the leader set'}`).sort());
    assert.deepEqual(running.map((r) => r.member.node.snapshotsStored), kind === 'shutdown' ? [1, 1, 1] : [0, 0, 0]);
    const digest = leader.kv.digest();
    // Each process closes its consensus module (and the archive it runs), then its media driver.
    for (const r of running) {
      await r.member.close();
      await r.skein.close();
      assert.ok(r.member.isClosed && r.skein.isClosed);
    }
    running = [];
    assert.deepEqual(errors.map(String), [], 'no warning or error from any member, archive or driver');

    // All three start again (after a shutdown from its snapshot, with nothing to replay; after an abort from the log) and take commands.
    running = await startAll(1);
    const expected = kind === 'shutdown' ? position : 0;
    assert.deepEqual(running.map((r) => r.member.node.recoveredPosition), [expected, expected, expected]);
    if (kind === 'shutdown') assert.ok(running.every((r) => r.kv.digest() === digest), 'the state the snapshot holds');
    await waitFor(() => leaderOf(running) !== undefined, 20_000, 'a leader after the restart');
    await waitFor(() => running.every((r) => r.kv.digest() === digest), 20_000, 'the state before the stop on every member');
    assert.ok(leaderOf(running)!.member.offer(8, 1, encodeKv({ op: 'put', key: 'after', value: 'restart' })).accepted);
    await waitFor(() => answers.get('8/1')?.ok === true && running.every((r) => r.kv.digest().includes('"after","restart"')), 20_000, 'a command after the restart on every member');
  } finally {
    for (const r of running) {
      await r.member.close();
      await r.skein.close();
    }
    rmSync(root, { recursive: true, force: true });
  }
  assert.deepEqual(errors.map(String), []);
});

test('a single member leads at once, answers from its archive-backed log, and after a restart leads a newer term with the same state', { timeout: 60_000 }, async () => {
  const root = mkdtempSync(join(tmpdir(), 'skein-cluster-single-'));
  const endpoints: ClusterMemberEndpoint[] = [{ id: 0, consensus: `127.0.0.1:${await freeUdpPort()}` }];
  const answers = new Map<string, KvAnswer>();
  const errors: unknown[] = [];
  let current: Running | null = null;
  const start = async (round: number): Promise<Running> => {
    const skein = Skein.launch({ testProfile: true, seed: 300 + round, dir: join(root, `skein-${round}`), errorHandler: (e) => errors.push(e) });
    const kv = new KvService();
    try {
      const member = await ClusterMember.launch(skein.client, {
        memberId: 0, members: endpoints, clusterDir: join(root, 'member-0'), service: kv, seed: 1, archiveOptions: { segmentFileLength: 1024 * 1024, lowStorageSpaceThreshold: 0 },
        egress: (sessionId, sequence, answer) => answers.set(`${sessionId}/${sequence}`, decodeKv<KvAnswer>(answer)),
      });
      return { skein, member, kv };
    } catch (error) {
      skein.destroy();
      throw error;
    }
  };
  try {
    current = await start(0);
    assert.equal(current.member.role, 'LEADER');
    const firstTerm = current.member.leadershipTermId;
    for (let seq = 1; seq <= 10; seq++) assert.ok(current.member.offer(1, seq, encodeKv({ op: 'put', key: `k${seq}`, value: `v${seq}` })).accepted);
    await waitFor(() => answers.size === 10, 10_000, 'answers from a cluster of one');
    const digest = current.kv.digest();
    await current.member.close();
    await current.skein.close();
    current = await start(1);
    assert.equal(current.member.role, 'LEADER');
    assert.ok(current.member.leadershipTermId > firstTerm, 'a newer term after every start');
    await waitFor(() => current!.kv.digest() === digest, 10_000, 'the log replayed from the recording');
  } finally {
    if (current !== null) {
      await current.member.close();
      await current.skein.close();
    }
    rmSync(root, { recursive: true, force: true });
  }
  assert.deepEqual(errors.map(String), []);
});

test('a retainedLogBytes that is not a whole number of bytes, or an ingressFragmentLimit out of [1, 65536], is refused naming it, before anything opens', async () => {
  const root = mkdtempSync(join(tmpdir(), 'skein-cluster-options-'));
  const skein = Skein.launch({ testProfile: true, seed: 5, dir: join(root, 'skein') });
  try {
    const bads: [string, number][] = [['retainedLogBytes', -1], ['retainedLogBytes', 1.5], ['retainedLogBytes', Number.NaN], ['ingressFragmentLimit', 0], ['ingressFragmentLimit', 65_537], ['ingressFragmentLimit', 2.5]];
    for (const [name, bad] of bads) {
      await assert.rejects(
        ClusterMember.launch(skein.client, { memberId: 0, members: [{ id: 0, consensus: '127.0.0.1:1' }], clusterDir: join(root, 'member-0'), service: new KvService(), [name]: bad }),
        (e: unknown) => e instanceof SkeinError && e.code === ErrorCode.CONFIG_INVALID && e.message.includes(`${name}=${bad}`),
      );
    }
    assert.equal(existsSync(join(root, 'member-0')), false, 'no directory made');
  } finally {
    await skein.close();
    rmSync(root, { recursive: true, force: true });
  }
});
