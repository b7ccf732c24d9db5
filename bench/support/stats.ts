/** Median, minimum and maximum of the repetitions of one metric. */
export interface Spread {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly count: number;
}

/** The median (mean of the middle two for an even count), min and max of `values`; NaN when empty. */
export function spreadOf(values: readonly number[]): Spread {
  const finite = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  const count = finite.length;
  if (count === 0) return { median: Number.NaN, min: Number.NaN, max: Number.NaN, count: 0 };
  const middle = Math.floor(count / 2);
  const median = count % 2 === 1 ? finite[middle]! : (finite[middle - 1]! + finite[middle]!) / 2;
  return { median, min: finite[0]!, max: finite[count - 1]!, count };
}

/** `a / b`, or NaN when either side is missing or `b` is zero. */
export function ratioOf(a: number, b: number): number {
  return Number.isFinite(a) && Number.isFinite(b) && b !== 0 ? a / b : Number.NaN;
}

/** The sample at quantile `q` (0..1) of ascending `sorted` values (nearest rank, the last for q = 1); NaN when empty. */
export function quantileOfSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  return n === 0 ? Number.NaN : sorted[Math.min(n - 1, Math.floor(q * n))]!;
}
