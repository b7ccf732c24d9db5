/**
 * What every fuzz target offers: a name, a bounded default run for `npm test`, and a run that is
 * fully determined by its seed, so that a failure printed with its seed replays with
 * `npm run fuzz -- --seed S --target T`.
 */

export interface FuzzRunOptions {
  /** Seeds every random choice of the run. */
  readonly seed: number;
  /** Cases (decoder targets) or datagrams (live targets) to run; the target's default when omitted. */
  readonly runs?: number;
  /** Stops early, without failing, once this much wall time has passed. */
  readonly timeLimitMs?: number;
  /** Progress lines. */
  readonly log?: (line: string) => void;
}

export interface FuzzRunReport {
  readonly target: string;
  readonly seed: number;
  /** Cases or datagrams actually run. */
  readonly runs: number;
  readonly elapsedMs: number;
  /** Target-specific numbers (counters moved, images seen, ...). */
  readonly details: Readonly<Record<string, unknown>>;
}

export interface FuzzTarget {
  readonly name: string;
  readonly description: string;
  /** Runs of the bounded run that is part of `npm test`. */
  readonly defaultRuns: number;
  run(options: FuzzRunOptions): Promise<FuzzRunReport>;
}

/** The command that replays a failing run. */
export function replayCommand(target: string, seed: number, runs?: number): string {
  return `npm run fuzz -- --target ${target} --seed ${seed}${runs === undefined ? '' : ` --runs ${runs}`}`;
}

/** A target's failure, carrying what is needed to replay it. */
export class FuzzFailure extends Error {
  readonly target: string;
  readonly seed: number;

  constructor(target: string, seed: number, message: string, options?: { cause?: unknown; runs?: number }) {
    super(`fuzz target '${target}' failed (seed ${seed}): ${message}\nreplay: ${replayCommand(target, seed, options?.runs)}`, {
      cause: options?.cause,
    });
    this.name = 'FuzzFailure';
    this.target = target;
    this.seed = seed;
  }
}
