/**
 * The peers suite: Skein beside what a Node.js user would pick instead (ZeroMQ, NATS, Redis, gRPC)
 * and the raw floors and ceilings (node:dgram, worker_threads, a SharedArrayBuffer ring), in one
 * run on one machine. Three scenarios (one-way throughput by message size, request/response at 1,
 * 16 and 64 in flight, fan-out to 4 subscribers); every system of a scenario runs in fresh
 * processes, repetition after repetition, in an order that reverses every other repetition so that
 * drift in the machine hits all systems alike. Servers (nats-server, redis-server) are started
 * once for the run on free ports and stopped at its end. A system whose library or server is
 * missing is skipped with one line saying what to run. Writes `<stamp>-peers.json` and SVG charts.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ChildGroup } from '../support/child-group.js';
import { failureSummary } from '../support/failure-summary.js';
import type { Metrics } from '../support/child-messages.js';
import { fileStamp, type SuiteOptions, type SuiteOutcome } from '../support/suite.js';
import { machineLoad, systemInfo, type SystemInfo } from '../support/system-info.js';
import type { ThroughputWindow } from '../transport/throughput-meter.js';
import { DEFAULT_RESULTS_DIR } from '../transport/transport-suite.js';
import { INSTALL_HINT, PEER_LIBRARIES, peerLibraryProblem, type PeerLibrary } from './peer-modules.js';
import { SERVER_INSTALL_HINTS, ServerProcess, findExecutable, freeTcpPort, startNats, startRedis, type ServerName } from './peer-servers.js';
import { charts, compare, markdownNotes, markdownTables, type PeerResults } from './peers-report.js';
import { runSystem } from './run-system.js';
import { SCENARIOS, SYSTEMS, type PhaseSpec, type RunEnv, type SystemSpec } from './systems.js';

interface Plan {
  readonly window: ThroughputWindow;
  readonly repetitions: number;
  /** What no longer fits once this much time has passed is skipped (and reported). */
  readonly budgetMs: number;
}

const FULL: Plan = { window: { warmupMs: 500, measureMs: 1500 }, repetitions: 5, budgetMs: 20 * 60_000 };
const QUICK: Plan = { window: { warmupMs: 100, measureMs: 200 }, repetitions: 3, budgetMs: 160_000 };
/** A rough cost of one run of a system beyond its phases' windows: processes, connections, stop. */
const RUN_OVERHEAD_MS = 1500;
const PHASE_OVERHEAD_MS = 150;
const CONNECT_TIMEOUT_MS = 15_000;
const CHILD_MODULE = fileURLToPath(new URL('./peer-child.js', import.meta.url));

function selects(only: readonly string[], spec: SystemSpec): boolean {
  return only.length === 0 || only.includes(spec.scenario) || only.includes(spec.id) || only.includes(`${spec.scenario}/${spec.id}`);
}

interface Availability {
  readonly runnable: SystemSpec[];
  /** One line per missing library or server, naming the systems skipped and what to run. */
  readonly skipped: string[];
}

function describe(specs: readonly SystemSpec[]): string {
  return [...new Set(specs.map((s) => s.label))].join(', ');
}

/** Which selected systems can run here; missing libraries and servers are reported once each. */
function availability(selected: readonly SystemSpec[]): Availability {
  const skipped: string[] = [];
  const blocked = new Set<SystemSpec>();
  const libraries = new Set(selected.flatMap((s) => s.libraries ?? []));
  for (const library of PEER_LIBRARIES.filter((l) => libraries.has(l))) {
    const problem = peerLibraryProblem(library);
    if (problem === null) continue;
    const specs = selected.filter((s) => s.libraries?.includes(library as PeerLibrary) === true);
    specs.forEach((s) => blocked.add(s));
    skipped.push(`skipped ${describe(specs)}: ${problem}`);
  }
  const servers = new Set(selected.flatMap((s) => s.servers ?? []));
  for (const server of servers) {
    if (findExecutable(server) !== null) continue;
    const specs = selected.filter((s) => s.servers?.includes(server) === true);
    specs.forEach((s) => blocked.add(s));
    skipped.push(`skipped ${describe(specs)}: ${server} is not installed (looked on PATH and in /usr/sbin); install it with \`sudo ${SERVER_INSTALL_HINTS[server]}\``);
  }
  return { runnable: selected.filter((s) => !blocked.has(s)), skipped };
}

interface Servers {
  readonly processes: ServerProcess[];
  readonly natsServer: string | null;
  readonly redisPort: number | null;
  readonly failed: Set<ServerName>;
  readonly problems: string[];
}

