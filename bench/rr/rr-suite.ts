/**
 * The rr suite: Skein request/response (ResponseServer/ResponseClient over response channels)
 * against raw node:dgram ping-pong measured in the same run, in two groups:
 *
 * - `in-flight`: 1, 16 and 64 requests in flight, back to back, over a time window;
 * - `spacing`: 1 request in flight, back to back and with 1, 10 and 100 ms from each answer to the
 *   next request (sparse traffic, where both processes sleep between requests), a fixed number of
 *   requests each, with the CPU both processes used over the window.
 *
 * Each measurement runs in fresh child processes (server and client); every repetition alternates
 * Skein and dgram. Results go to `bench/results/<stamp>-rr.json` and Markdown tables.
 * `--only in-flight` or `--only spacing` runs one group. With `--spin` both processes of a spacing
 * pair keep their event loop turning between requests (Skein: `idle.spinUs` 1 s, not adaptive; dgram:
 * a setImmediate chain), which shows what sleeping costs and what is left when nothing sleeps.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ChildGroup } from '../support/child-group.js';
import type { Metrics } from '../support/child-messages.js';
import { spreadOf, type Spread } from '../support/stats.js';
import { pairedRatio, type PairedRatio } from '../support/compare.js';
import { machineLoad, systemInfo } from '../support/system-info.js';
import { fileStamp, type SuiteOptions, type SuiteOutcome } from '../support/suite.js';
import { freeUdpPort, runChildren, type Timing } from '../transport/transport-measurements.js';

const CHILD_MODULE = fileURLToPath(new URL('./rr-child.js', import.meta.url));
const DEFAULT_RESULTS_DIR = fileURLToPath(new URL('../../../bench/results/', import.meta.url));
const IN_FLIGHT = [1, 16, 64] as const;
const SPACINGS_MS = [0, 1, 10, 100] as const;
const MESSAGE_LENGTH = 32;
const CONNECT_TIMEOUT_MS = 15_000;
const GROUPS = ['in-flight', 'spacing'] as const;

/** Reference numbers the issue gives for this machine (measured by the peers suite in its own run). */
const GRPC_UNARY_P50_US_AT_1 = 290;
const GRPC_UNARY_CALLS_PER_SEC_AT_64 = 5900;
/** Issue 8: Skein's p50 at one request per 10 ms within this factor of its back-to-back p50. */
const SPARSE_P50_FACTOR_MAX = 2;
const SPARSE_GOAL_SPACING_MS = 10;

interface Plan {
  readonly timing: Timing;
  readonly repetitions: number;
  /** Back-to-back warm-up of a spacing measurement. */
  readonly spacingWarmupMs: number;
  /** Measured requests at each spacing. */
  readonly requests: Readonly<Record<SpacingMs, number>>;
  /** Both processes of a spacing pair spin instead of sleeping (`--spin`). */
  readonly spin: boolean;
}

type SpacingMs = (typeof SPACINGS_MS)[number];

const FULL: Omit<Plan, 'spin'> = {
  timing: { warmupMs: 0, measureMs: 0, pingWarmupMs: 1000, pingMeasureMs: 3000 },
  repetitions: 5,
  spacingWarmupMs: 1000,
  requests: { 0: 3000, 1: 1000, 10: 300, 100: 60 },
};
const QUICK: Omit<Plan, 'spin'> = {
  timing: { warmupMs: 0, measureMs: 0, pingWarmupMs: 300, pingMeasureMs: 1000 },
  repetitions: 3,
  // Shorter warm-ups left back-to-back round trips at 3-4 times their later p50 on the development VM.
  spacingWarmupMs: 1000,
  requests: { 0: 2000, 1: 300, 10: 100, 100: 20 },
};

type SystemId = 'skein' | 'dgram';
type Cell = { readonly group: 'in-flight'; readonly system: SystemId; readonly inFlight: number } | { readonly group: 'spacing'; readonly system: SystemId; readonly spacingMs: SpacingMs };

/** `skein@16` for in-flight cells (the keys of earlier result files), `skein@10ms` for spacing cells. */
const key = (cell: Cell): string => (cell.group === 'in-flight' ? `${cell.system}@${cell.inFlight}` : `${cell.system}@${cell.spacingMs}ms`);

