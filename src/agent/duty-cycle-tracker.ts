import type { NanoClock } from '../env/clock.js';
import type { AtomicCounter } from './counters.js';

/** The counters one agent's duty cycles are recorded in. */
export interface DutyCycleCounters {
  /** Duty cycles run. */
  readonly cycles: AtomicCounter;
  /** Longest duty cycle so far, in ns. */
  readonly maxCycleTimeNs: AtomicCounter;
  /** Duty cycles longer than the threshold. */
  readonly thresholdExceeded: AtomicCounter;
}

/**
 * Measures an agent's duty cycles: whoever runs the agent (a CompositeAgent) reads
 * {@link clock} before and after the agent's `doWork` and hands both readings to {@link record}.
 * The time measured is the time spent inside `doWork`, that is how long the agent held the event
 * loop; unlike Aeron's trackers, which time the interval between the starts of successive cycles
 * on a thread of their own, it leaves out idle sleeps and whatever else the event loop ran in
 * between. Nothing is allocated per cycle.
 */
export class DutyCycleTracker {
  private readonly cycles: AtomicCounter;
  private readonly maxCycleTimeNs: AtomicCounter;
  private readonly thresholdExceeded: AtomicCounter;

  constructor(
    readonly clock: NanoClock,
    counters: DutyCycleCounters,
    /** A cycle longer than this counts in `thresholdExceeded`. */
    readonly cycleTimeThresholdNs: number,
  ) {
    this.cycles = counters.cycles;
    this.maxCycleTimeNs = counters.maxCycleTimeNs;
    this.thresholdExceeded = counters.thresholdExceeded;
  }

  /** Records one duty cycle that began at `startNs` and ended at `endNs` (readings of {@link clock}). */
  record(startNs: number, endNs: number): void {
    this.cycles.increment();
    const cycleTimeNs = endNs - startNs;
    if (cycleTimeNs > this.maxCycleTimeNs.get()) this.maxCycleTimeNs.set(cycleTimeNs);
    if (cycleTimeNs > this.cycleTimeThresholdNs) this.thresholdExceeded.increment();
  }
}
