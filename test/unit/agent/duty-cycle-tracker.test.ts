import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Agent } from '../../../src/agent/agent.js';
import { CompositeAgent } from '../../../src/agent/agent.js';
import { AtomicCounter, CountersManager } from '../../../src/agent/counters.js';
import { DutyCycleTracker, type DutyCycleCounters } from '../../../src/agent/duty-cycle-tracker.js';

/** A clock the agents under test move forward while they "work". */
class ManualClock {
  nowNs = 1_000;
  reads = 0;
  nanoTime(): number {
    this.reads++;
    return this.nowNs;
  }
}

function dutyCycleCounters(manager: CountersManager, name: string): DutyCycleCounters {
  const counter = (label: string): AtomicCounter => new AtomicCounter(manager, manager.allocate(0, `${name} ${label}`));
  return { cycles: counter('cycles'), maxCycleTimeNs: counter('max'), thresholdExceeded: counter('exceeded') };
}

function values(counters: DutyCycleCounters): { cycles: number; maxNs: number; exceeded: number } {
  return { cycles: counters.cycles.get(), maxNs: counters.maxCycleTimeNs.get(), exceeded: counters.thresholdExceeded.get() };
}

/** An agent whose duty cycle takes the next of `durationsNs` on the clock (and then 0). */
class TimedAgent implements Agent {
  private cycle = 0;
  constructor(
    readonly roleName: string,
    private readonly clock: ManualClock,
    private readonly durationsNs: number[],
    readonly dutyCycleTracker?: DutyCycleTracker,
    private readonly failOnCycle = -1,
  ) {}
  doWork(): number {
    const i = this.cycle++;
    this.clock.nowNs += this.durationsNs[i] ?? 0;
    if (i === this.failOnCycle) throw new Error(`${this.roleName} failed in cycle ${i}`);
    return 1;
  }
}

test('a tracker counts cycles, keeps the longest and counts those over the threshold', () => {
  const manager = new CountersManager({ capacity: 8 });
  const counters = dutyCycleCounters(manager, 'agent');
  const tracker = new DutyCycleTracker(new ManualClock(), counters, 500);
  tracker.record(100, 300);
  assert.deepEqual(values(counters), { cycles: 1, maxNs: 200, exceeded: 0 });
  tracker.record(300, 900);
  assert.deepEqual(values(counters), { cycles: 2, maxNs: 600, exceeded: 1 });
  tracker.record(900, 1400);
  assert.deepEqual(values(counters), { cycles: 3, maxNs: 600, exceeded: 1 }, 'exactly the threshold does not exceed it');
  tracker.record(1400, 1400);
  assert.deepEqual(values(counters), { cycles: 4, maxNs: 600, exceeded: 1 });
});

test('a composite times each tracked member around its own doWork, and only those', () => {
  const clock = new ManualClock();
  const manager = new CountersManager({ capacity: 16 });
  const first = dutyCycleCounters(manager, 'first');
  const second = dutyCycleCounters(manager, 'second');
  const composite = new CompositeAgent([
    new TimedAgent('first', clock, [10, 2_000, 30], new DutyCycleTracker(clock, first, 1_000)),
    new TimedAgent('untracked', clock, [50_000, 50_000, 50_000]),
    new TimedAgent('second', clock, [400, 5, 1_500], new DutyCycleTracker(clock, second, 1_000)),
  ]);
  composite.onStart();
  for (let i = 0; i < 3; i++) assert.equal(composite.doWork(clock.nanoTime()), 3);
  assert.deepEqual(values(first), { cycles: 3, maxNs: 2_000, exceeded: 1 }, "the untracked agent's time is no one's");
  assert.deepEqual(values(second), { cycles: 3, maxNs: 1_500, exceeded: 1 });
  clock.reads = 0;
  composite.doWork(clock.nanoTime());
  assert.equal(clock.reads, 1 + 2 * 2, 'two clock readings per tracked member (none shared across the untracked one), none per untracked one');
});

test('adjacent tracked members share the reading between them', () => {
  const clock = new ManualClock();
  const manager = new CountersManager({ capacity: 16 });
  const first = dutyCycleCounters(manager, 'first');
  const second = dutyCycleCounters(manager, 'second');
  const composite = new CompositeAgent([
    new TimedAgent('first', clock, [300, 100], new DutyCycleTracker(clock, first, 1_000)),
    new TimedAgent('second', clock, [20, 4_000], new DutyCycleTracker(clock, second, 1_000)),
  ]);
  composite.onStart();
  for (let i = 0; i < 2; i++) {
    clock.reads = 0;
    composite.doWork(0);
    assert.equal(clock.reads, 3, 'start of the first, the boundary, end of the second');
  }
  assert.deepEqual(values(first), { cycles: 2, maxNs: 300, exceeded: 0 });
  assert.deepEqual(values(second), { cycles: 2, maxNs: 4_000, exceeded: 1 });
});

test('a cycle that throws is still counted and timed, and the error still reaches the caller', () => {
  const clock = new ManualClock();
  const manager = new CountersManager({ capacity: 8 });
  const counters = dutyCycleCounters(manager, 'failing');
  const composite = new CompositeAgent([new TimedAgent('failing', clock, [7_000], new DutyCycleTracker(clock, counters, 1_000), 0)]);
  composite.onStart();
  assert.throws(() => composite.doWork(clock.nanoTime()), /failing failed in cycle 0/);
  assert.deepEqual(values(counters), { cycles: 1, maxNs: 7_000, exceeded: 1 });
});
