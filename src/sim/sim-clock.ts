import { ErrorCode, SkeinError } from '../util/errors.js';
import type { EpochClock, NanoClock } from '../env/clock.js';

/** Epoch time at simulated time 0 unless told otherwise: 2023-11-14T22:13:20Z. */
export const DEFAULT_SIM_EPOCH_OFFSET_MS = 1_700_000_000_000;

/**
 * A clock that moves only when told to. Both views are derived from one nanosecond count:
 * `epochMs() = epochOffsetMs + floor(nanoTime() / 1e6)`.
 */
export class SimClock implements NanoClock, EpochClock {
  private nowNs: number;

  constructor(
    startNs = 0,
    readonly epochOffsetMs = DEFAULT_SIM_EPOCH_OFFSET_MS,
  ) {
    checkTime('startNs', startNs);
    this.nowNs = startNs;
  }

  nanoTime(): number {
    return this.nowNs;
  }

  epochMs(): number {
    return this.epochOffsetMs + Math.floor(this.nowNs / 1_000_000);
  }

  /** Moves time forward by `ns` (an integer >= 0). */
  advance(ns: number): void {
    checkTime('advance ns', ns);
    this.nowNs += ns;
  }

  /** Moves time to `ns`, which must not be earlier than now. */
  set(ns: number): void {
    checkTime('set ns', ns);
    if (ns < this.nowNs) {
      throw new SkeinError(ErrorCode.ARG_INVALID, `sim clock cannot go back from ${this.nowNs} ns to ${ns} ns`);
    }
    this.nowNs = ns;
  }
}

function checkTime(what: string, ns: number): void {
  if (!(Number.isSafeInteger(ns) && ns >= 0)) {
    throw new SkeinError(ErrorCode.ARG_INVALID, `sim clock ${what}=${String(ns)} is invalid; expected a safe integer >= 0`);
  }
}