async function measureInFlight(children: ChildGroup, cell: Cell & { group: 'in-flight' }, timing: Timing, repetition: number): Promise<Metrics> {
  const window = { warmupMs: timing.pingWarmupMs, measureMs: timing.pingMeasureMs };
  const context = { children, pin: false, timing, repetition };
  const resultTimeoutMs = window.warmupMs + window.measureMs + CONNECT_TIMEOUT_MS;
  if (cell.system === 'skein') {
    const ports = { requestPort: await freeUdpPort(), controlPort: await freeUdpPort() };
    return runChildren(
      context,
      [
        { name: `skein-rr-server-${cell.inFlight}`, role: 'skein-rr-server', config: ports },
        {
          name: `skein-rr-client-${cell.inFlight}`,
          role: 'skein-rr-client',
          config: { ...ports, ...window, inFlight: cell.inFlight, messageLength: MESSAGE_LENGTH, connectTimeoutMs: CONNECT_TIMEOUT_MS },
        },
      ],
      1,
      resultTimeoutMs,
    );
  }
  const pongPort = await freeUdpPort();
  return runChildren(
    context,
    [
      { name: `dgram-pong-${cell.inFlight}`, role: 'dgram-pong', config: { port: pongPort } },
      { name: `dgram-rr-client-${cell.inFlight}`, role: 'dgram-rr-client', config: { pongPort, ...window, inFlight: cell.inFlight, messageLength: MESSAGE_LENGTH } },
    ],
    1,
    resultTimeoutMs,
  );
}

async function measureSpacing(children: ChildGroup, cell: Cell & { group: 'spacing' }, plan: Plan, repetition: number): Promise<Metrics> {
  const requests = plan.requests[cell.spacingMs];
  const spacing = { spacingMs: cell.spacingMs, requests, warmupMs: plan.spacingWarmupMs, spin: plan.spin };
  // Each request takes its spacing, the timer's extra millisecond and its round trip.
  const expectedMs = plan.spacingWarmupMs + requests * (cell.spacingMs + 2) + 2 * cell.spacingMs;
  const timing: Timing = { warmupMs: 0, measureMs: 0, pingWarmupMs: plan.spacingWarmupMs, pingMeasureMs: expectedMs };
  const context = { children, pin: false, timing, repetition };
  const resultTimeoutMs = expectedMs + CONNECT_TIMEOUT_MS;
  const name = `${cell.spacingMs}ms`;
  if (cell.system === 'skein') {
    const ports = { requestPort: await freeUdpPort(), controlPort: await freeUdpPort() };
    return runChildren(
      context,
      [
        { name: `skein-rr-server-${name}`, role: 'skein-rr-server', config: { ...ports, spin: plan.spin } },
        {
          name: `skein-rr-spaced-client-${name}`,
          role: 'skein-rr-spaced-client',
          config: { ...ports, ...spacing, messageLength: MESSAGE_LENGTH, connectTimeoutMs: CONNECT_TIMEOUT_MS },
        },
      ],
      1,
      resultTimeoutMs,
    );
  }
  const pongPort = await freeUdpPort();
  return runChildren(
    context,
    [
      { name: `dgram-rr-server-${name}`, role: 'dgram-rr-server', config: { port: pongPort, spin: plan.spin } },
      { name: `dgram-rr-spaced-client-${name}`, role: 'dgram-rr-spaced-client', config: { pongPort, ...spacing, messageLength: MESSAGE_LENGTH } },
    ],
    1,
    resultTimeoutMs,
  );
}

type Results = Record<string, Metrics[]>;

function values(results: Results, cell: Cell, metric: string): number[] {
  return (results[key(cell)] ?? []).map((m) => m[metric]).map((v) => (typeof v === 'number' ? v : Number.NaN));
}

function fmt(spread: Spread | null, digits = 1): string {
  if (spread === null || spread.count === 0) return 'n/a';
  return `${spread.median.toFixed(digits)} (${spread.min.toFixed(digits)}–${spread.max.toFixed(digits)})`;
}

function fmtRatio(ratio: PairedRatio): string {
  const p = ratio.paired;
  return p.count === 0 ? 'n/a' : `${p.median.toFixed(2)}× (${p.min.toFixed(2)}–${p.max.toFixed(2)})`;
}

function spread(results: Results, cell: Cell, metric: string): Spread | null {
  const v = values(results, cell, metric).filter((x) => Number.isFinite(x));
  return v.length === 0 ? null : spreadOf(v);
}

