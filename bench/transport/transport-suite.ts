/**
 * The transport suite: Skein UDP and IPC throughput and UDP round trips, against raw node:dgram
 * and a SharedArrayBuffer ring measured in the same run. Each measurement runs in fresh child
 * processes; repetitions alternate Skein and baseline. Results go to
 * `bench/results/<ISO date>-transport.json` and a Markdown table on stdout.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ChildGroup } from '../support/child-group.js';
import type { Metrics } from '../support/child-messages.js';
import { machineLoad, systemInfo } from '../support/system-info.js';
import { fileStamp, type SuiteOptions, type SuiteOutcome } from '../support/suite.js';
import { resolveDriverSettings } from '../../src/index.js';
import { MEASUREMENTS, repetitionOrder, type Measurement, type Timing } from './transport-measurements.js';
import { markdownReport, ratios, summarize, targets, formatRate, type Repetitions } from './transport-report.js';

export type { SuiteOptions } from '../support/suite.js';

interface Plan {
  readonly timing: Timing;
  readonly repetitions: number;
  /** The run skips what is left once this much time has passed. */
  readonly budgetMs: number;
}

const FULL: Plan = { timing: { warmupMs: 1500, measureMs: 3000, pingWarmupMs: 1000, pingMeasureMs: 3000 }, repetitions: 5, budgetMs: 330_000 };
const QUICK: Plan = { timing: { warmupMs: 500, measureMs: 1000, pingWarmupMs: 500, pingMeasureMs: 1000 }, repetitions: 3, budgetMs: 80_000 };
/** A rough cost of one measurement beyond its windows: process start, connection, stop. */
const OVERHEAD_MS = 1500;

export const DEFAULT_RESULTS_DIR = fileURLToPath(new URL('../../../bench/results/', import.meta.url));
const CHILD_MODULE = fileURLToPath(new URL('./child-main.js', import.meta.url));

/** The commit the run measured and whether src/ had uncommitted changes (null outside a git checkout). */
function sourceVersion(): { commit: string; srcModified: boolean } | null {
  try {
    const cwd = fileURLToPath(new URL('../../../', import.meta.url));
    const commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const status = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    return { commit, srcModified: status.trim() !== '' };
  } catch {
    return null;
  }
}

