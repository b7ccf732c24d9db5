import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ADAPTIVE_SPIN_MISSES,
  ADAPTIVE_SPIN_PROBE_PERIODS,
  BackoffIdleStrategy,
  CONTENTION_HOLD_WINDOWS,
  CONTENTION_WINDOW_NS,
  DENSE_MIN_WORK_PER_GAP,
  SKEIN_IDLE_DEFAULTS,
  type CpuShareSource,
} from '../../../src/agent/idle-strategy.js';
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

/**
 * Drives a strategy as a runner would: idle turns 10 µs apart after work until the next work
 * starts `workAfterUs` after the last ended (a sleeping runner is woken for it), then a busy turn
 * of `workUs` (5 µs unless told). Says whether that idle period spun.
 */
function idlePeriod(idle: BackoffIdleStrategy, clock: { t: number }, workAfterUs: number, workUs = 5): 'spin' | 'no spin' {
  const workAtNs = clock.t + workAfterUs * US;
  let spun: boolean | null = null;
  let slept = false;
  while (!slept && clock.t + 10 * US <= workAtNs) {
    clock.t += 10 * US;
    const delayMs = idle.nextDelayMs(clock.t);
    spun ??= delayMs === 0;
    slept = delayMs > 0;
  }
  clock.t = workAtNs + workUs * US;
  idle.onWork(workAtNs, clock.t);
  return spun === true ? 'spin' : 'no spin';
}

/** A CPU-share source that reports no activity: the contention check never has enough to judge. */
function uncontended(): CpuShareSource {
  return { cpuUs: () => 0, activeUs: () => 0 };
}

/**
 * A CPU-share source driven by the test's clock: the event loop is active all the time (it spins
 * or works), and the process gets `share` of that as CPU time.
 */
class FakeShare implements CpuShareSource {
  share = 1;
  private cpu = 0;
  private active = 0;
  private lastNs = 0;
  constructor(private readonly clock: { t: number }) {}
  cpuUs(): number {
    this.advance();
    return this.cpu;
  }
  activeUs(): number {
    this.advance();
    return this.active;
  }
  private advance(): void {
    const us = (this.clock.t - this.lastNs) / US;
    this.lastNs = this.clock.t;
    this.active += us;
    this.cpu += us * this.share;
  }
}

/** Idle periods after which work came 5 ms later, enough in a row to turn adaptive spinning off. */
function missEnough(idle: BackoffIdleStrategy, clock: { t: number }): void {
  for (let i = 0; i < ADAPTIVE_SPIN_MISSES; i++) assert.equal(idlePeriod(idle, clock, 5000), 'spin');
  assert.equal(idle.spinning, false);
}

test(`adaptive spin: ${ADAPTIVE_SPIN_MISSES} spins in a row after which work did not start within twice spinUs turn spinning off`, () => {
  const idle = new BackoffIdleStrategy({ spinImmediates: 2, spinUs: 50, maxIdleMs: 8 });
  assert.equal(idle.adaptiveSpin, true, 'on by default');
  const clock = { t: 0 };
  idle.onWork(0, 0);
  assert.equal(idlePeriod(idle, clock, 30), 'spin', 'spins from the start; work 30 µs later: paid');
  for (let i = 0; i < ADAPTIVE_SPIN_MISSES - 1; i++) assert.equal(idlePeriod(idle, clock, 5000), 'spin');
  assert.equal(idle.spinning, true, `${ADAPTIVE_SPIN_MISSES - 1} in a row are not enough`);
  assert.equal(idlePeriod(idle, clock, 90), 'spin', 'work 90 µs after: the spin (50 µs) missed it by little, which still pays');
  for (let i = 0; i < ADAPTIVE_SPIN_MISSES - 1; i++) assert.equal(idlePeriod(idle, clock, 5000), 'spin');
  assert.equal(idle.spinning, true, 'the count started over');
  assert.equal(idlePeriod(idle, clock, 5000), 'spin');
  assert.equal(idle.spinning, false, `${ADAPTIVE_SPIN_MISSES} in a row that did not pay`);
  assert.equal(idlePeriod(idle, clock, 30), 'no spin', 'even when work comes back quickly: only a spin can tell');
  idle.reset();
  assert.equal(idle.nextDelayMs(clock.t + 10 * US), 1, 'a wake-up does not bring the spin back');
});

