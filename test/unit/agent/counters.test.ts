import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AtomicCounter, CountersManager, Position } from '../../../src/agent/counters.js';
import { CounterTypeId, SystemCounterId, SystemCounters, SYSTEM_COUNTER_IDS, SYSTEM_COUNTER_LABELS } from '../../../src/agent/counter-types.js';
import type { EpochClock } from '../../../src/env/clock.js';
import { ErrorCode, SkeinError } from '../../../src/util/errors.js';

test('allocates counters with labels, types and keys; values live in a SharedArrayBuffer', () => {
  const counters = new CountersManager({ capacity: 8 });
  assert.ok(counters.values.buffer instanceof SharedArrayBuffer);
  const a = counters.allocate(CounterTypeId.SENDER_POSITION, 'snd-pos: 1 2 aeron:udp', { sessionId: 1, streamId: 2, channel: 'aeron:udp' });
  const b = counters.allocate(CounterTypeId.SYSTEM, 'Bytes sent');
  assert.deepEqual([a, b], [0, 1]);
  assert.equal(counters.allocatedCount, 2);
  assert.equal(counters.label(a), 'snd-pos: 1 2 aeron:udp');
  assert.equal(counters.typeId(a), CounterTypeId.SENDER_POSITION);
  assert.deepEqual(counters.key(a), { sessionId: 1, streamId: 2, channel: 'aeron:udp' });
  counters.set(a, 2 ** 53 - 1);
  counters.add(b, 5);
  counters.add(b, 7);
  assert.equal(counters.get(a), 2 ** 53 - 1);
  assert.equal(counters.values[b], 12);
  const seen: Array<[number, number, number, string]> = [];
  counters.forEach((id, typeId, value, label) => seen.push([id, typeId, value, label]));
  assert.deepEqual(seen, [
    [0, CounterTypeId.SENDER_POSITION, 2 ** 53 - 1, 'snd-pos: 1 2 aeron:udp'],
    [1, CounterTypeId.SYSTEM, 12, 'Bytes sent'],
  ]);
  assert.equal(counters.find(CounterTypeId.SYSTEM), 1);
  assert.equal(counters.find(CounterTypeId.RECEIVER_HWM), -1);
});

test('freed ids are reused oldest first, with value and metadata reset; free is idempotent', () => {
  const counters = new CountersManager({ capacity: 4 });
  const ids = [0, 1, 2].map((i) => counters.allocate(1, `c${i}`));
  counters.set(1, 99);
  counters.free(1);
  counters.free(1);
  counters.free(0);
  assert.equal(counters.allocatedCount, 1);
  assert.equal(counters.isAllocated(1), false);
  assert.equal(counters.get(1), 0);
  assert.equal(counters.allocate(2, 'reuse-a'), 1);
  assert.equal(counters.allocate(2, 'reuse-b'), 0);
  assert.equal(counters.allocate(2, 'fresh'), 3);
  assert.equal(counters.label(1), 'reuse-a');
  assert.deepEqual(ids, [0, 1, 2]);
});

test('allocating past capacity throws ERR_SKEIN_COUNTERS_FULL naming the capacity', () => {
  const counters = new CountersManager({ capacity: 2 });
  counters.allocate(0, 'a');
  counters.allocate(0, 'b');
  assert.throws(
    () => counters.allocate(0, 'c'),
    (e: unknown) => e instanceof SkeinError && e.code === ErrorCode.COUNTERS_FULL && /capacity=2/.test(e.message) && /'c'/.test(e.message),
  );
  counters.free(0);
  assert.equal(counters.allocate(0, 'c'), 0);
});

test('with a free-to-reuse timeout, freed ids wait before being handed out again', () => {
  let nowMs = 1_000;
  const clock: EpochClock = { epochMs: () => nowMs };
  const counters = new CountersManager({ capacity: 2, epochClock: clock, freeToReuseTimeoutMs: 500 });
  counters.allocate(0, 'a');
  counters.free(0);
  assert.equal(counters.allocate(0, 'b'), 1, 'the freed id is not reusable yet');
  assert.throws(() => counters.allocate(0, 'c'), (e: unknown) => e instanceof SkeinError && e.code === ErrorCode.COUNTERS_FULL);
  nowMs += 500;
  assert.equal(counters.allocate(0, 'c'), 0);
});

