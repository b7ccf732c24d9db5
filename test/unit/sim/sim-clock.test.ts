import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_SIM_EPOCH_OFFSET_MS, SimClock } from '../../../src/sim/sim-clock.js';
import { ErrorCode, SkeinError } from '../../../src/util/errors.js';

test('SimClock moves only when told, and both views follow one count', () => {
  const clock = new SimClock(5_000);
  assert.equal(clock.nanoTime(), 5_000);
  assert.equal(clock.epochMs(), DEFAULT_SIM_EPOCH_OFFSET_MS);
  clock.advance(2_500_000);
  assert.equal(clock.nanoTime(), 2_505_000);
  assert.equal(clock.epochMs(), DEFAULT_SIM_EPOCH_OFFSET_MS + 2);
  clock.set(3_000_000_000);
  assert.equal(clock.epochMs(), DEFAULT_SIM_EPOCH_OFFSET_MS + 3000);
  assert.equal(new SimClock(0, 0).epochMs(), 0);
});

test('SimClock refuses to go back or take non-integer steps', () => {
  const clock = new SimClock(100);
  const isArgInvalid = (e: unknown): boolean => e instanceof SkeinError && e.code === ErrorCode.ARG_INVALID;
  assert.throws(() => clock.set(99), (e: unknown) => isArgInvalid(e) && /from 100 ns to 99 ns/.test((e as Error).message));
  assert.throws(() => clock.advance(-1), isArgInvalid);
  assert.throws(() => clock.advance(0.5), isArgInvalid);
  assert.throws(() => new SimClock(-1), isArgInvalid);
  clock.advance(0);
  assert.equal(clock.nanoTime(), 100);
});
