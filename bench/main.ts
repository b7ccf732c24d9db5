/**
 * `npm run bench -- [suite ...] [options]`: runs benchmark suites (all of them when none is named)
 * and writes `bench/results/<stamp>-report.md` with every suite's section.
 *
 *   --quick            shorter windows and 3 repetitions
 *   --reps <n>         repetitions of each measurement (at least 3)
 *   --only <id,...>    only these measurements of a suite (peers: scenario, system or scenario/system ids)
 *   --profile <dir>    write a V8 CPU profile (--cpu-prof) of every child process into <dir>
 *   --spin             rr spacing: both processes of each pair spin between requests (no sleep)
 *   --pin              pin the two processes of each pair to CPUs 1 and 0 (Linux, taskset)
 *   --results <dir>    write results, report and charts there instead of bench/results
 *
 * To add a suite, add an entry to SUITES: a function from SuiteOptions to a SuiteOutcome (or a boolean).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { runTransportSuite, DEFAULT_RESULTS_DIR } from './transport/transport-suite.js';
import { runIdleSuite } from './idle/idle-suite.js';
import { runPeersSuite } from './peers/peers-suite.js';
import { runRrSuite } from './rr/rr-suite.js';
import { runArchiveSuite } from './archive/archive-suite.js';
import { runRpcRestartSuite } from './rpc/rpc-restart-suite.js';
import { runClusterSuite } from './cluster/cluster-suite.js';
import { runSendCostSuite } from './sendcost/send-cost-suite.js';
import { runRelaySuite } from './relay/relay-suite.js';
import { fileStamp, toOutcome, type SuiteOptions, type SuiteOutcome, type SuiteRunner } from './support/suite.js';
import { systemInfo } from './support/system-info.js';

const RPC_SYSTEMS = ['rr/skein-rpc', 'rr/grpc-unary', 'rr/sofa-rpc', 'rr/skein-rr', 'rr/dgram'];

interface SuiteEntry {
  readonly run: SuiteRunner;
  readonly description: string;
}

const SUITES: Readonly<Record<string, SuiteEntry>> = {
  transport: { run: runTransportSuite, description: 'Skein UDP/IPC throughput and UDP ping-pong against raw dgram and a SAB ring' },
  idle: { run: runIdleSuite, description: 'CPU of an idle Skein with connected UDP and IPC streams' },
  peers: { run: runPeersSuite, description: 'Skein beside ZeroMQ, NATS, Redis, gRPC, worker_threads and raw dgram' },
  archive: { run: runArchiveSuite, description: 'archive recording its own IPC stream at 32 B, 1 KiB, 64 KiB beside raw file writes; replay rate; offer to recorded latency' },
  rr: { run: runRrSuite, description: 'Skein request/response (response channels) at 1, 16 and 64 in flight and at sparse spacings, against raw dgram' },
  rpc: {
    // The peers suite's request/response scenario, restricted to the RPC comparison (--only narrows it further).
    run: (options) => runPeersSuite({ ...options, only: options.only.length > 0 ? options.only : RPC_SYSTEMS }),
    description: 'Skein RPC unary at 1, 16 and 64 in flight beside gRPC unary, sofa-rpc-node, Skein request/response and raw dgram echo (the peers suite\'s rr scenario)',
  },
  cluster: {
    run: runClusterSuite,
    description: 'Skein clusters (1 and 3 member processes, with and without sync) beside a 3-member etcd: commands/s at 1, 16, 64 in flight, round trips at fixed rates',
  },
  'send-cost': { run: runSendCostSuite, description: 'what one 1 KiB loopback datagram costs its sender: back to back, and one every 200 µs with the sender and the receiver sleeping or busy' },
  relay: { run: runRelaySuite, description: 'the floor under a three-member cluster\'s round trip: four bare dgram processes relaying its path with no work, a batch each millisecond and back to back' },
  'rpc-restart': { run: runRpcRestartSuite, description: 'RPC throughput with 64 calls in flight over three providers, steady and while one restarts every 2 s' },
};

function usage(problem: string): never {
  const suites = Object.entries(SUITES).map(([name, entry]) => `  ${name.padEnd(10)} ${entry.description}`);
  process.stderr.write(
    `bench: ${problem}\nusage: npm run bench -- [${Object.keys(SUITES).join('|')} ...] [--quick] [--pin] [--spin] [--reps <n>] [--only <id,...>] [--profile <dir>] [--results <dir>]\n${suites.join('\n')}\n`,
  );
  process.exit(2);
}

function parseArgs(argv: readonly string[]): { suites: string[]; options: SuiteOptions } {
  const suites: string[] = [];
  let quick = false;
  let repetitions: number | undefined;
  let only: string[] = [];
  let profileDir: string | undefined;
  let pin = false;
  let spin = false;
  let resultsDir: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = (): string => {
      const next = argv[++i];
      if (next === undefined) usage(`${arg} needs a value`);
      return next;
    };
    if (arg === '--quick') quick = true;
    else if (arg === '--pin') pin = true;
    else if (arg === '--spin') spin = true;
    else if (arg === '--reps') {
      repetitions = Number(value());
      if (!Number.isInteger(repetitions) || repetitions < 3 || repetitions > 100) usage(`--reps must be an integer in [3, 100]`);
    } else if (arg === '--only') only = value().split(',').filter((s) => s !== '');
    else if (arg === '--profile') profileDir = value();
    else if (arg === '--results') resultsDir = resolve(value());
    else if (arg === '--help' || arg === '-h') usage('help');
    else if (arg.startsWith('-')) usage(`unknown option '${arg}'`);
    else if (SUITES[arg] === undefined) usage(`unknown suite '${arg}'; suites: ${Object.keys(SUITES).join(', ')}`);
    else suites.push(arg);
  }
  const options: SuiteOptions = {
    quick,
    pin,
    spin,
    only,
    runStamp: fileStamp(new Date()),
    ...(repetitions === undefined ? {} : { repetitions }),
    ...(profileDir === undefined ? {} : { profileDir }),
    ...(resultsDir === undefined ? {} : { resultsDir }),
  };
  return { suites: suites.length === 0 ? Object.keys(SUITES) : suites, options };
}

/** The run's Markdown report: the command, the machine, then each suite's section. */
function writeReport(argv: readonly string[], options: SuiteOptions, outcomes: readonly [string, SuiteOutcome][]): string | null {
  const sections = outcomes.filter(([, outcome]) => outcome.markdown !== undefined);
  if (sections.length === 0) return null;
  const system = systemInfo();
  const dir = options.resultsDir ?? DEFAULT_RESULTS_DIR;
  const lines = [
    `# Skein benchmarks, ${options.runStamp}`,
    '',
    `Produced by \`npm run bench --${argv.length === 0 ? '' : ` ${argv.join(' ')}`}\` on Node ${system.node}, ${system.cpuModel}, ${system.cores} cores, ` +
      `${system.platform} ${system.osRelease}, ${system.totalMemoryGiB} GiB.`,
    '',
  ];
  for (const [name, outcome] of sections) {
    lines.push(`## ${outcome.title ?? name}`, '', outcome.markdown!, '');
    const files = (outcome.files ?? []).filter((f) => f.endsWith('.json')).map((f) => `\`${relative(dir, f)}\``);
    if (files.length > 0) lines.push(`Data: ${files.join(', ')}.`, '');
  }
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${options.runStamp}-report.md`);
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const { suites, options } = parseArgs(argv);
  const outcomes: [string, SuiteOutcome][] = [];
  for (const suite of suites) outcomes.push([suite, toOutcome(await SUITES[suite]!.run(options))]);
  const report = writeReport(argv, options, outcomes);
  if (report !== null) process.stdout.write(`\nReport: ${report}\n`);
  process.exitCode = outcomes.every(([, outcome]) => outcome.ok) ? 0 : 1;
}

main().catch((error: unknown) => {
  process.stderr.write(`bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