test('bad arguments are rejected', () => {
  assert.throws(() => new CountersManager({ capacity: 0 }), (e: unknown) => e instanceof SkeinError && e.code === ErrorCode.CONFIG_INVALID);
  const counters = new CountersManager({ capacity: 2 });
  assert.throws(() => counters.allocate(1.5, 'x'), (e: unknown) => e instanceof SkeinError && e.code === ErrorCode.ARG_INVALID);
  assert.throws(() => counters.free(2), (e: unknown) => e instanceof SkeinError && /\[0, 1\]/.test(e.message));
  assert.throws(() => new AtomicCounter(counters, 0), (e: unknown) => e instanceof SkeinError && /not allocated/.test(e.message));
  assert.equal(counters.label(0), '');
  assert.equal(counters.allocate(0, 'x'.repeat(500)) >= 0, true);
  assert.equal(counters.label(0).length, 380);
});

test('AtomicCounter updates its slot and detaches on close', () => {
  const counters = new CountersManager({ capacity: 2 });
  const counter = new AtomicCounter(counters, counters.allocate(0, 'errors'));
  counter.increment();
  counter.add(4);
  assert.equal(counter.get(), 5);
  counter.set(10);
  assert.equal(counters.get(counter.id), 10);
  counter.close();
  counter.close();
  assert.equal(counter.isClosed, true);
  assert.equal(counters.isAllocated(counter.id), false);
  const reused = counters.allocate(0, 'new owner');
  assert.equal(reused, counter.id);
  counter.increment();
  assert.equal(counters.get(reused), 0, 'a closed handle cannot touch the new owner');
  assert.equal(counter.get(), 11);
});

test('Position only moves forward through proposeMax', () => {
  const counters = new CountersManager({ capacity: 1 });
  const position = new Position(counters, counters.allocate(CounterTypeId.SUBSCRIBER_POSITION, 'sub-pos'));
  assert.equal(position.proposeMax(100), true);
  assert.equal(position.proposeMax(50), false);
  assert.equal(position.proposeMax(100), false);
  assert.equal(position.get(), 100);
  position.setOrdered(2 ** 40);
  assert.equal(position.get(), 2 ** 40);
});

test('SystemCounters allocates one counter per id with Aeron-compatible ids and labels', () => {
  const counters = new CountersManager({ capacity: 128 });
  const system = new SystemCounters(counters);
  assert.equal(counters.allocatedCount, SYSTEM_COUNTER_IDS.length);
  assert.equal(SystemCounterId.BYTES_SENT, 0);
  assert.equal(SystemCounterId.ERRORS, 15);
  assert.equal(SystemCounterId.ERROR_FRAMES_RECEIVED, 38);
  assert.equal(SystemCounterId.CLIENT_TIMEOUTS, 24);
  assert.equal(SystemCounterId.CONDUCTOR_MAX_CYCLE_TIME, 26);
  assert.equal(CounterTypeId.SENDER_LIMIT, 9);
  assert.equal(CounterTypeId.RECEIVER_POSITION, 5);
  const bytes = system.get(SystemCounterId.BYTES_SENT);
  bytes.add(1500);
  assert.equal(counters.get(bytes.id), 1500);
  assert.equal(counters.label(bytes.id), 'Bytes sent');
  assert.equal(counters.typeId(bytes.id), CounterTypeId.SYSTEM);
  assert.deepEqual(counters.key(bytes.id), { registrationId: SystemCounterId.BYTES_SENT });
  const nak = system.get(SystemCounterId.NAK_MESSAGES_RECEIVED);
  assert.equal(counters.label(nak.id), SYSTEM_COUNTER_LABELS[SystemCounterId.NAK_MESSAGES_RECEIVED]);
  assert.equal(new Set(SYSTEM_COUNTER_IDS).size, SYSTEM_COUNTER_IDS.length, 'ids are distinct');
  system.close();
  system.close();
  assert.equal(counters.allocatedCount, 0);
});
