/**
 * The consensus core's rules one at a time: the common prefix of two logs, truncation, votes
 * (never twice in a term, even across a restart; never for an older log), the canvass that keeps
 * a member with an older log from nominating, a single member leading at once, the commit rule
 * (the quorum-th highest position of members that joined the term) and a follower's commit never
 * past what it holds.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SeededPrng } from '../../../src/env/prng.js';
import { MemoryConsensusLog } from '../../../src/cluster/consensus/consensus-log.js';
import { ConsensusMember } from '../../../src/cluster/consensus/consensus-member.js';
import { NULL_VALUE, type ConsensusMessage } from '../../../src/cluster/consensus/consensus-messages.js';

const MS = 1_000_000;
const bytes = (n: number): Uint8Array => new Uint8Array(n).fill(n);

function member(id: number, ids: number[], log = new MemoryConsensusLog(), nowNs = 0) {
  const sent: { to: number; message: ConsensusMessage }[] = [];
  const committed: number[] = [];
  const m = new ConsensusMember(id, ids, log, { random: new SeededPrng(id + 1), send: (to, message) => { sent.push({ to, message }); }, onCommitted: (e) => committed.push(e.position) }, nowNs);
  return { m, log, sent, committed };
}

test('the log: entries at byte positions, terms where they began, truncation at a boundary drops later terms joined', () => {
  const log = new MemoryConsensusLog();
  log.joinTerm(0, 0);
  log.append(0, bytes(8));
  log.append(0, bytes(8));
  log.joinTerm(2, 128);
  log.append(2, bytes(16));
  assert.equal(log.appendPosition, 192, 'each entry takes its 32-byte header and data, aligned to 32 bytes, as a stream frame');
  assert.deepEqual(log.nextTerm(-1), { termId: 0, base: 0 });
  assert.deepEqual(log.nextTerm(0), { termId: 2, base: 128 }, 'term 1 is not in this log');
  assert.equal(log.nextTerm(2), undefined);
  assert.equal(log.logTermId, 2);
  assert.throws(() => log.forgetTerm(2), /not the last term with no entries/);
  assert.throws(() => log.truncate(10), /not an entry end/);
  log.truncate(64);
  assert.equal(log.appendPosition, 64);
  assert.equal(log.logTermId, 0);
  assert.deepEqual(log.entriesFrom(0, 1).map((e) => e.position), [0], 'at least one entry whatever the byte limit');
  assert.throws(() => log.joinTerm(3, 0), /log ends at 64/);
  log.joinTerm(3, 64);
  log.forgetTerm(3);
  assert.equal(log.logTermId, 0, 'a term joined with no entries can be dropped again');
});

test('a single member leads at once, in a newer term after each start', () => {
  const first = member(0, [0]);
  assert.equal(first.m.role, 'LEADER');
  assert.equal(first.m.electionState, 'CLOSED');
  assert.ok(first.m.offer(bytes(4)) !== null);
  first.m.doWork(MS);
  assert.deepEqual(first.committed, [0, 64], 'the term start and the command, committed by a quorum of one');
  const again = member(0, [0], first.log);
  assert.equal(again.m.leadershipTermId, first.m.leadershipTermId + 1);
});

test('votes: granted once per term, persisted so a restart does not vote again, and never for an older log', () => {
  const log = new MemoryConsensusLog();
  const a = member(1, [0, 1, 2], log);
  a.m.onMessage({ type: 'requestVote', from: 0, candidateTermId: 1, logTermId: -1, logPosition: 0 }, MS);
  a.m.onMessage({ type: 'requestVote', from: 2, candidateTermId: 1, logTermId: -1, logPosition: 0 }, MS);
  const votes = a.sent.filter((s) => s.message.type === 'vote').map((s) => [s.to, (s.message as { granted: boolean }).granted]);
  assert.deepEqual(votes, [[0, true], [2, false]]);
  assert.equal(a.m.electionState, 'FOLLOWER_BALLOT');
  const restarted = member(1, [0, 1, 2], log);
  restarted.m.onMessage({ type: 'requestVote', from: 2, candidateTermId: 1, logTermId: -1, logPosition: 0 }, MS);
  assert.deepEqual(restarted.sent.filter((s) => s.message.type === 'vote').map((s) => (s.message as { granted: boolean }).granted), [false]);
  // A newer term from a candidate whose log is older than this member's: no, but the term is remembered.
  log.joinTerm(1, 0);
  log.append(1, bytes(8));
  restarted.m.onMessage({ type: 'requestVote', from: 2, candidateTermId: 5, logTermId: 0, logPosition: 999 }, 2 * MS);
  assert.equal((restarted.sent.at(-1)!.message as { granted: boolean }).granted, false);
  assert.equal(log.candidateTermId, 5);
});

test('canvass: a member that hears of a more recent log does not nominate; one whose log is the most recent does', () => {
  const stale = member(0, [0, 1, 2]);
  stale.m.onMessage({ type: 'canvass', from: 1, logTermId: 3, logPosition: 100, candidateTermId: 3 }, 0);
  stale.m.onMessage({ type: 'canvass', from: 2, logTermId: -1, logPosition: 0, candidateTermId: -1 }, 0);
  for (let t = 0; t < 5000; t += 10) stale.m.doWork(t * MS);
  assert.equal(stale.m.electionState, 'CANVASS', 'not unanimous, and the startup canvass has not timed out');
  assert.ok(!stale.sent.some((s) => s.message.type === 'requestVote'));
  const fresh = member(1, [0, 1, 2]);
  fresh.m.onMessage({ type: 'canvass', from: 0, logTermId: -1, logPosition: 0, candidateTermId: -1 }, 0);
  fresh.m.onMessage({ type: 'canvass', from: 2, logTermId: -1, logPosition: 0, candidateTermId: -1 }, 0);
  for (let t = 0; t < 1000; t += 10) fresh.m.doWork(t * MS);
  assert.equal(fresh.m.electionState, 'CANDIDATE_BALLOT');
  assert.deepEqual(fresh.sent.filter((s) => s.message.type === 'requestVote').map((s) => s.to), [0, 2]);
});

test('commit rule: the leader commits what a quorum that joined its term holds; a follower never past what it holds', () => {
  const leader = member(0, [0, 1, 2]);
  for (const from of [1, 2]) leader.m.onMessage({ type: 'canvass', from, logTermId: -1, logPosition: 0, candidateTermId: -1 }, 0);
  let t = 0;
  while (leader.m.electionState !== 'CANDIDATE_BALLOT') leader.m.doWork((t += 10) * MS);
  const term = leader.log.candidateTermId;
  leader.m.onMessage({ type: 'vote', from: 1, candidateTermId: term, logTermId: -1, logPosition: 0, granted: true }, t * MS);
  leader.m.onMessage({ type: 'vote', from: 2, candidateTermId: term, logTermId: -1, logPosition: 0, granted: true }, t * MS);
  assert.equal(leader.m.role, 'LEADER');
  assert.equal(leader.m.electionState, 'LEADER_READY');
  assert.equal(leader.m.offer(bytes(4)), null, 'no commands before a quorum joined the term');
  leader.m.onMessage({ type: 'appendPosition', from: 1, leadershipTermId: term, logPosition: 0 }, t * MS);
  leader.m.doWork((t += 10) * MS);
  assert.equal(leader.m.electionState, 'CLOSED');
  const position = leader.m.offer(bytes(4))!;
  leader.m.doWork((t += 10) * MS);
  assert.equal(leader.m.commitPosition, 0, 'nothing acknowledged yet');
  leader.m.onMessage({ type: 'appendPosition', from: 2, leadershipTermId: term - 1, logPosition: 10_000 }, t * MS);
  leader.m.doWork((t += 10) * MS);
  assert.equal(leader.m.commitPosition, 0, 'an acknowledgement of another term does not count');
  leader.m.onMessage({ type: 'appendPosition', from: 1, leadershipTermId: term, logPosition: position }, t * MS);
  leader.m.doWork((t += 10) * MS);
  assert.equal(leader.m.commitPosition, position, 'the term start, held by two of three');
  assert.deepEqual(leader.committed, [0]);

  const follower = member(1, [0, 1, 2]);
  follower.m.onMessage({ type: 'newLeadershipTerm', from: 0, logTermId: -1, nextTermId: term, nextTermBase: 0, nextLogPosition: leader.log.appendPosition, leadershipTermId: term, termBase: 0, logPosition: leader.log.appendPosition, commitPosition: 0 }, t * MS);
  assert.equal(follower.m.electionState, 'CLOSED', 'an empty log is a prefix of any: it joins the term at its base, 0');
  follower.m.onMessage({ type: 'logData', from: 0, leadershipTermId: term, termBase: 0, position: 0, entries: leader.log.entriesFrom(0, 1 << 20).slice(0, 1), commitPosition: 10_000 }, t * MS);
  assert.equal(follower.m.electionState, 'CLOSED');
  assert.equal(follower.m.commitPosition, follower.log.appendPosition, 'the leader says 10000, this member holds less');
  assert.equal(follower.committed.length, 1);
});

test('a member recovering from a snapshot starts with that position applied and committed, and refuses one that is not an entry end', () => {
  const log = new MemoryConsensusLog();
  log.joinTerm(0, 0);
  log.append(0, bytes(8));
  log.append(0, bytes(8));
  const committed: number[] = [];
  const recovering = new ConsensusMember(0, [0], log, { random: new SeededPrng(1), send: () => {}, onCommitted: (e) => committed.push(e.position) }, 0, {}, 64);
  assert.equal(recovering.appliedPosition, 64);
  recovering.doWork(MS);
  assert.deepEqual(committed, [64, 128], 'the entry after the snapshot and the new term start; not the one before');
  assert.throws(() => new ConsensusMember(0, [0, 1], log, { random: new SeededPrng(1), send: () => {} }, 0, {}, 41), /recovered position 41 is not an entry end/);
  assert.throws(() => new ConsensusMember(0, [0, 1], log, { random: new SeededPrng(1), send: () => {} }, 0, {}, 9999), /recovered position 9999/);
});

/** A follower of leader 0 in term 5 whose log holds term 1 from 0 and term 3 from 128 (entries of 64 bytes). */
function divergedFollower() {
  const log = new MemoryConsensusLog();
  log.joinTerm(1, 0);
  log.append(1, bytes(8));
  log.append(1, bytes(8));
  log.joinTerm(3, 128);
  log.append(3, bytes(8));
  log.append(3, bytes(8));
  log.candidateTermId = 4;
  return member(1, [0, 1, 2], log);
}

