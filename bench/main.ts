/**
 * `npm run bench -- [suite ...] [options]`: runs benchmark suites (all of them when none is named).
 *
 *   --quick            shorter windows and 3 repetitions
 *   --reps <n>         repetitions of each measurement (at least 3)
 *   --only <id,...>    only these measurements of a suite
 *   --profile <dir>    write a V8 CPU profile (--cpu-prof) of every child process into <dir>
 *   --pin              pin the two processes of each pair to CPUs 1 and 0 (Linux, taskset)
 */
import { runTransportSuite, type SuiteOptions } from './transport/transport-suite.js';
import { runIdleSuite } from './idle/idle-suite.js';

const SUITES: Readonly<Record<string, (options: SuiteOptions) => Promise<boolean>>> = {
  transport: runTransportSuite,
  idle: runIdleSuite,
};

function usage(problem: string): never {
  process.stderr.write(`bench: ${problem}\nusage: npm run bench -- [${Object.keys(SUITES).join('|')} ...] [--quick] [--pin] [--reps <n>] [--only <id,...>] [--profile <dir>]\n`);
  process.exit(2);
}

function parseArgs(argv: readonly string[]): { suites: string[]; options: SuiteOptions } {
  const suites: string[] = [];
  let quick = false;
  let repetitions: number | undefined;
  let only: string[] = [];
  let profileDir: string | undefined;
  let pin = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = (): string => {
      const next = argv[++i];
      if (next === undefined) usage(`${arg} needs a value`);
      return next;
    };
    if (arg === '--quick') quick = true;
    else if (arg === '--pin') pin = true;
    else if (arg === '--reps') {
      repetitions = Number(value());
      if (!Number.isInteger(repetitions) || repetitions < 3 || repetitions > 100) usage(`--reps must be an integer in [3, 100]`);
    } else if (arg === '--only') only = value().split(',').filter((s) => s !== '');
    else if (arg === '--profile') profileDir = value();
    else if (arg.startsWith('-')) usage(`unknown option '${arg}'`);
    else if (SUITES[arg] === undefined) usage(`unknown suite '${arg}'; suites: ${Object.keys(SUITES).join(', ')}`);
    else suites.push(arg);
  }
  const options: SuiteOptions = { quick, pin, only, ...(repetitions === undefined ? {} : { repetitions }), ...(profileDir === undefined ? {} : { profileDir }) };
  return { suites: suites.length === 0 ? Object.keys(SUITES) : suites, options };
}

async function main(): Promise<void> {
  const { suites, options } = parseArgs(process.argv.slice(2));
  let ok = true;
  for (const suite of suites) ok = (await SUITES[suite]!(options)) && ok;
  process.exitCode = ok ? 0 : 1;
}

main().catch((error: unknown) => {
  process.stderr.write(`bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