/** Every cell of one repetition, in the order they run: systems alternate which goes first. */
function cellsOf(repetition: number, groups: readonly string[]): Cell[] {
  const order: SystemId[] = repetition % 2 === 0 ? ['skein', 'dgram'] : ['dgram', 'skein'];
  const cells: Cell[] = [];
  if (groups.includes('in-flight')) for (const inFlight of IN_FLIGHT) for (const system of order) cells.push({ group: 'in-flight', system, inFlight });
  if (groups.includes('spacing')) for (const spacingMs of SPACINGS_MS) for (const system of order) cells.push({ group: 'spacing', system, spacingMs });
  return cells;
}

function progressLine(cell: Cell, metrics: Metrics): string {
  const latency = `p50 ${String(metrics.p50Us)} µs, p99 ${String(metrics.p99Us)} µs`;
  if (cell.group === 'in-flight') return `${latency}, ${Math.round(metrics.roundTripsPerSec as number)} round trips/s`;
  const cpu = (v: unknown): string => (typeof v === 'number' ? `${v.toFixed(1)} %` : 'n/a');
  return `${latency}, ${Math.round(metrics.requestsPerSec as number)} requests/s, CPU client ${cpu(metrics.clientCpuPct)} server ${cpu(metrics.serverCpuPct)}`;
}

async function runCells(children: ChildGroup, plan: Plan, repetitions: number, groups: readonly string[], results: Results, failures: string[]): Promise<void> {
  for (let repetition = 0; repetition < repetitions; repetition++) {
    for (const cell of cellsOf(repetition, groups)) {
      const label = `[${repetition + 1}/${repetitions}] ${key(cell)}`;
      const slot = (results[key(cell)] ??= []);
      try {
        const load = machineLoad();
        const metrics =
          cell.group === 'in-flight' ? await measureInFlight(children, cell, plan.timing, repetition + 1) : await measureSpacing(children, cell, plan, repetition + 1);
        metrics.loadAverage1m = load.loadAverage1m;
        slot.push(metrics);
        process.stderr.write(`${label}: ${progressLine(cell, metrics)}\n`);
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        // A failed repetition keeps its place (no numbers), so ratios still pair repetition by repetition.
        slot.push({ failed: true });
        failures.push(`${key(cell)} repetition ${repetition + 1}: ${message}`);
        process.stderr.write(`${label}: FAILED ${message.split('\n')[0]}\n`);
      }
    }
  }
}

interface Section {
  readonly markdown: string[];
  readonly summary: Record<string, unknown>;
  readonly ok: boolean;
}

function inFlightSection(results: Results): Section {
  const rows: string[] = [];
  const ratioRows: string[] = [];
  const summary: Record<string, unknown> = {};
  for (const inFlight of IN_FLIGHT) {
    for (const system of ['skein', 'dgram'] as const) {
      const cell: Cell = { group: 'in-flight', system, inFlight };
      const s = {
        p50Us: spread(results, cell, 'p50Us'),
        p99Us: spread(results, cell, 'p99Us'),
        p999Us: spread(results, cell, 'p999Us'),
        roundTripsPerSec: spread(results, cell, 'roundTripsPerSec'),
      };
      summary[key(cell)] = s;
      rows.push(
        `| ${system === 'skein' ? 'Skein request/response' : 'raw dgram ping-pong'} | ${inFlight} | ${fmt(s.p50Us)} | ${fmt(s.p99Us)} | ${fmt(s.p999Us)} | ${fmt(s.roundTripsPerSec, 0)} |`,
      );
    }
    const skein: Cell = { group: 'in-flight', system: 'skein', inFlight };
    const dgram: Cell = { group: 'in-flight', system: 'dgram', inFlight };
    const p50 = pairedRatio(values(results, skein, 'p50Us'), values(results, dgram, 'p50Us'));
    const rate = pairedRatio(values(results, skein, 'roundTripsPerSec'), values(results, dgram, 'roundTripsPerSec'));
    summary[`ratio@${inFlight}`] = { p50, throughput: rate };
    ratioRows.push(`| ${inFlight} | ${fmtRatio(p50)} | ${fmtRatio(rate)} |`);
  }
  const targetP50 = (summary['ratio@1'] as { p50: PairedRatio }).p50.paired.median;
  const rate64 = (summary['skein@64'] as { roundTripsPerSec: Spread | null }).roundTripsPerSec?.median ?? 0;
  const markdown = [
    '| system | in flight | p50 µs | p99 µs | p99.9 µs | round trips/s |',
    '| --- | --- | --- | --- | --- | --- |',
    ...rows,
    '',
    'Skein against raw dgram, pair by pair within each repetition (p50: lower is better; throughput: higher is better):',
    '',
    '| in flight | p50 ratio | throughput ratio |',
    '| --- | --- | --- |',
    ...ratioRows,
    '',
    'Targets (issue 3):',
    '',
    `- p50 within 1.5× of raw dgram ping-pong at 1 in flight: ${targetP50.toFixed(2)}× — ${targetP50 <= 1.5 ? 'met' : 'not met'}.`,
    `- at least 20× gRPC unary throughput at 64 in flight (reference ${GRPC_UNARY_CALLS_PER_SEC_AT_64} calls/s, so ${20 * GRPC_UNARY_CALLS_PER_SEC_AT_64}/s): ${Math.round(rate64)}/s — ${rate64 >= 20 * GRPC_UNARY_CALLS_PER_SEC_AT_64 ? 'met' : 'not met'}.`,
    `- reference: gRPC unary p50 at 1 in flight about ${GRPC_UNARY_P50_US_AT_1} µs on this machine (the peers suite measures it in its own run).`,
  ];
  return { markdown, summary, ok: true };
}

