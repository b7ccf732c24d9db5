import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SYSTEM_NANO_CLOCK_ORIGIN_NS, systemNanoClock } from '../../../src/env/clock.js';

test('systemNanoClock reads beyond 2^32 ns from a process start, so no reading is a small integer to V8', () => {
  const first = systemNanoClock.nanoTime();
  assert.ok(first >= SYSTEM_NANO_CLOCK_ORIGIN_NS, `first reading ${first} is below the origin ${SYSTEM_NANO_CLOCK_ORIGIN_NS}`);
  assert.ok(first > 2 ** 32, `first reading ${first} fits 32 bits`);
  assert.ok(Number.isSafeInteger(first), `first reading ${first} is not a safe integer`);
});

test('systemNanoClock is monotonic, in integer ns, and follows performance.now()', async () => {
  const startNs = systemNanoClock.nanoTime();
  let last = startNs;
  for (let i = 0; i < 10_000; i++) {
    const now = systemNanoClock.nanoTime();
    assert.ok(Number.isInteger(now) && now >= last, `reading ${now} after ${last}`);
    last = now;
  }
  await new Promise((resolve) => setTimeout(resolve, 20));
  // A reading lies between performance.now() read just before and just after it: a process
  // descheduled between the readings widens the bracket instead of failing the check (comparing
  // two elapsed times, each read at a different moment, failed on a busy machine by 1.3 ms).
  const beforeMs = performance.now();
  const endNs = systemNanoClock.nanoTime();
  const afterMs = performance.now();
  assert.ok(endNs - startNs >= 20_000_000, `elapsed ${endNs - startNs} ns after a 20 ms timer`);
  const lowest = SYSTEM_NANO_CLOCK_ORIGIN_NS + Math.round(beforeMs * 1_000_000);
  const highest = SYSTEM_NANO_CLOCK_ORIGIN_NS + Math.round(afterMs * 1_000_000);
  assert.ok(endNs >= lowest && endNs <= highest, `reading ${endNs} outside [${lowest}, ${highest}] from performance.now() ${beforeMs} and ${afterMs} ms`);
});
