/**
 * The service container: commands applied once per (session, sequence) with the stored answer
 * sent again for a resend, egress only while leading, timers that fire from the log and not when
 * cancelled first, services refused the wall clock and random sources, unknown entries counted,
 * and the key-value reference service's answers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { LogEntry } from '../../../src/cluster/consensus/consensus-log.js';
import { ClusterAction, CloseReason, SessionMessageReader, decodeEntry, encodeClusterAction, encodeSessionClose, encodeSessionMessage, encodeSessionOpen, encodeTimerEvent } from '../../../src/cluster/service/cluster-entries.js';
import { ServiceContainer, type ClusteredService } from '../../../src/cluster/service/service-container.js';
import { KvService, decodeKv, decodeKvCommand, encodeKv, type KvAnswer, type KvCommand } from '../../../src/cluster/service/kv-service.js';
import fc from 'fast-check';

let position = 0;
function entry(data: Uint8Array): LogEntry {
  const e = { termId: 1, position, length: 32 + data.length, data };
  position += e.length;
  return e;
}

function kvContainer(recentAnswers?: number) {
  const sent: { sessionId: number; sequence: number; answer: KvAnswer }[] = [];
  const rejected: string[] = [];
  const container = new ServiceContainer({
    ...(recentAnswers === undefined ? {} : { recentAnswers }),
    service: new KvService(),
    egress: (sessionId, sequence, answer) => sent.push({ sessionId, sequence, answer: decodeKv<KvAnswer>(answer) }),
    reject: (sessionId, sequence, reason) => rejected.push(`${sessionId}/${sequence}: ${reason}`),
  });
  for (const id of [1, 3, 4, 9]) container.apply(entry(encodeSessionOpen(id, 1)));
  return { container, sent, rejected };
}

test('entries round-trip: session messages, timer events, and anything else is unknown', () => {
  const s = decodeEntry(encodeSessionMessage(7, 3, 1234, new Uint8Array([9, 8])));
  assert.deepEqual({ ...s, payload: s.kind === 'session' ? [...s.payload] : null }, { kind: 'session', sessionId: 7, sequence: 3, timestamp: 1234, payload: [9, 8] });
  assert.deepEqual(decodeEntry(encodeTimerEvent(5, 99)), { kind: 'timer', correlationId: 5, timestamp: 99 });
  assert.equal(decodeEntry(new Uint8Array([77])).kind, 'unknown');
  assert.equal(decodeEntry(new Uint8Array(0)).kind, 'unknown');
});

test('the session message reader reads what decodeEntry reads, in place, from entries sharing a buffer or not; anything else it leaves', () => {
  const reader = new SessionMessageReader();
  const payload = (data: Uint8Array): number[] => [...SessionMessageReader.payload(data)];
  // Entries cut from one slab share its buffer; a large one has a buffer of its own.
  const entries = [encodeSessionMessage(7, 3, 1234, new Uint8Array([9, 8])), encodeSessionMessage(2 ** 40, 2 ** 33, 1.7e12, new Uint8Array(0)), encodeSessionMessage(5, 1, 9, new Uint8Array(40_000).fill(6))];
  for (const data of entries) {
    const decoded = decodeEntry(data);
    assert.equal(decoded.kind, 'session');
    assert.equal(reader.wrap(data), true);
    if (decoded.kind !== 'session') continue;
    assert.deepEqual([reader.sessionId, reader.sequence, reader.timestamp, payload(data)], [decoded.sessionId, decoded.sequence, decoded.timestamp, [...decoded.payload]]);
  }
  for (const other of [encodeTimerEvent(5, 99), encodeSessionOpen(12, 5), encodeSessionMessage(4, 4, 4, new Uint8Array(0)).subarray(0, 24), new Uint8Array(0)]) {
    assert.equal(reader.wrap(other), false);
    assert.deepEqual([reader.sessionId, reader.sequence, reader.timestamp], [5, 1, 9], 'the fields of the last session message stay');
  }
});

test('exactly once: a resent command is not applied again; the last one is answered again with the stored answer, an earlier one from the session\'s recent answers while it is among them, else dropped', () => {
  const { container, sent } = kvContainer(4);
  container.setRole('LEADER');
  const cas = encodeKv({ op: 'cas', key: 'x', expected: null, value: 'a' });
  container.apply(entry(encodeSessionMessage(1, 1, 10, cas)));
  container.apply(entry(encodeSessionMessage(1, 1, 11, cas))); // resent after a leader change
  container.apply(entry(encodeSessionMessage(1, 2, 12, encodeKv({ op: 'get', key: 'x' }))));
  container.apply(entry(encodeSessionMessage(1, 1, 13, cas))); // an earlier one again: its own answer, not applied
  assert.deepEqual(sent, [
    { sessionId: 1, sequence: 1, answer: { ok: true } },
    { sessionId: 1, sequence: 1, answer: { ok: true } },
    { sessionId: 1, sequence: 2, answer: { value: 'a' } },
    { sessionId: 1, sequence: 1, answer: { ok: true } },
  ]);
  assert.deepEqual({ applied: container.stats.applied, again: container.stats.answeredAgain, dropped: container.stats.droppedOld }, { applied: 2, again: 2, dropped: 0 });
  assert.deepEqual(decodeKv<KvAnswer>(container.recentAnswer(1, 1)!), { ok: true });
  // Four answers kept: sequence 1 leaves when 5 is applied, and a copy of it is then dropped.
  for (let seq = 3; seq <= 5; seq++) container.apply(entry(encodeSessionMessage(1, seq, 13 + seq, encodeKv({ op: 'get', key: 'x' }))));
  assert.equal(container.recentAnswer(1, 1), undefined);
  assert.ok(container.recentAnswer(1, 2) !== undefined);
  sent.length = 0;
  container.apply(entry(encodeSessionMessage(1, 1, 20, cas)));
  assert.deepEqual(sent, []);
  assert.equal(container.stats.droppedOld, 1);
  assert.equal(container.lastSequence(1), 5);
  assert.equal(container.lastSequence(2), 0);
  // A closed session keeps its last answer only.
  container.apply(entry(encodeSessionClose(1, CloseReason.CLIENT_ACTION, 30)));
  assert.equal(container.recentAnswer(1, 4), undefined);
  assert.ok(container.lastAnswer(1) !== undefined);
  assert.throws(() => kvContainer(-1), /recentAnswers=-1 is invalid/);
});

test('stored answers are copies: a service answering through one buffer it rewrites gets each answer sent again intact; equal answers share one copy', () => {
  const scratch = new Uint8Array(1);
  const service: ClusteredService = {
    onSessionMessage: (_session, _time, payload) => {
      scratch[0] = payload[0]!;
      return scratch;
    },
  };
  const sent: { sequence: number; answer: number[] }[] = [];
  const container = new ServiceContainer({ service, recentAnswers: 4, egress: (_id, sequence, answer) => sent.push({ sequence, answer: [...answer] }) });
  container.setRole('LEADER');
  container.apply(entry(encodeSessionOpen(1, 1)));
  for (const [sequence, value] of [[1, 10], [2, 20], [3, 20], [4, 30]] as const) container.apply(entry(encodeSessionMessage(1, sequence, 2, new Uint8Array([value]))));
  assert.deepEqual([1, 2, 3, 4].map((q) => [...container.answerTo(1, q)!]), [[10], [20], [20], [30]], 'each answer as it was, though the service rewrote its buffer');
  assert.equal(container.answerTo(1, 2), container.answerTo(1, 3), 'an answer equal to the one before keeps that copy');
  assert.notEqual(container.answerTo(1, 4), scratch, 'never the service\'s own buffer');
  assert.deepEqual(sent.map((s) => s.answer[0]), [10, 20, 20, 30]);
});

test('egress only while leading; the replicated state is the same either way', () => {
  const leader = kvContainer();
  const follower = kvContainer();
  leader.container.setRole('LEADER');
  for (const c of [leader.container, follower.container]) {
    position = 0;
    c.apply(entry(encodeSessionMessage(4, 1, 10, encodeKv({ op: 'put', key: 'k', value: 'v' }))));
  }
  assert.equal(leader.sent.length, 1);
  assert.equal(follower.sent.length, 0);
  assert.equal(leader.container.digest(), follower.container.digest());
});

test('timers: scheduled by the service, fired by a timer event in the log once due, not fired when cancelled first', () => {
  const fired: number[] = [];
  const service: ClusteredService = {
    onSessionMessage(_s, _t, payload, cluster) {
      if (payload[0] === 1) cluster.scheduleTimer(payload[1]!, cluster.time + 100);
      else cluster.cancelTimer(payload[1]!);
      return new Uint8Array(0);
    },
    onTimerEvent(correlationId) {
      fired.push(correlationId);
    },
  };
  const container = new ServiceContainer({ service, egress: () => {} });
  container.apply(entry(encodeSessionOpen(1, 1000)));
  container.apply(entry(encodeSessionMessage(1, 1, 1000, new Uint8Array([1, 7]))));
  container.apply(entry(encodeSessionMessage(1, 2, 1000, new Uint8Array([1, 8]))));
  assert.deepEqual(container.dueTimers(1099), []);
  assert.deepEqual(container.dueTimers(1100), [7, 8]);
  container.apply(entry(encodeSessionMessage(1, 3, 1050, new Uint8Array([2, 8]))));
  container.apply(entry(encodeTimerEvent(7, 1100)));
  container.apply(entry(encodeTimerEvent(8, 1100)));
  container.apply(entry(encodeTimerEvent(7, 1101)));
  assert.deepEqual(fired, [7]);
  assert.equal(container.stats.timersFired, 1);
  assert.equal(container.stats.timerEventsIgnored, 2);
});

test('a service that reads the wall clock or a random source is refused (and the globals come back)', () => {
  for (const misuse of [() => Date.now(), () => performance.now(), () => Math.random()]) {
    const container = new ServiceContainer({
      service: { onSessionMessage: () => new Uint8Array([misuse() > 0 ? 1 : 0]) },
      egress: () => {},
      refuseNondeterminism: true,
    });
    container.apply(entry(encodeSessionOpen(1, 5)));
    assert.throws(() => container.apply(entry(encodeSessionMessage(1, 1, 5, new Uint8Array(0)))), /a clustered service called (Date\.now|performance\.now|Math\.random)\(\): services read time from the log/);
  }
  assert.ok(Date.now() > 0 && performance.now() >= 0 && Math.random() >= 0);
});

test('the key-value service: get, put, compare-and-set, and a clear answer for what it does not understand', () => {
  const { container, sent } = kvContainer();
  container.setRole('LEADER');
  let seq = 0;
  const run = (payload: Uint8Array) => container.apply(entry(encodeSessionMessage(9, ++seq, 1, payload)));
  run(encodeKv({ op: 'get', key: 'a' }));
  run(encodeKv({ op: 'put', key: 'a', value: '1' }));
  run(encodeKv({ op: 'cas', key: 'a', expected: '2', value: '3' }));
  run(encodeKv({ op: 'cas', key: 'a', expected: '1', value: '3' }));
  run(encodeKv({ op: 'get', key: 'a' }));
  run(new TextEncoder().encode('{"op":"drop"}'));
  run(new TextEncoder().encode('not json'));
  container.apply(entry(new Uint8Array([42])));
  assert.deepEqual(sent.map((s) => s.answer), [{ value: null }, { ok: true }, { ok: false }, { ok: true }, { value: '3' }, { error: 'unknown op "drop"' }, sent[6]!.answer]);
  assert.match(sent[6]!.answer.error ?? '', /^not a command/);
  assert.equal(container.stats.unknownEntries, 1);
});

test('the key-value service reads a command as JSON.parse does: puts of printable ASCII without JSON.parse, everything else through it, the same command either way', () => {
  const text = new TextEncoder();
  const same = (bytes: Uint8Array): void => {
    let expected: unknown;
    try {
      expected = JSON.parse(new TextDecoder().decode(bytes));
    } catch (error) {
      assert.throws(() => decodeKvCommand(bytes), { name: (error as Error).name });
      return;
    }
    assert.deepEqual(decodeKvCommand(bytes), expected);
    assert.deepEqual(Object.keys(decodeKvCommand(bytes)), Object.keys(expected as object));
  };
  // Keys and values from printable ASCII (the fast path), quotes, backslashes, controls and non-ASCII (JSON.parse).
  const chars = fc.oneof(fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), fc.constantFrom('"', '\\', '\n', '\u0000', '\u007f', 'é', '€', '😀', '\ud800'));
  const str = fc.array(chars, { maxLength: 40 }).map((a) => a.join(''));
  const command: fc.Arbitrary<KvCommand> = fc.oneof(
    fc.record({ op: fc.constant('put' as const), key: str, value: str }),
    fc.record({ op: fc.constant('get' as const), key: str }),
    fc.record({ op: fc.constant('cas' as const), key: str, expected: fc.option(str, { nil: null }), value: str }),
  );
  fc.assert(fc.property(command, (c) => same(encodeKv(c))), { numRuns: 2000, seed: 11 });
  // Bytes near a put that are not one: cut short, trailing bytes, other spacing, other key order, not JSON.
  const put = text.encode('{"op":"put","key":"k1","value":"v1"}');
  fc.assert(fc.property(fc.integer({ min: 0, max: put.length }), fc.uint8Array({ maxLength: 3 }), (cut, tail) => {
    const bytes = new Uint8Array(cut + tail.length);
    bytes.set(put.subarray(0, cut));
    bytes.set(tail, cut);
    same(bytes);
  }), { numRuns: 2000, seed: 12 });
  for (const raw of ['{"op":"put","key":"k1","value":"v1"} ', '{"op":"put", "key":"k1","value":"v1"}', '{"key":"k1","op":"put","value":"v1"}', '{"op":"put","key":"k1","value":"v1","x":1}', '{"op":"put","key":"k\\"1","value":"v1"}']) same(text.encode(raw));
  assert.deepEqual(decodeKvCommand(put), { op: 'put', key: 'k1', value: 'v1' });
});

test('snapshots: a SNAPSHOT action takes one at the position after it; a container started from it holds the same sessions, timers, time and service state', () => {
  const taken: { position: number; bytes: Uint8Array }[] = [];
  const first = new ServiceContainer({ service: new KvService(), egress: () => {}, onSnapshot: (p, bytes) => taken.push({ position: p, bytes }) });
  position = 0;
  first.apply(entry(encodeSessionOpen(3, 40)));
  first.apply(entry(encodeSessionOpen(4, 40)));
  first.apply(entry(encodeSessionMessage(3, 1, 50, encodeKv({ op: 'put', key: 'a', value: '1' }))));
  first.apply(entry(encodeSessionMessage(4, 7, 60, encodeKv({ op: 'put', key: 'b', value: '2' }))));
  const action = entry(encodeClusterAction(ClusterAction.SNAPSHOT, 70));
  first.apply(action);
  assert.equal(taken.length, 1);
  assert.equal(taken[0]!.position, action.position + action.length);
  assert.equal(first.stats.snapshotsTaken, 1);
  const sent: KvAnswer[] = [];
  const second = new ServiceContainer({ service: new KvService(), egress: (_s, _q, answer) => sent.push(decodeKv<KvAnswer>(answer)), snapshot: taken[0]! });
  assert.equal(second.digest(), first.digest());
  assert.equal(second.position, taken[0]!.position);
  second.setRole('LEADER');
  // A resend of a command applied before the snapshot is still answered from the table, not applied again.
  second.apply(entry(encodeSessionMessage(4, 7, 80, encodeKv({ op: 'put', key: 'b', value: 'X' }))));
  second.apply(entry(encodeSessionMessage(3, 2, 90, encodeKv({ op: 'get', key: 'b' }))));
  assert.deepEqual(sent, [{ ok: true }, { value: '2' }]);
  assert.throws(() => new ServiceContainer({ service: new KvService(), egress: () => {}, snapshot: { position: 0, bytes: new TextEncoder().encode('{"version":9}') } }), /has version 9; this container reads version 1/);
});

test('sessions: opened by the log, closed by it (client action or timeout) with a record kept: the last command is still answered, newer ones are rejected, as are unknown sessions', () => {
  const events: string[] = [];
  const service: ClusteredService = {
    onSessionOpen: (session, t) => void events.push(`open ${session.id} @${t}`),
    onSessionClose: (session, t, reason) => void events.push(`close ${session.id} @${t} reason ${reason}`),
    onSessionMessage: (_s, _t, payload) => payload,
  };
  const sent: string[] = [];
  const rejected: string[] = [];
  const c = new ServiceContainer({ service, egress: (id, seq) => sent.push(`${id}/${seq}`), reject: (id, seq, reason) => rejected.push(`${id}/${seq} ${reason}`) });
  c.setRole('LEADER');
  c.apply(entry(encodeSessionMessage(5, 1, 10, new Uint8Array([1]))));
  c.apply(entry(encodeSessionOpen(5, 11)));
  c.apply(entry(encodeSessionOpen(5, 12))); // appended twice by a leader: no second open
  c.apply(entry(encodeSessionMessage(5, 1, 13, new Uint8Array([1]))));
  c.apply(entry(encodeSessionClose(5, CloseReason.TIMEOUT, 14)));
  c.apply(entry(encodeSessionMessage(5, 1, 15, new Uint8Array([1])))); // the last command, resent after the close
  c.apply(entry(encodeSessionMessage(5, 2, 16, new Uint8Array([2]))));
  c.apply(entry(encodeSessionOpen(5, 17))); // never reopened
  c.apply(entry(encodeSessionMessage(5, 3, 18, new Uint8Array([3]))));
  assert.deepEqual(events, ['open 5 @11', 'close 5 @14 reason 2']);
  assert.deepEqual(sent, ['5/1', '5/1']);
  assert.deepEqual(rejected, ['5/1 the session is not open', '5/2 the session is closed', '5/3 the session is closed']);
  assert.deepEqual({ opened: c.stats.sessionsOpened, closed: c.stats.sessionsClosed, rejected: c.stats.rejected }, { opened: 1, closed: 1, rejected: 3 });
  assert.equal(c.isClosed(5), true);
  assert.equal(c.lastSequence(5), 1);
  assert.equal(decodeEntry(encodeSessionClose(5, CloseReason.CLIENT_ACTION, 3)).kind, 'close');
  assert.equal(decodeEntry(new Uint8Array(18).fill(5)).kind, 'unknown', 'a close reason out of range');
});

test('a session opened over the network carries where its client takes answers, through the log and a snapshot; sequence 0 is a command without one, never deduplicated', () => {
  const response = { channel: 'aeron:udp?endpoint=127.0.0.1:20121|mtu=1408', streamId: 102 };
  assert.deepEqual(decodeEntry(encodeSessionOpen(12, 5, response)), { kind: 'open', sessionId: 12, timestamp: 5, response });
  assert.deepEqual(decodeEntry(encodeSessionOpen(12, 5)), { kind: 'open', sessionId: 12, timestamp: 5 });
  assert.equal(decodeEntry(encodeSessionOpen(12, 5, response).subarray(0, 20)).kind, 'unknown', 'a cut open is not taken');
  const { container, sent } = kvContainer();
  container.apply(entry(encodeSessionOpen(12, 5, response)));
  assert.deepEqual(container.responseOf(12), response);
  assert.equal(container.responseOf(1), undefined, 'opened without one');
  assert.equal(container.highestSessionId(), 12);
  container.setRole('LEADER');
  // Without a sequence the same command applies each time it comes (a CAS succeeds, then fails).
  for (let i = 0; i < 2; i++) container.apply(entry(encodeSessionMessage(12, 0, 6, encodeKv({ op: 'cas', key: 'k', expected: null, value: 'v' }))));
  assert.deepEqual(sent.map((s) => [s.sequence, s.answer]), [[0, { ok: true }], [0, { ok: false }]]);
  const restored = new ServiceContainer({ service: new KvService(), egress: () => {}, snapshot: { position: 100, bytes: container.snapshot() } });
  assert.deepEqual(restored.responseOf(12), response);
  assert.equal(restored.responseOf(1), undefined);
  assert.equal(restored.digest(), container.digest());
});