/** The driver settings the Skein children resolve (they inherit this environment), or why they cannot. */
function driverSettings(): object | string {
  try {
    return resolveDriverSettings({ publishSnapshots: false }, process.env);
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

function estimateMs(measurement: Measurement, timing: Timing): number {
  const windows = measurement.kind === 'throughput' ? timing.warmupMs + timing.measureMs : timing.pingWarmupMs + timing.pingMeasureMs;
  return windows + OVERHEAD_MS;
}

function progress(measurement: Measurement, metrics: Metrics): string {
  if (measurement.kind === 'latency') {
    return `p50 ${String(metrics.p50Us)} µs, p99 ${String(metrics.p99Us)} µs, ${String(metrics.count)} round trips`;
  }
  if (measurement.kind === 'paired-latency') {
    return (
      `Skein p50 ${String(metrics['skein.p50Us'])} µs, p99 ${String(metrics['skein.p99Us'])} µs; ` +
      `dgram p50 ${String(metrics['raw.p50Us'])} µs, p99 ${String(metrics['raw.p99Us'])} µs`
    );
  }
  const rate = formatRate(metrics.msgsPerSec as number);
  return `${rate} ${measurement.unit}/s, ${(metrics.mbPerSec as number).toFixed(1)} MB/s`;
}

export async function runTransportSuite(options: SuiteOptions): Promise<SuiteOutcome> {
  const plan = options.quick ? QUICK : FULL;
  const repetitions = Math.max(3, options.repetitions ?? plan.repetitions);
  const selected = MEASUREMENTS.filter((m) => options.only.length === 0 || options.only.includes(m.id));
  const profileDir = options.profileDir === undefined ? undefined : resolve(options.profileDir);
  if (profileDir !== undefined) mkdirSync(profileDir, { recursive: true });
  const children = new ChildGroup({
    modulePath: CHILD_MODULE,
    profileExecArgv: (name) => (profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, `--cpu-prof-name=${name}.cpuprofile`]),
  });
  const system = systemInfo();
  const startedAt = new Date();
  const startMs = performance.now();
  process.stderr.write(
    `bench transport: ${selected.length} measurements × ${repetitions} repetitions${options.quick ? ' (quick)' : ''}; ` +
      `Node ${system.node}, ${system.cpuModel}, ${system.cores} cores\n`,
  );
  let run: { reps: Repetitions; failures: string[] };
  try {
    run = await runRepetitions({ selected, repetitions, plan, children, pin: options.pin, startMs });
  } finally {
    await children.close();
  }
  const { reps, failures } = run;
  const summary = summarize(reps);
  const ratioList = ratios(reps, summary);
  const targetList = targets(summary, ratioList);
  const markdown = markdownReport({ system, summary, ratios: ratioList, targets: targetList, repetitions, quick: options.quick, failures });
  const result = {
    suite: 'transport',
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    durationS: Math.round((performance.now() - startMs) / 100) / 10,
    quick: options.quick,
    pinned: options.pin,
    repetitions,
    timing: plan.timing,
    system,
    source: sourceVersion(),
    loadAtEnd: machineLoad(),
    skeinDriverSettings: driverSettings(),
    measurements: Object.fromEntries(
      MEASUREMENTS.filter((m) => reps[m.id] !== undefined).map((m) => [
        m.id,
        { label: m.label, system: m.system, kind: m.kind, unit: m.unit, summary: summary[m.id], repetitions: reps[m.id] },
      ]),
    ),
    ratios: ratioList,
    targets: targetList,
    failures,
  };
  const dir = options.resultsDir ?? DEFAULT_RESULTS_DIR;
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${options.runStamp ?? fileStamp(startedAt)}-transport.json`);
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  process.stdout.write(`\n${markdown}\n\nResults: ${file} (${result.durationS} s)\n`);
  if (profileDir !== undefined) process.stdout.write(`CPU profiles: ${profileDir}\n`);
  return { ok: failures.length === 0, title: 'Transport: Skein against raw dgram and a SharedArrayBuffer ring', markdown, files: [file] };
}

interface RepetitionsInput {
  readonly selected: readonly Measurement[];
  readonly repetitions: number;
  readonly plan: Plan;
  readonly children: ChildGroup;
  readonly pin: boolean;
  readonly startMs: number;
}

/**
 * Runs every repetition of every selected measurement in alternating order, skipping what no
 * longer fits the time budget; a failed measurement is recorded and the run goes on.
 */
async function runRepetitions(input: RepetitionsInput): Promise<{ reps: Repetitions; failures: string[] }> {
  const { selected, repetitions, plan, children, pin, startMs } = input;
  const reps: Repetitions = {};
  const failures: string[] = [];
  for (let repetition = 0; repetition < repetitions; repetition++) {
    for (const measurement of repetitionOrder(selected, repetition)) {
      const elapsedMs = performance.now() - startMs;
      if (elapsedMs + estimateMs(measurement, plan.timing) > plan.budgetMs) {
        failures.push(`${measurement.id} repetition ${repetition + 1}: skipped, the ${plan.budgetMs / 1000} s time budget is spent`);
        continue;
      }
      const label = `[${repetition + 1}/${repetitions}] ${measurement.id}`;
      try {
        const load = machineLoad();
        const metrics = await measurement.run({ children, pin, timing: plan.timing, repetition: repetition + 1 });
        metrics.loadAverage1m = load.loadAverage1m;
        metrics.cpuPressure10sPct = load.cpuPressure10sPct;
        (reps[measurement.id] ??= []).push(metrics);
        process.stderr.write(`${label}: ${progress(measurement, metrics)}\n`);
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        failures.push(`${measurement.id} repetition ${repetition + 1}: ${message}`);
        process.stderr.write(`${label}: FAILED ${message.split('\n')[0]}\n`);
      }
    }
  }
  return { reps, failures };
}
