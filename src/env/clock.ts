/**
 * Clocks are injected into every component so that the simulator can replace them. Only this
 * module reads the host's clocks.
 */

/** A monotonic clock in integer nanoseconds, as a JS number. Only differences between readings mean anything. */
export interface NanoClock {
  nanoTime(): number;
}

/** Wall-clock time in milliseconds since the Unix epoch. */
export interface EpochClock {
  epochMs(): number;
}

/**
 * Monotonic nanoseconds from `performance.now()` (milliseconds since process start with
 * sub-millisecond precision), rounded to an integer. Starting near zero at process start keeps the
 * value exact in a float64 for 2^53 ns, about 104 days of process uptime.
 */
export const systemNanoClock: NanoClock = {
  nanoTime(): number {
    return Math.round(performance.now() * 1_000_000);
  },
};

/** `Date.now()`. */
export const systemEpochClock: EpochClock = {
  epochMs(): number {
    return Date.now();
  },
};