const nlt = (fields: { logTermId: number; nextTermId: number; nextTermBase: number; nextLogPosition: number; termBase: number }) => ({
  type: 'newLeadershipTerm' as const, from: 0, leadershipTermId: 5, logPosition: 1024, commitPosition: 0, ...fields,
});

test('catch-up: a follower drops its entries past where the leader\'s run of its log term ends, then asks for the rest from there', () => {
  const f = divergedFollower();
  // The leader's log: term 1 as the follower's, one entry of term 3, one of term 4, then its term 5 from 256.
  const leaderLog = new MemoryConsensusLog();
  leaderLog.joinTerm(1, 0);
  for (let i = 0; i < 2; i++) leaderLog.append(1, bytes(8));
  leaderLog.joinTerm(3, 128);
  leaderLog.append(3, bytes(8));
  leaderLog.joinTerm(4, 192);
  leaderLog.append(4, bytes(8));
  leaderLog.joinTerm(5, 256);
  leaderLog.append(5, bytes(8));
  f.m.onMessage(nlt({ logTermId: 3, nextTermId: 4, nextTermBase: 192, nextLogPosition: 256, termBase: 256 }), MS);
  assert.equal(f.log.appendPosition, 192, 'the second entry of term 3 is not the leader\'s');
  assert.equal(f.m.electionState, 'FOLLOWER_CATCHUP');
  assert.deepEqual(f.sent.at(-1), { to: 0, message: { type: 'catchupPosition', from: 1, leadershipTermId: 5, logPosition: 192 } });
  f.m.onMessage({ type: 'logData', from: 0, leadershipTermId: 5, termBase: 256, position: 192, entries: leaderLog.entriesFrom(192, 1 << 20), commitPosition: 320 }, MS);
  assert.equal(f.m.electionState, 'CLOSED', 'it holds the leader\'s log up to the term\'s base and joins');
  assert.deepEqual([f.log.termBase(4), f.log.termBase(5), f.log.appendPosition], [192, 256, 320]);
  assert.equal(f.m.commitPosition, 320);
});

