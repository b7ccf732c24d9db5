import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BackoffIdleStrategy } from '../../../src/agent/idle-strategy.js';
import { SkeinError } from '../../../src/util/errors.js';

const US = 1000;

test('spins for spinImmediates turns, then sleeps 1, 2, 4 … ms up to maxIdleMs', () => {
  const idle = new BackoffIdleStrategy({ spinImmediates: 2, maxIdleMs: 4 });
  assert.deepEqual([0, 1, 2, 3, 4, 5].map(() => idle.nextDelayMs()), [0, 0, 1, 2, 4, 4]);
  idle.reset();
  assert.equal(idle.nextDelayMs(), 0);
});

test('after work, keeps spinning for spinUs however many turns that takes, then backs off', () => {
  const idle = new BackoffIdleStrategy({ spinImmediates: 1, spinUs: 50, maxIdleMs: 8 });
  const workNs = 1_000_000;
  idle.reset(workNs);
  // Many idle turns inside the 50 µs after the work: all spins.
  for (let t = 0; t < 49; t++) assert.equal(idle.nextDelayMs(workNs + t * US), 0, `turn at ${t} µs`);
  // Past it: the sleeps start at 1 ms.
  assert.equal(idle.nextDelayMs(workNs + 50 * US), 1);
  assert.equal(idle.nextDelayMs(workNs + 2000 * US), 2);
  // A reset without a time (a wake-up) restarts the count-based spins only.
  idle.reset();
  assert.equal(idle.nextDelayMs(workNs + 3000 * US), 0);
  assert.equal(idle.nextDelayMs(workNs + 3001 * US), 1);
});

test('spinUs outside 0..1000000 is refused naming the value', () => {
  for (const spinUs of [-1, 1.5, 1_000_001]) {
    assert.throws(() => new BackoffIdleStrategy({ spinUs }), (error: unknown) => error instanceof SkeinError && error.message.includes(`idle.spinUs=${spinUs}`));
  }
});
