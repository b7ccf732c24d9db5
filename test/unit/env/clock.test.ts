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
  const startMs = performance.now();
  let last = startNs;
  for (let i = 0; i < 10_000; i++) {
    const now = systemNanoClock.nanoTime();
    assert.ok(Number.isInteger(now) && now >= last, `reading ${now} after ${last}`);
    last = now;
  }
  await new Promise((resolve) => setTimeout(resolve, 20));
  const elapsedNs = systemNanoClock.nanoTime() - startNs;
  const elapsedMs = performance.now() - startMs;
  // Both clocks read performance.now(): the two elapsed times agree to well under a millisecond.
  assert.ok(elapsedNs >= 20_000_000, `elapsed ${elapsedNs} ns after a 20 ms timer`);
  assert.ok(Math.abs(elapsedNs / 1e6 - elapsedMs) < 1, `elapsed ${elapsedNs} ns against ${elapsedMs} ms`);
});