test('catch-up: a follower whose log term the leader does not hold drops the whole term and reports its log again', () => {
  const f = divergedFollower();
  f.m.onMessage(nlt({ logTermId: 3, nextTermId: NULL_VALUE, nextTermBase: NULL_VALUE, nextLogPosition: NULL_VALUE, termBase: 128 }), MS);
  assert.equal(f.log.appendPosition, 128);
  assert.equal(f.log.logTermId, 1, 'term 3 is gone with its entries');
  assert.deepEqual(f.sent.at(-1), { to: 0, message: { type: 'canvass', from: 1, logTermId: 1, logPosition: 128, candidateTermId: 5 } });
  // The leader answers about term 1, whose run in its log ends where its term 5 begins: join at once.
  f.m.onMessage(nlt({ logTermId: 1, nextTermId: 5, nextTermBase: 128, nextLogPosition: 1024, termBase: 128 }), MS);
  assert.equal(f.m.electionState, 'CLOSED');
  assert.equal(f.sent.at(-1)?.message.type, 'appendPosition');
});

test('catch-up: an announcement about another log term than the follower\'s changes nothing but asks for one about its own', () => {
  const f = divergedFollower();
  f.m.onMessage(nlt({ logTermId: 1, nextTermId: 5, nextTermBase: 128, nextLogPosition: 1024, termBase: 128 }), MS);
  assert.equal(f.log.appendPosition, 256);
  assert.equal(f.m.electionState, 'FOLLOWER_CATCHUP');
  assert.deepEqual(f.sent.at(-1)?.message, { type: 'canvass', from: 1, logTermId: 3, logPosition: 256, candidateTermId: 5 });
  f.m.onMessage({ type: 'logData', from: 0, leadershipTermId: 5, termBase: 128, position: 256, entries: [], commitPosition: 0 }, MS);
  assert.equal(f.m.electionState, 'FOLLOWER_CATCHUP', 'log data is ignored until the logs are known to agree');
});

