/**
 * What every benchmark suite takes and gives back. `bench/main.ts` dispatches the suites named on
 * the command line from its SUITES table; a suite is a function from these options to a
 * `SuiteOutcome` (or a plain boolean: true when it ran without failures).
 */

export interface SuiteOptions {
  readonly quick: boolean;
  /** Repetitions of every measurement; at least 3. */
  readonly repetitions?: number;
  /** Only these measurement ids (all when empty); each suite says what it matches. */
  readonly only: readonly string[];
  /** Write a V8 CPU profile of every child process into this directory. */
  readonly profileDir?: string;
  /** rr spacing: both processes of a pair spin between requests instead of sleeping. */
  readonly spin?: boolean;
  /** Pin the two processes of each pair to different CPUs (Linux, needs taskset). */
  readonly pin: boolean;
  /** Where the JSON result goes. */
  readonly resultsDir?: string;
  /** The stamp shared by every file of one `npm run bench` (see `fileStamp`). */
  readonly runStamp?: string;
}

/** What a suite ran: whether it ran cleanly, and its section of the run's Markdown report. */
export interface SuiteOutcome {
  readonly ok: boolean;
  /** Heading of the suite's section in `<stamp>-report.md`. */
  readonly title?: string;
  /** The section itself (tables, chart links relative to the results directory). */
  readonly markdown?: string;
  /** Files the suite wrote. */
  readonly files?: readonly string[];
}

export type SuiteRunner = (options: SuiteOptions) => Promise<boolean | SuiteOutcome>;

/** A file-name-safe UTC time stamp: `2026-11-22T03-37-43Z`. */
export function fileStamp(date: Date): string {
  return date.toISOString().replace(/[:]/g, '-').replace(/\.\d+Z$/, 'Z');
}

/** The outcome of a suite, whichever form it returned. */
export function toOutcome(result: boolean | SuiteOutcome): SuiteOutcome {
  return typeof result === 'boolean' ? { ok: result } : result;
}
