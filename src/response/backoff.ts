import type { Prng } from '../env/prng.js';

/**
 * Exponential backoff with full jitter: attempt n waits a uniformly random time in
 * [initial·2ⁿ/2, initial·2ⁿ], capped at `maxNs`. Randomness comes from the injected PRNG, so a
 * seeded run repeats exactly.
 */
export class Backoff {
  private attempt = 0;

  constructor(
    private readonly initialNs: number,
    private readonly maxNs: number,
    private readonly prng: Prng,
  ) {}

  /** The delay before the next attempt; each call doubles the base up to the cap. */
  nextDelayNs(): number {
    const base = Math.min(this.maxNs, this.initialNs * 2 ** Math.min(this.attempt, 30));
    this.attempt++;
    return Math.round(base / 2 + (base / 2) * this.prng.nextDouble());
  }

  get attempts(): number {
    return this.attempt;
  }

  reset(): void {
    this.attempt = 0;
  }
}