test('the leader describes each member\'s log term in its own log: where it ends, or that it does not hold it', () => {
  const log = new MemoryConsensusLog();
  log.joinTerm(0, 0);
  log.append(0, bytes(8));
  log.joinTerm(2, 64);
  log.append(2, bytes(8));
  const leader = member(0, [0, 1, 2], log);
  leader.m.onMessage({ type: 'canvass', from: 1, logTermId: 0, logPosition: 64, candidateTermId: 0 }, 0);
  leader.m.onMessage({ type: 'canvass', from: 2, logTermId: 1, logPosition: 100, candidateTermId: 1 }, 0);
  let t = 0;
  while (leader.m.electionState !== 'CANDIDATE_BALLOT' && t < 100_000) leader.m.doWork((t += 10) * MS);
  const term = leader.log.candidateTermId;
  leader.m.onMessage({ type: 'vote', from: 1, candidateTermId: term, logTermId: 0, logPosition: 64, granted: true }, t * MS);
  leader.m.onMessage({ type: 'vote', from: 2, candidateTermId: term, logTermId: 1, logPosition: 100, granted: true }, t * MS);
  assert.equal(leader.m.role, 'LEADER');
  leader.sent.length = 0;
  leader.m.doWork((t += 10) * MS);
  const to = (m: number) => leader.sent.find((s) => s.to === m && s.message.type === 'newLeadershipTerm')?.message;
  assert.deepEqual(to(1), { ...nlt({ logTermId: 0, nextTermId: 2, nextTermBase: 64, nextLogPosition: 128, termBase: 128 }), leadershipTermId: term, logPosition: 128 });
  assert.deepEqual(to(2), { ...nlt({ logTermId: 1, nextTermId: NULL_VALUE, nextTermBase: NULL_VALUE, nextLogPosition: NULL_VALUE, termBase: 128 }), leadershipTermId: term, logPosition: 128 });
});