test(`adaptive spin: while off, one idle period in ${ADAPTIVE_SPIN_PROBE_PERIODS} spins; one that pays turns spinning on`, () => {
  const idle = new BackoffIdleStrategy({ spinImmediates: 2, spinUs: 50, maxIdleMs: 8 });
  const clock = { t: 0 };
  idle.onWork(0, 0);
  missEnough(idle, clock);
  const outcomes = Array.from({ length: 2 * ADAPTIVE_SPIN_PROBE_PERIODS }, () => idlePeriod(idle, clock, 5000));
  const probes = outcomes.flatMap((outcome, i) => (outcome === 'spin' ? [i] : []));
  assert.deepEqual(probes, [ADAPTIVE_SPIN_PROBE_PERIODS - 1, 2 * ADAPTIVE_SPIN_PROBE_PERIODS - 1], 'one idle period in 8 spins (and these did not pay)');
  while (!idle.spinning) idlePeriod(idle, clock, 5000);
  assert.equal(idlePeriod(idle, clock, 20), 'spin', 'a probe, and this one pays');
  assert.equal(idle.spinning, true);
  assert.equal(idlePeriod(idle, clock, 5000), 'spin', 'spinning again');
});

test('adaptive spin: busy turns back to back (no idle turn between) teach nothing', () => {
  const idle = new BackoffIdleStrategy({ spinUs: 50 });
  const clock = { t: 0 };
  idle.onWork(0, 0);
  missEnough(idle, clock);
  for (let i = 0; i < 3 * ADAPTIVE_SPIN_PROBE_PERIODS; i++) idle.onWork(clock.t, (clock.t += 10 * US));
  assert.equal(idle.spinning, false, 'no idle period ended, so no probe is due');
});