const spacingLabel = (spacingMs: number): string => (spacingMs === 0 ? 'back to back' : `${spacingMs} ms`);

function spacingRows(results: Results, summary: Record<string, unknown>): string[] {
  const rows: string[] = [];
  for (const spacingMs of SPACINGS_MS) {
    for (const system of ['skein', 'dgram'] as const) {
      const cell: Cell = { group: 'spacing', system, spacingMs };
      const s = {
        p50Us: spread(results, cell, 'p50Us'),
        p90Us: spread(results, cell, 'p90Us'),
        p99Us: spread(results, cell, 'p99Us'),
        requestsPerSec: spread(results, cell, 'requestsPerSec'),
        clientCpuPct: spread(results, cell, 'clientCpuPct'),
        serverCpuPct: spread(results, cell, 'serverCpuPct'),
      };
      summary[key(cell)] = s;
      rows.push(
        `| ${system === 'skein' ? 'Skein request/response' : 'raw dgram ping-pong'} | ${spacingLabel(spacingMs)} | ${fmt(s.p50Us)} | ${fmt(s.p90Us)} | ${fmt(s.p99Us)} | ` +
          `${fmt(s.requestsPerSec, 0)} | ${fmt(s.clientCpuPct)} | ${fmt(s.serverCpuPct)} |`,
      );
    }
  }
  return rows;
}

function spacingSection(results: Results, spin: boolean): Section {
  const summary: Record<string, unknown> = {};
  const rows = spacingRows(results, summary);
  const ratioRows: string[] = [];
  const p50s = (system: SystemId, spacingMs: SpacingMs): number[] => values(results, { group: 'spacing', system, spacingMs }, 'p50Us');
  for (const spacingMs of SPACINGS_MS) {
    const skeinVsBackToBack = pairedRatio(p50s('skein', spacingMs), p50s('skein', 0));
    const dgramVsBackToBack = pairedRatio(p50s('dgram', spacingMs), p50s('dgram', 0));
    const skeinVsDgram = pairedRatio(p50s('skein', spacingMs), p50s('dgram', spacingMs));
    summary[`ratio@${spacingMs}ms`] = { skeinVsBackToBack, dgramVsBackToBack, skeinVsDgram };
    ratioRows.push(`| ${spacingLabel(spacingMs)} | ${fmtRatio(skeinVsBackToBack)} | ${fmtRatio(dgramVsBackToBack)} | ${fmtRatio(skeinVsDgram)} |`);
  }
  const goal = (summary[`ratio@${SPARSE_GOAL_SPACING_MS}ms`] as { skeinVsBackToBack: PairedRatio }).skeinVsBackToBack.paired;
  const met = goal.count > 0 && goal.median <= SPARSE_P50_FACTOR_MAX;
  summary.goalSparseP50 = { spacingMs: SPARSE_GOAL_SPACING_MS, factorMax: SPARSE_P50_FACTOR_MAX, measured: goal, met };
  const markdown = [
    spin
      ? 'One request in flight; each request goes the spacing after the answer to the one before (a `setTimeout` in the client). **Run with `--spin`:** between requests both processes keep their event loop turning instead of sleeping (Skein: `idle: { spinUs: 1000000, adaptiveSpin: false }`; dgram: a setImmediate chain). CPU is each process over the measured requests, in % of one core.'
      : 'One request in flight; each request goes the spacing after the answer to the one before (a `setTimeout` in the client), so between requests both processes go idle. CPU is each process over the measured requests, in % of one core.',
    '',
    '| system | spacing | p50 µs | p90 µs | p99 µs | requests/s | client CPU % | server CPU % |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
    '',
    'p50 ratios, pair by pair within each repetition: each system against its own back-to-back p50, and Skein against raw dgram at the same spacing:',
    '',
    '| spacing | Skein / Skein back to back | dgram / dgram back to back | Skein / dgram |',
    '| --- | --- | --- | --- |',
    ...ratioRows,
    '',
    `Goal (issue 8): Skein p50 at one request per ${SPARSE_GOAL_SPACING_MS} ms within ${SPARSE_P50_FACTOR_MAX}× of Skein back to back: ` +
      `${goal.count === 0 ? 'n/a' : `${goal.median.toFixed(2)}× (${goal.min.toFixed(2)}–${goal.max.toFixed(2)})`} — ${met ? 'met' : 'not met'}.`,
  ];
  return { markdown, summary, ok: true };
}

