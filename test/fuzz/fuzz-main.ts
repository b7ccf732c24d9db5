/**
 * `npm run fuzz -- [--minutes N] [--seed S] [--target NAME[,NAME…]] [--runs R] [--list]`
 *
 * Without --seed: runs the targets in turn, each with a fresh random seed, until N minutes
 * (default 1) have passed, printing a line per run. With --seed: runs each chosen target once with
 * that seed (replay); --runs sets its cases or datagrams (default: the target's bounded run, or
 * the count a failure report printed). On the first failure it prints the error, the seed and the
 * command that replays it, and exits with status 1.
 */
import { randomInt } from 'node:crypto';
import { FUZZ_TARGETS, findTarget } from './targets/all-targets.js';
import { FuzzFailure, replayCommand, type FuzzTarget } from './fuzz-target.js';

interface FuzzArgs {
  minutes: number;
  seed: number | undefined;
  targets: readonly FuzzTarget[];
  runs: number | undefined;
  list: boolean;
}

const USAGE = 'usage: npm run fuzz -- [--minutes N] [--seed S] [--target NAME[,NAME...]] [--runs R] [--list]';
/** Wall time one decoder target gets per turn in a timed run. */
const DECODER_SLICE_MS = 20_000;
/** Cases a decoder target is given per turn in a timed run (the time slice usually ends it first). */
const DECODER_RUNS_PER_TURN = 1_000_000;

export class UsageError extends Error {}

export function parseFuzzArgs(argv: readonly string[]): FuzzArgs {
  const args: FuzzArgs = { minutes: 1, seed: undefined, targets: FUZZ_TARGETS, runs: undefined, list: false };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`${flag} needs a value\n${USAGE}`);
      return v;
    };
    switch (flag) {
      case '--minutes':
        args.minutes = positiveNumber(flag, value());
        break;
      case '--seed':
        args.seed = integer(flag, value(), -(2 ** 31), 2 ** 32 - 1);
        break;
      case '--runs':
        args.runs = integer(flag, value(), 1, 1e9);
        break;
      case '--target':
        args.targets = value()
          .split(',')
          .map((name) => {
            const target = findTarget(name.trim());
            if (target === undefined) throw new UsageError(`unknown target '${name}'; targets: ${FUZZ_TARGETS.map((t) => t.name).join(', ')}`);
            return target;
          });
        break;
      case '--list':
        args.list = true;
        break;
      default:
        throw new UsageError(`unknown argument '${flag}'\n${USAGE}`);
    }
  }
  return args;
}

function positiveNumber(flag: string, text: string): number {
  const n = Number(text);
  if (!(Number.isFinite(n) && n > 0)) throw new UsageError(`${flag} ${text} is invalid; expected a number > 0`);
  return n;
}

function integer(flag: string, text: string, min: number, max: number): number {
  const n = Number(text);
  if (!(Number.isSafeInteger(n) && n >= min && n <= max)) throw new UsageError(`${flag} ${text} is invalid; expected an integer in [${min}, ${max}]`);
  return n;
}

function clock(startMs: number): string {
  const s = Math.floor((Date.now() - startMs) / 1000);
  return `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
}

function reportFailure(error: unknown, target: FuzzTarget, seed: number, runs: number | undefined): number {
  if (error instanceof FuzzFailure) {
    console.error(`\nFAILED: ${error.message}`);
    if (error.cause instanceof Error && error.cause.stack !== undefined) console.error(`cause: ${error.cause.stack}`);
  } else {
    console.error(`\nFAILED: target '${target.name}' threw (seed ${seed}): ${error instanceof Error ? error.stack : String(error)}`);
    console.error(`replay: ${replayCommand(target.name, seed, runs)}`);
  }
  console.error(`seed: ${seed}, target: ${target.name}`);
  return 1;
}

/** Live targets drive whole drivers (many datagrams per seed); decoder targets run single cases. */
function isLive(target: FuzzTarget): boolean {
  return target.defaultRuns >= 10_000;
}

/** Decoder targets in turn, each followed by every live target, so live targets get about half the time. */
function turnOrder(targets: readonly FuzzTarget[]): FuzzTarget[] {
  const live = targets.filter(isLive);
  const decoders = targets.filter((t) => !isLive(t));
  if (decoders.length === 0 || live.length === 0) return [...targets];
  return decoders.flatMap((d) => [d, ...live]);
}

/** Runs the fuzz command; returns the process exit status. */
export async function fuzzMain(argv: readonly string[]): Promise<number> {
  let args: FuzzArgs;
  try {
    args = parseFuzzArgs(argv);
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    return 2;
  }
  if (args.list) {
    for (const t of FUZZ_TARGETS) console.log(`${t.name.padEnd(14)} ${t.description} (bounded run: ${t.defaultRuns.toLocaleString('en-US')})`);
    return 0;
  }
  const startMs = Date.now();
  const log = (line: string): void => console.log(`[${clock(startMs)}]   ${line}`);
  if (args.seed !== undefined) {
    for (const target of args.targets) {
      console.log(`[${clock(startMs)}] ${target.name}: replaying seed ${args.seed}`);
      try {
        const report = await target.run({ seed: args.seed, ...(args.runs === undefined ? {} : { runs: args.runs }), log });
        console.log(`[${clock(startMs)}] ${target.name}: seed ${args.seed}: ${report.runs.toLocaleString('en-US')} runs passed in ${report.elapsedMs} ms ${JSON.stringify(report.details)}`);
      } catch (error) {
        return reportFailure(error, target, args.seed, args.runs);
      }
    }
    return 0;
  }
  const deadlineMs = startMs + args.minutes * 60_000;
  console.log(`fuzzing ${args.targets.map((t) => t.name).join(', ')} for ${args.minutes} minute(s)`);
  const totals = new Map<string, { runs: number; seeds: number }>();
  const turns = turnOrder(args.targets);
  for (let turn = 0; Date.now() < deadlineMs; turn++) {
    const target = turns[turn % turns.length]!;
    const seed = randomInt(2 ** 31);
    const remainingMs = Math.max(1, deadlineMs - Date.now());
    const live = isLive(target);
    const runs = args.runs ?? (live ? target.defaultRuns : DECODER_RUNS_PER_TURN);
    const timeLimitMs = live ? remainingMs : Math.min(DECODER_SLICE_MS, remainingMs);
    try {
      const report = await target.run({ seed, runs, timeLimitMs, log });
      const total = totals.get(target.name) ?? { runs: 0, seeds: 0 };
      total.runs += report.runs;
      total.seeds++;
      totals.set(target.name, total);
      console.log(`[${clock(startMs)}] ${target.name}: seed ${seed}: ${report.runs.toLocaleString('en-US')} runs passed in ${report.elapsedMs} ms`);
    } catch (error) {
      return reportFailure(error, target, seed, runs);
    }
  }
  console.log(`\nno failure in ${args.minutes} minute(s):`);
  for (const [name, t] of totals) console.log(`  ${name.padEnd(14)} ${t.runs.toLocaleString('en-US').padStart(14)} runs over ${t.seeds} seed(s)`);
  return 0;
}