test('a follower that misses part of the leader\'s stream says where its log ends and the leader streams again from there, without waiting for a heartbeat; a batch not taken is offered again', () => {
  type Node = { m: ConsensusMember; log: MemoryConsensusLog; inbox: ConsensusMessage[] };
  const nodes: Node[] = [];
  // What the network does with the next logData from the leader: deliver it, lose it, or not take it (back pressure).
  let nextLogData: 'deliver' | 'lose' | 'refuse' = 'deliver';
  let toLose = 0;
  let refused = 0;
  for (const id of [0, 1]) {
    const log = new MemoryConsensusLog();
    const node: Node = { m: undefined as unknown as ConsensusMember, log, inbox: [] };
    node.m = new ConsensusMember(id, [0, 1], log, {
      random: new SeededPrng(id + 7),
      send: (to, message) => {
        if (message.type === 'logData' && message.entries.length > 0 && nextLogData !== 'deliver') {
          const fate = nextLogData;
          if (fate === 'refuse' || --toLose === 0) nextLogData = 'deliver';
          if (fate === 'refuse') {
            refused++;
            return false;
          }
          return true;
        }
        nodes[to]!.inbox.push(message);
        return true;
      },
    }, 0);
    nodes.push(node);
  }
  let t = 0;
  const step = (ms: number): void => {
    t += ms;
    for (const n of nodes) {
      n.m.doWork(t * MS);
      for (const message of n.inbox.splice(0)) n.m.onMessage(message, t * MS);
    }
  };
  for (let i = 0; i < 2000 && !nodes.every((n) => n.m.electionState === 'CLOSED' && n.m.leaderId !== -1); i++) step(10);
  const leader = nodes.find((n) => n.m.role === 'LEADER')!;
  const follower = nodes.find((n) => n.m.role === 'FOLLOWER')!;
  assert.ok(leader !== undefined && follower !== undefined, 'a leader and a follower');
  step(1);
  assert.equal(follower.log.appendPosition, leader.log.appendPosition);

  // Lost: three batches of an 8 KB entry each, more than one batch (16 KB) can carry again. The
  // entry after them shows the gap; the follower reports it once.
  nextLogData = 'lose';
  toLose = 3;
  for (let i = 0; i < 3; i++) {
    leader.m.offer(bytes(8000));
    step(1);
  }
  assert.ok(follower.log.appendPosition < leader.log.appendPosition - 3 * 8000, 'the entries were lost on the way');
  leader.m.offer(bytes(40));
  for (let i = 0; i < 4; i++) step(1);
  assert.equal(follower.m.gapsReported, 1);
  assert.equal(follower.log.appendPosition, leader.log.appendPosition, 'caught up within 4 ms, where a heartbeat comes every 200 ms');
  step(1);
  assert.equal(leader.m.commitPosition, leader.log.appendPosition, 'committed once the follower acknowledged');

  // Not taken (back pressure): the same batch goes again on the next duty cycle; no gap at all.
  nextLogData = 'refuse';
  leader.m.offer(bytes(40));
  step(1);
  step(1);
  assert.equal(refused, 1);
  assert.equal(follower.log.appendPosition, leader.log.appendPosition);
  assert.equal(follower.m.gapsReported, 1, 'no gap: nothing was skipped');
});