export async function runRrSuite(options: SuiteOptions): Promise<SuiteOutcome> {
  const plan: Plan = { ...(options.quick ? QUICK : FULL), spin: options.spin === true };
  const repetitions = Math.max(3, options.repetitions ?? plan.repetitions);
  const groups = options.only.length === 0 ? [...GROUPS] : GROUPS.filter((g) => options.only.includes(g));
  if (groups.length === 0) throw new Error(`bench rr: --only takes ${GROUPS.join(', ')}; got ${options.only.join(',')}`);
  const children = new ChildGroup({ modulePath: CHILD_MODULE });
  const system = systemInfo();
  const startedAt = new Date();
  const startMs = performance.now();
  const results: Results = {};
  const failures: string[] = [];
  const cellCount = cellsOf(0, groups).length;
  process.stderr.write(`bench rr: ${cellCount} measurements × ${repetitions} repetitions${options.quick ? ' (quick)' : ''}\n`);
  try {
    await runCells(children, plan, repetitions, groups, results, failures);
  } finally {
    await children.close();
  }
  const sections: { title: string; section: Section }[] = [];
  if (groups.includes('in-flight')) sections.push({ title: 'Requests in flight, back to back', section: inFlightSection(results) });
  if (groups.includes('spacing')) sections.push({ title: `Sparse traffic: 1 in flight at a spacing${plan.spin ? ', both processes spinning' : ''}`, section: spacingSection(results, plan.spin) });
  const markdown = [
    `Node ${system.node}, ${system.cpuModel}, ${system.cores} cores; ${repetitions} repetitions${options.quick ? ' (quick)' : ''}, ${MESSAGE_LENGTH}-byte requests, medians with (min–max).`,
    ...sections.flatMap(({ title, section }) => ['', `### ${title}`, '', ...section.markdown]),
    ...(failures.length === 0 ? [] : ['', 'Failures:', '', ...failures.map((f) => `- ${f}`)]),
  ].join('\n');
  const result = {
    suite: 'rr',
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    durationS: Math.round((performance.now() - startMs) / 100) / 10,
    quick: options.quick,
    repetitions,
    groups,
    timing: plan.timing,
    spacing: { warmupMs: plan.spacingWarmupMs, requests: plan.requests, spin: plan.spin },
    system,
    summary: Object.assign({}, ...sections.map(({ section }) => section.summary)) as Record<string, unknown>,
    repetitionsByCell: results,
    failures,
  };
  const dir = options.resultsDir ?? DEFAULT_RESULTS_DIR;
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${options.runStamp ?? fileStamp(startedAt)}-rr.json`);
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  process.stdout.write(`\n${markdown}\n\nResults: ${file} (${result.durationS} s)\n`);
  return { ok: failures.length === 0, title: 'Request/response: Skein response channels against raw dgram', markdown, files: [file] };
}
