import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DistinctErrorLog } from '../../../src/agent/distinct-error-log.js';
import type { EpochClock } from '../../../src/env/clock.js';
import { ErrorCode, SkeinError } from '../../../src/util/errors.js';

function fromSite(message: string): Error {
  return new SkeinError(ErrorCode.DRIVER_TIMEOUT, message);
}

function fromOtherSite(message: string): Error {
  return new SkeinError(ErrorCode.DRIVER_TIMEOUT, message);
}

test('the same error seen again is counted, not stored again', () => {
  let nowMs = 100;
  const clock: EpochClock = { epochMs: () => nowMs };
  const log = new DistinctErrorLog(clock);
  for (let i = 0; i < 3; i++) {
    assert.equal(log.record(fromSite('no reply')), true);
    nowMs += 10;
  }
  const entries = log.entries();
  assert.equal(entries.length, 1);
  assert.deepEqual(
    { ...entries[0], stack: undefined },
    { observationCount: 3, firstObservationMs: 100, lastObservationMs: 120, code: ErrorCode.DRIVER_TIMEOUT, message: 'no reply', stack: undefined },
  );
  assert.match(entries[0]?.stack ?? '', /fromSite/);
});

test('errors differ by code or name, message and first stack frame', () => {
  const log = new DistinctErrorLog({ epochMs: () => 0 });
  log.record(fromSite('a'));
  log.record(fromSite('b'));
  log.record(fromOtherSite('a'));
  log.record(new SkeinError(ErrorCode.CLOSED, 'a'));
  log.record(new TypeError('a'));
  log.record(new RangeError('a'));
  log.record('a plain string');
  log.record('a plain string');
  log.record(42);
  assert.equal(log.distinctCount, 8);
  const strings = log.entries().filter((e) => e.message === 'a plain string');
  assert.equal(strings.length, 1);
  assert.equal(strings[0]?.observationCount, 2);
  assert.equal(strings[0]?.code, undefined);
  const systemError = Object.assign(new Error('bind failed'), { code: 'EADDRINUSE' });
  log.record(systemError);
  assert.equal(log.entries().at(-1)?.code, 'EADDRINUSE');
});

test('capacity bounds the distinct entries; known errors keep counting; overflow is counted', () => {
  const log = new DistinctErrorLog({ epochMs: () => 0 }, 2);
  const make = (message: string): Error => new Error(message); // one call site: one first frame
  assert.equal(log.record(make('one')), true);
  assert.equal(log.record(make('two')), true);
  assert.equal(log.record(make('three')), false);
  assert.equal(log.record(make('four')), false);
  assert.equal(log.record(make('one')), true);
  assert.equal(log.distinctCount, 2);
  assert.equal(log.overflowCount, 2);
  assert.equal(log.observationCount, 5);
  assert.deepEqual(log.entries().map((e) => [e.message, e.observationCount]), [['one', 2], ['two', 1]]);
});

test('entries() returns copies', () => {
  const log = new DistinctErrorLog({ epochMs: () => 0 });
  log.record(new Error('x'));
  const [entry] = log.entries();
  (entry as { observationCount: number }).observationCount = 99;
  assert.equal(log.entries()[0]?.observationCount, 1);
  assert.throws(() => new DistinctErrorLog({ epochMs: () => 0 }, 0), (e: unknown) => e instanceof SkeinError && e.code === ErrorCode.CONFIG_INVALID);
});
