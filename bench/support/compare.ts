/**
 * Comparisons between systems measured in the same run. Every system has one value per
 * repetition, at the same index for every system (NaN where a repetition failed or was skipped),
 * so a ratio is taken repetition by repetition: systems measured next to each other share the
 * machine's state at that moment, and the spread of those ratios shows how steady the comparison is.
 */
import { ratioOf, spreadOf, type Spread } from './stats.js';

/** Whether a larger value of a metric is better (throughput) or a smaller one (latency). */
export type Better = 'higher' | 'lower';

/** A ratio of medians with the range of the ratios of the repetitions taken side by side. */
export interface PairedRatio {
  /** Median of the numerator's repetitions over median of the denominator's. */
  readonly value: number;
  /** Median, min and max of the per-repetition ratios (only repetitions where both have a value). */
  readonly paired: Spread;
}

/** `numerators[i] / denominators[i]` for every repetition `i` where both are finite. */
export function pairedRatio(numerators: readonly number[], denominators: readonly number[]): PairedRatio {
  const perRepetition: number[] = [];
  const count = Math.min(numerators.length, denominators.length);
  for (let i = 0; i < count; i++) perRepetition.push(ratioOf(numerators[i]!, denominators[i]!));
  return { value: ratioOf(spreadOf(numerators).median, spreadOf(denominators).median), paired: spreadOf(perRepetition) };
}

/** Index of the best finite value (first of equals), or -1 when none is finite. */
export function bestIndex(values: readonly number[], better: Better): number {
  let best = -1;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!Number.isFinite(v)) continue;
    if (best < 0 || (better === 'higher' ? v > values[best]! : v < values[best]!)) best = i;
  }
  return best;
}

/** One system's repetitions of one metric. */
export interface Entrant {
  readonly id: string;
  /** Only entrants that compete take part in choosing the best (e.g. peers, not Skein or raw baselines). */
  readonly competes: boolean;
  readonly values: readonly number[];
}

export interface Ranked {
  readonly id: string;
  readonly spread: Spread;
  /** Against the best competing entrant, repetition by repetition; null when there is none. */
  readonly vsBest: PairedRatio | null;
}

/**
 * Medians of every entrant and its ratio against the best competing entrant (by median), e.g.
 * 0.5× for half the best peer's throughput, 2× for twice its latency.
 */
export function rankAgainstBest(entrants: readonly Entrant[], better: Better): { bestId: string | null; rows: Ranked[] } {
  const spreads = entrants.map((e) => spreadOf(e.values));
  const best = bestIndex(
    entrants.map((e, i) => (e.competes ? spreads[i]!.median : Number.NaN)),
    better,
  );
  const rows = entrants.map((e, i) => ({
    id: e.id,
    spread: spreads[i]!,
    vsBest: best < 0 ? null : pairedRatio(e.values, entrants[best]!.values),
  }));
  return { bestId: best < 0 ? null : entrants[best]!.id, rows };
}
