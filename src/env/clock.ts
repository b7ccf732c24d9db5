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
 * Where {@link systemNanoClock} starts: 2^40 ns (about 18 minutes). V8 keeps a number that fits a
 * small integer (up to 2^31 - 1, about 2.1 s in ns) in a form of its own, and code it has optimised
 * for such values, and every object whose field held only such values, is thrown away when a larger
 * one comes; the same happens again when values pass 2^32 (4.3 s). A clock starting at zero made
 * every process pay that in its first seconds, in the middle of its first measurements. Starting
 * beyond both bounds, every reading is the same kind of number from the first.
 */
export const SYSTEM_NANO_CLOCK_ORIGIN_NS = 2 ** 40;

/**
 * Monotonic nanoseconds from `performance.now()` (milliseconds since process start with
 * sub-millisecond precision), rounded to an integer, plus {@link SYSTEM_NANO_CLOCK_ORIGIN_NS}. The
 * value stays exact in a float64 up to 2^53 ns, more than 100 days of process uptime.
 */
export const systemNanoClock: NanoClock = {
  nanoTime(): number {
    return SYSTEM_NANO_CLOCK_ORIGIN_NS + Math.round(performance.now() * 1_000_000);
  },
};

/** `Date.now()`. */
export const systemEpochClock: EpochClock = {
  epochMs(): number {
    return Date.now();
  },
};