async function startServers(needed: ReadonlySet<ServerName>, tmpDir: string): Promise<Servers> {
  const processes: ServerProcess[] = [];
  const failed = new Set<ServerName>();
  const problems: string[] = [];
  let natsServer: string | null = null;
  let redisPort: number | null = null;
  for (const name of needed) {
    try {
      const port = await freeTcpPort();
      const dir = join(tmpDir, name);
      mkdirSync(dir, { recursive: true });
      const executable = findExecutable(name)!;
      processes.push(name === 'nats-server' ? await startNats(executable, port, dir) : await startRedis(executable, port, dir));
      if (name === 'nats-server') natsServer = `127.0.0.1:${port}`;
      else redisPort = port;
    } catch (error) {
      failed.add(name);
      problems.push(`${name} could not be started: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  return { processes, natsServer, redisPort, failed, problems };
}

function phasesFor(spec: SystemSpec): PhaseSpec[] {
  const scenario = SCENARIOS.find((s) => s.id === spec.scenario)!;
  return scenario.phases.filter((p) => spec.supports?.(p) ?? true);
}

function progressLine(spec: SystemSpec, phases: readonly PhaseSpec[], results: Record<string, Metrics>): string {
  const parts = phases.map((phase) => {
    const m = results[phase.key];
    if (m === undefined) return `${phase.label} -`;
    const n = (key: string): number => (typeof m[key] === 'number' ? (m[key] as number) : Number.NaN);
    if (spec.scenario === 'rr') return `${phase.label} ${Math.round(n('roundTripsPerSec'))}/s p50 ${n('p50Us')} µs p99 ${n('p99Us')} µs`;
    return `${phase.label} ${Math.round(n('msgsPerSec'))}/s${n('lossPct') > 0 ? ` (loss ${n('lossPct').toFixed(1)}%)` : ''}`;
  });
  return parts.join('; ');
}

interface Loop {
  readonly results: PeerResults;
  readonly failures: string[];
  /** Runs left out because the time budget was spent. */
  readonly overBudget: string[];
  readonly runs: Record<string, (Record<string, Metrics> | null)[]>;
}

async function runAll(runnable: readonly SystemSpec[], plan: Plan, repetitions: number, servers: Servers, tmpDir: string, children: ChildGroup, pin: boolean): Promise<Loop> {
  const results: PeerResults = {};
  const failures: string[] = [];
  const overBudget: string[] = [];
  const runs: Record<string, (Record<string, Metrics> | null)[]> = {};
  const startMs = performance.now();
  let runIndex = 0;
  for (const spec of runnable) {
    const table = (results[spec.scenario] ??= {})[spec.id] = {} as Record<string, (Metrics | null)[]>;
    for (const phase of phasesFor(spec)) table[phase.key] = new Array<Metrics | null>(repetitions).fill(null);
    runs[`${spec.scenario}/${spec.id}`] = new Array<Record<string, Metrics> | null>(repetitions).fill(null);
  }
  for (let repetition = 0; repetition < repetitions; repetition++) {
    for (const scenario of SCENARIOS) {
      const specs = runnable.filter((s) => s.scenario === scenario.id);
      if (repetition % 2 === 1) specs.reverse();
      for (const spec of specs) {
        const phases = phasesFor(spec);
        const id = `${spec.scenario}/${spec.id}`;
        const estimateMs = RUN_OVERHEAD_MS + phases.length * (plan.window.warmupMs + plan.window.measureMs + PHASE_OVERHEAD_MS);
        if (performance.now() - startMs + estimateMs > plan.budgetMs) {
          overBudget.push(`${id} repetition ${repetition + 1}: skipped, the ${plan.budgetMs / 1000} s time budget is spent`);
          continue;
        }
        const env: RunEnv = { natsServer: servers.natsServer, redisPort: servers.redisPort, tmpDir, unique: `${process.pid}-${runIndex++}`, connectTimeoutMs: CONNECT_TIMEOUT_MS };
        const label = `[${repetition + 1}/${repetitions}] ${id}`;
        try {
          const run = await runSystem({ spec, phases, env, children, window: plan.window, repetition: repetition + 1, pin });
          const load = machineLoad();
          for (const phase of phases) results[spec.scenario]![spec.id]![phase.key]![repetition] = { ...run.phases[phase.key]!, loadAverage1m: load.loadAverage1m };
          runs[id]![repetition] = run.children;
          process.stderr.write(`${label}: ${progressLine(spec, phases, run.phases)}\n`);
        } catch (error) {
          const message = error instanceof Error ? error.message : String(error);
          failures.push(`${id} repetition ${repetition + 1}: ${message}`);
          process.stderr.write(`${label}: FAILED ${failureSummary(message)}\n`);
        }
      }
    }
  }
  return { results, failures, overBudget, runs };
}

function methodText(system: SystemInfo, plan: Plan, repetitions: number, quick: boolean): string {
  return (
    `Node ${system.node}, ${system.cpuModel}, ${system.cores} cores, ${system.platform} ${system.osRelease}. ` +
    `${repetitions} repetitions${quick ? ' (quick)' : ''}; each phase warms up for ${plan.window.warmupMs} ms and measures for ` +
    `${plan.window.measureMs} ms; every system runs in fresh processes, in an order that reverses every other repetition. ` +
    'Cells: median (min–max) over the repetitions. "vs best peer": this system over the best peer (ZeroMQ, NATS, Redis, gRPC; ' +
    'not the raw baselines, not JetStream) of the same phase, median of the medians with the range of the ratios taken ' +
    'repetition by repetition; above 1 is more throughput, or more latency.'
  );
}

export async function runPeersSuite(options: SuiteOptions): Promise<SuiteOutcome> {
  const plan = options.quick ? QUICK : FULL;
  const repetitions = Math.max(3, options.repetitions ?? plan.repetitions);
  const startedAt = new Date();
  const stamp = options.runStamp ?? fileStamp(startedAt);
  const selected = SYSTEMS.filter((s) => selects(options.only, s));
  const { runnable: available, skipped } = availability(selected);
  const system = systemInfo();
  process.stderr.write(
    `bench peers: ${available.length} of ${selected.length} systems × ${repetitions} repetitions${options.quick ? ' (quick)' : ''}; ` +
      `Node ${system.node}, ${system.cpuModel}, ${system.cores} cores\n`,
  );
  for (const line of skipped) process.stderr.write(`bench peers: ${line}\n`);
  const tmpDir = mkdtempSync(join(tmpdir(), 'skein-bench-'));
  const profileDir = options.profileDir === undefined ? undefined : resolve(options.profileDir);
  if (profileDir !== undefined) mkdirSync(profileDir, { recursive: true });
  const children = new ChildGroup({
    modulePath: CHILD_MODULE,
    profileExecArgv: (name) => (profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, `--cpu-prof-name=${name}.cpuprofile`]),
  });
  const startMs = performance.now();
  let servers: Servers | null = null;
  let loop: Loop;
  try {
    servers = await startServers(new Set(available.flatMap((s) => s.servers ?? [])), tmpDir);
    for (const problem of servers.problems) {
      skipped.push(problem);
      process.stderr.write(`bench peers: ${problem}\n`);
    }
    const failedServers = servers.failed;
    const runnable = available.filter((s) => !(s.servers ?? []).some((name) => failedServers.has(name)));
    loop = await runAll(runnable, plan, repetitions, servers, tmpDir, children, options.pin);
  } finally {
    await children.close();
    for (const server of servers?.processes ?? []) await server.stop();
    rmSync(tmpDir, { recursive: true, force: true });
  }
  return writeResults({ options, plan, repetitions, stamp, startedAt, startMs, system, skipped, selected, loop });
}

interface WriteInput {
  readonly options: SuiteOptions;
  readonly plan: Plan;
  readonly repetitions: number;
  readonly stamp: string;
  readonly startedAt: Date;
  readonly startMs: number;
  readonly system: SystemInfo;
  readonly skipped: readonly string[];
  readonly selected: readonly SystemSpec[];
  readonly loop: Loop;
}

function writeResults(input: WriteInput): SuiteOutcome {
  const { options, plan, repetitions, stamp, system, skipped, loop } = input;
  const context = { scenarios: SCENARIOS, systems: input.selected, results: loop.results, repetitions };
  const comparisons = compare(context);
  const dir = options.resultsDir ?? DEFAULT_RESULTS_DIR;
  const chartDir = join(dir, 'charts');
  mkdirSync(chartDir, { recursive: true });
  const files: string[] = [];
  const links = new Map<string, string>();
  for (const [key, chart] of charts(context, comparisons)) {
    const name = `${stamp}-peers-${key.replace(/\//g, '-')}.svg`;
    writeFileSync(join(chartDir, name), chart.svg);
    files.push(join(chartDir, name));
    links.set(key, `charts/${name}`);
  }
  const sections = [methodText(system, plan, repetitions, options.quick), '', markdownTables(context, comparisons, links), '#### What each system is', '', markdownNotes(context)];
  if (skipped.length > 0) sections.push('', '#### Skipped', '', ...skipped.map((s) => `- ${s}`));
  if (loop.failures.length > 0) sections.push('', '#### Failures', '', ...loop.failures.map((f) => `- ${failureSummary(f)}`));
  if (loop.overBudget.length > 0) sections.push('', '#### Over the time budget', '', ...loop.overBudget.map((f) => `- ${f}`));
  const markdown = sections.join('\n');
  const result = {
    suite: 'peers',
    startedAt: input.startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    durationS: Math.round((performance.now() - input.startMs) / 100) / 10,
    quick: options.quick,
    pinned: options.pin,
    repetitions,
    window: plan.window,
    system,
    loadAtEnd: machineLoad(),
    setup: `${INSTALL_HINT}; sudo ${SERVER_INSTALL_HINTS['nats-server']} ; sudo ${SERVER_INSTALL_HINTS['redis-server']}`,
    scenarios: SCENARIOS,
    systems: input.selected.map(({ plan: _plan, supports: _supports, ...rest }) => rest),
    results: loop.results,
    comparisons,
    children: loop.runs,
    skipped,
    failures: loop.failures,
    overBudget: loop.overBudget,
  };
  const file = join(dir, `${stamp}-peers.json`);
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  files.unshift(file);
  process.stdout.write(`\n${markdown}\n\nResults: ${file} (${result.durationS} s), charts in ${chartDir}\n`);
  return { ok: loop.failures.length === 0, title: 'Peers: Skein beside ZeroMQ, NATS, Redis, gRPC and raw baselines', markdown, files };
}