test('without spinUs, or with adaptiveSpin false, every idle period after work spins', () => {
  for (const options of [{ spinImmediates: 2 }, { spinImmediates: 2, spinUs: 50, adaptiveSpin: false }]) {
    const idle = new BackoffIdleStrategy(options);
    const clock = { t: 0 };
    idle.onWork(0, 0);
    for (let i = 0; i < 2 * ADAPTIVE_SPIN_MISSES; i++) assert.equal(idlePeriod(idle, clock, 10_000), 'spin', JSON.stringify(options));
    assert.equal(idle.spinning, true);
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

test('denseSpin: dense traffic (work back within 500 µs on average) stretches the spin to twice the usual gap, sparse traffic does not; off by default', () => {
  const plain = new BackoffIdleStrategy({ spinImmediates: 2, spinUs: 50, maxIdleMs: 8 }, uncontended());
  const c0 = { t: 0 };
  plain.onWork(0, 0);
  for (let i = 0; i < 20; i++) idlePeriod(plain, c0, 150, 60);
  assert.equal(plain.denseSpin, false);
  assert.equal(plain.currentSpinNs, 50 * US, 'off by default: the spin stays spinUs');
  assert.equal(plain.spinning, false, 'and 150 µs gaps switch it off as before');
  const idle = new BackoffIdleStrategy({ spinImmediates: 2, spinUs: 50, maxIdleMs: 8, denseSpin: true }, uncontended());
  const clock = { t: 0 };
  idle.onWork(0, 0);
  // Bursts 150 µs apart (many requests in flight): the 50 µs spin would miss every one.
  for (let i = 0; i < 20; i++) assert.equal(idlePeriod(idle, clock, 150, 60), 'spin', `period ${i}`);
  assert.equal(idle.spinning, true, 'the stretched spin catches them, so spinning pays');
  assert.ok(idle.currentSpinNs >= 280 * US && idle.currentSpinNs <= 300 * US, `spin ${idle.currentSpinNs} ns: twice the smoothed gap`);
  // Traffic thins out to 5 ms gaps: the smoothed gap leaves the dense range and the spin is back to spinUs, then off.
  for (let i = 0; i < 30; i++) idlePeriod(idle, clock, 5000);
  assert.equal(idle.currentSpinNs, 50 * US);
  assert.equal(idle.spinning, false);
  // Never past the dense bound, whatever the gap inside it.
  const near = new BackoffIdleStrategy({ spinUs: 50, denseSpin: true }, uncontended());
  const c2 = { t: 0 };
  near.onWork(0, 0);
  for (let i = 0; i < 40; i++) idlePeriod(near, c2, 450, 200);
  assert.ok(near.currentSpinNs <= 500 * US, `spin ${near.currentSpinNs} ns`);
  assert.throws(() => new BackoffIdleStrategy({ denseSpin: 'yes' as unknown as boolean }), /idle\.denseSpin=yes is invalid/);
});

test('denseSpin: the stretch is held back while the process gets too little of its active time as CPU time (more busy processes than cores), and comes back after a hold', () => {
  const clock = { t: 0 };
  const share = new FakeShare(clock);
  const idle = new BackoffIdleStrategy({ spinImmediates: 2, spinUs: 50, maxIdleMs: 8, denseSpin: true }, share);
  idle.onWork(0, 0);
  const runFor = (ms: number): void => {
    const until = clock.t + ms * 1_000_000;
    while (clock.t < until) idlePeriod(idle, clock, 150, 60);
  };
  const windowMs = CONTENTION_WINDOW_NS / 1_000_000;
  runFor(3 * windowMs);
  assert.equal(idle.contended, false);
  assert.ok(idle.currentSpinNs >= 280 * US, `uncontended: stretched to ${idle.currentSpinNs} ns`);
  // One window at a low share is smoothed away (the OS ran something else for a moment).
  share.share = 0.5;
  runFor(windowMs);
  share.share = 1;
  runFor(windowMs);
  assert.equal(idle.contended, false, 'a single short window does not count');
  assert.ok(idle.currentSpinNs >= 280 * US);
  // Half of the active time as CPU time, window after window: contended, the spin is back to spinUs.
  share.share = 0.5;
  runFor(4 * windowMs);
  assert.equal(idle.contended, true);
  assert.equal(idle.currentSpinNs, 50 * US, 'no stretch while contended');
  // The CPU frees up: the stretch stays held back for the hold, then returns.
  share.share = 1;
  runFor((CONTENTION_HOLD_WINDOWS - 6) * windowMs);
  assert.equal(idle.contended, true, 'still held back');
  runFor(12 * windowMs);
  assert.equal(idle.contended, false, 'the hold is over');
  assert.ok(idle.currentSpinNs >= 280 * US);
  // Contended again soon after a hold ended (the stretch brought it back): the next hold is twice as long.
  share.share = 0.5;
  runFor(4 * windowMs);
  assert.equal(idle.contended, true);
  share.share = 1;
  runFor((CONTENTION_HOLD_WINDOWS + 6) * windowMs);
  assert.equal(idle.contended, true, 'a hold longer than the first one');
  assert.equal(idle.currentSpinNs, 50 * US);
  runFor((CONTENTION_HOLD_WINDOWS + 6) * windowMs);
  assert.equal(idle.contended, false, 'and over within twice the first');
});

test("Skein's runners stretch their spins under dense traffic by default", () => {
  assert.equal(SKEIN_IDLE_DEFAULTS.denseSpin, true);
  assert.equal(SKEIN_IDLE_DEFAULTS.adaptiveSpin, true);
  assert.equal(new BackoffIdleStrategy(SKEIN_IDLE_DEFAULTS).denseSpin, true);
});

test(`denseSpin: light work between dense idle periods (less than a ${DENSE_MIN_WORK_PER_GAP}rd of the gap) is not stretched: a light consumer of a steady stream still sleeps`, () => {
  const idle = new BackoffIdleStrategy({ spinImmediates: 2, spinUs: 50, maxIdleMs: 8, denseSpin: true }, uncontended());
  const clock = { t: 0 };
  idle.onWork(0, 0);
  // A message every 200 µs, 5 µs of work each (5,000 a second).
  for (let i = 0; i < 40; i++) idlePeriod(idle, clock, 200, 5);
  assert.equal(idle.currentSpinNs, 50 * US, 'the spin stays spinUs');
  assert.equal(idle.spinning, false, 'and, not paying, adaptive spinning turns it off');
  // The same gaps with 80 µs of work each: dense work, stretched.
  for (let i = 0; i < 40; i++) idlePeriod(idle, clock, 200, 80);
  assert.ok(idle.currentSpinNs >= 380 * US, `stretched to ${idle.currentSpinNs} ns`);
});
