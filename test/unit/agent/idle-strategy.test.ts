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
  idle.onWork(workNs - 5 * US, workNs);
  // Many idle turns inside the 50 µs after the work: all spins.
  for (let t = 0; t < 49; t++) assert.equal(idle.nextDelayMs(workNs + t * US), 0, `turn at ${t} µs`);
  // Past it: the sleeps start at 1 ms.
  assert.equal(idle.nextDelayMs(workNs + 50 * US), 1);
  assert.equal(idle.nextDelayMs(workNs + 2000 * US), 2);
  // A reset (a wake-up) restarts the count-based spins only.
  idle.reset();
  assert.equal(idle.nextDelayMs(workNs + 3000 * US), 0);
  assert.equal(idle.nextDelayMs(workNs + 3001 * US), 1);
});

test('adaptive spin: a wait for work longer than spinUs turns the spin off, a short one turns it on', () => {
  const idle = new BackoffIdleStrategy({ spinImmediates: 2, spinUs: 50, maxIdleMs: 8 });
  assert.equal(idle.adaptiveSpin, true, 'on by default');
  let t = 0;
  const work = (waitUs: number): number[] => {
    t += waitUs * US;
    idle.onWork(t, t + US);
    t += US;
    const delays: number[] = [];
    // Idle turns 10 µs apart until the first sleep.
    for (let delay = -1; delay !== 1; t += 10 * US) delays.push((delay = idle.nextDelayMs(t)));
    return delays;
  };
  assert.deepEqual(work(0), [0, 0, 0, 0, 0, 1], 'no wait measured yet: spins 2 turns and 50 µs');
  assert.equal(idle.spinning, true);
  assert.deepEqual(work(5000), [1], 'the work came 5 ms after the last: no spin');
  assert.equal(idle.spinning, false);
  idle.reset();
  assert.equal(idle.nextDelayMs(t), 1, 'a wake-up does not bring the spin back');
  assert.deepEqual(work(30), [0, 0, 0, 0, 0, 1], 'the work came 30 µs after the last: spins again');
});

test('adaptive spin: busy turns back to back (no idle turn between) measure no wait', () => {
  const idle = new BackoffIdleStrategy({ spinUs: 50 });
  idle.onWork(0, US);
  idle.nextDelayMs(2 * US);
  idle.onWork(10_000 * US, 10_001 * US);
  assert.equal(idle.spinning, false, 'a 10 ms wait');
  idle.onWork(10_002 * US, 10_003 * US);
  assert.equal(idle.spinning, false, 'no idle turn since the last work: still off');
  idle.nextDelayMs(10_004 * US);
  idle.onWork(10_010 * US, 10_011 * US);
  assert.equal(idle.spinning, true, 'a 7 µs wait');
});

test('without spinUs, or with adaptiveSpin false, every idle period after work spins', () => {
  for (const options of [{ spinImmediates: 2 }, { spinImmediates: 2, spinUs: 50, adaptiveSpin: false }]) {
    const idle = new BackoffIdleStrategy(options);
    let t = 0;
    for (let i = 0; i < 3; i++) {
      t += 10_000 * US;
      idle.onWork(t, t + US);
      assert.equal(idle.nextDelayMs(t + 2 * US), 0, JSON.stringify(options));
      assert.equal(idle.spinning, true);
    }
  }
  assert.throws(
    () => new BackoffIdleStrategy({ adaptiveSpin: 'yes' as unknown as boolean }),
    (error: unknown) => error instanceof SkeinError && error.message.includes('idle.adaptiveSpin=yes'),
  );
});

test('spinUs outside 0..1000000 is refused naming the value', () => {
  for (const spinUs of [-1, 1.5, 1_000_001]) {
    assert.throws(() => new BackoffIdleStrategy({ spinUs }), (error: unknown) => error instanceof SkeinError && error.message.includes(`idle.spinUs=${spinUs}`));
  }
});
