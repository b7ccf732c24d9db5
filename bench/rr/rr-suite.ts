/**
 * The rr suite: Skein request/response (ResponseServer/ResponseClient over response channels)
 * against raw node:dgram ping-pong measured in the same run, at 1, 16 and 64 requests in flight.
 * Each measurement runs in fresh child processes (server and client); every repetition alternates
 * Skein and dgram. Results go to `bench/results/<stamp>-rr.json` and a Markdown table.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ChildGroup } from '../support/child-group.js';
import type { Metrics } from '../support/child-messages.js';
import { spreadOf, type Spread } from '../support/stats.js';
import { pairedRatio } from '../support/compare.js';
import { machineLoad, systemInfo } from '../support/system-info.js';
import { fileStamp, type SuiteOptions, type SuiteOutcome } from '../support/suite.js';
import { freeUdpPort, runChildren, type Timing } from '../transport/transport-measurements.js';

const CHILD_MODULE = fileURLToPath(new URL('./rr-child.js', import.meta.url));
const DEFAULT_RESULTS_DIR = fileURLToPath(new URL('../../../bench/results/', import.meta.url));
const IN_FLIGHT = [1, 16, 64] as const;
const MESSAGE_LENGTH = 32;
const CONNECT_TIMEOUT_MS = 15_000;

/** Reference numbers the issue gives for this machine (measured by the peers suite in its own run). */
const GRPC_UNARY_P50_US_AT_1 = 290;
const GRPC_UNARY_CALLS_PER_SEC_AT_64 = 5900;

interface Plan {
  readonly timing: Timing;
  readonly repetitions: number;
}

const FULL: Plan = { timing: { warmupMs: 0, measureMs: 0, pingWarmupMs: 1000, pingMeasureMs: 3000 }, repetitions: 5 };
const QUICK: Plan = { timing: { warmupMs: 0, measureMs: 0, pingWarmupMs: 300, pingMeasureMs: 1000 }, repetitions: 3 };

type SystemId = 'skein' | 'dgram';

interface Cell {
  readonly system: SystemId;
  readonly inFlight: number;
}

async function measure(children: ChildGroup, cell: Cell, timing: Timing, repetition: number): Promise<Metrics> {
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

type Results = Record<string, Metrics[]>;
const key = (cell: Cell): string => `${cell.system}@${cell.inFlight}`;

function values(results: Results, cell: Cell, metric: string): number[] {
  return (results[key(cell)] ?? []).map((m) => m[metric]).filter((v): v is number => typeof v === 'number');
}

function fmt(spread: Spread | null, digits = 1): string {
  if (spread === null) return 'n/a';
  return `${spread.median.toFixed(digits)} (${spread.min.toFixed(digits)}–${spread.max.toFixed(digits)})`;
}

function spread(results: Results, cell: Cell, metric: string): Spread | null {
  const v = values(results, cell, metric);
  return v.length === 0 ? null : spreadOf(v);
}

export async function runRrSuite(options: SuiteOptions): Promise<SuiteOutcome> {
  const plan = options.quick ? QUICK : FULL;
  const repetitions = Math.max(3, options.repetitions ?? plan.repetitions);
  const children = new ChildGroup({ modulePath: CHILD_MODULE });
  const system = systemInfo();
  const startedAt = new Date();
  const startMs = performance.now();
  const results: Results = {};
  const failures: string[] = [];
  process.stderr.write(`bench rr: ${IN_FLIGHT.length * 2} measurements × ${repetitions} repetitions${options.quick ? ' (quick)' : ''}\n`);
  try {
    for (let repetition = 0; repetition < repetitions; repetition++) {
      for (const inFlight of IN_FLIGHT) {
        // Alternate which system goes first so drift hits both alike.
        const order: SystemId[] = repetition % 2 === 0 ? ['skein', 'dgram'] : ['dgram', 'skein'];
        for (const systemId of order) {
          const cell = { system: systemId, inFlight };
          const label = `[${repetition + 1}/${repetitions}] ${key(cell)}`;
          try {
            const load = machineLoad();
            const metrics = await measure(children, cell, plan.timing, repetition + 1);
            metrics.loadAverage1m = load.loadAverage1m;
            (results[key(cell)] ??= []).push(metrics);
            process.stderr.write(
              `${label}: p50 ${String(metrics.p50Us)} µs, p99 ${String(metrics.p99Us)} µs, ${Math.round(metrics.roundTripsPerSec as number)} round trips/s\n`,
            );
          } catch (error) {
            const message = error instanceof Error ? error.message : String(error);
            failures.push(`${key(cell)} repetition ${repetition + 1}: ${message}`);
            process.stderr.write(`${label}: FAILED ${message.split('\n')[0]}\n`);
          }
        }
      }
    }
  } finally {
    await children.close();
  }

  const rows: string[] = [];
  const ratioRows: string[] = [];
  const summary: Record<string, unknown> = {};
  for (const inFlight of IN_FLIGHT) {
    for (const systemId of ['skein', 'dgram'] as const) {
      const cell = { system: systemId, inFlight };
      const s = {
        p50Us: spread(results, cell, 'p50Us'),
        p99Us: spread(results, cell, 'p99Us'),
        p999Us: spread(results, cell, 'p999Us'),
        roundTripsPerSec: spread(results, cell, 'roundTripsPerSec'),
      };
      summary[key(cell)] = s;
      rows.push(
        `| ${systemId === 'skein' ? 'Skein request/response' : 'raw dgram ping-pong'} | ${inFlight} | ${fmt(s.p50Us)} | ${fmt(s.p99Us)} | ${fmt(s.p999Us)} | ${fmt(s.roundTripsPerSec, 0)} |`,
      );
    }
    const p50 = pairedRatio(values(results, { system: 'skein', inFlight }, 'p50Us'), values(results, { system: 'dgram', inFlight }, 'p50Us'));
    const rate = pairedRatio(values(results, { system: 'skein', inFlight }, 'roundTripsPerSec'), values(results, { system: 'dgram', inFlight }, 'roundTripsPerSec'));
    summary[`ratio@${inFlight}`] = { p50: p50, throughput: rate };
    ratioRows.push(`| ${inFlight} | ${p50.paired.median.toFixed(2)}× (${p50.paired.min.toFixed(2)}–${p50.paired.max.toFixed(2)}) | ${rate.paired.median.toFixed(2)}× (${rate.paired.min.toFixed(2)}–${rate.paired.max.toFixed(2)}) |`);
  }
  const skein1 = summary['ratio@1'] as { p50: { paired: Spread } };
  const skein64 = summary['skein@64'] as { roundTripsPerSec: Spread | null };
  const targetP50 = skein1.p50.paired.median;
  const rate64 = skein64.roundTripsPerSec?.median ?? 0;
  const markdown = [
    `Node ${system.node}, ${system.cpuModel}, ${system.cores} cores; ${repetitions} repetitions${options.quick ? ' (quick)' : ''}, ${MESSAGE_LENGTH}-byte requests, medians with (min–max).`,
    '',
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
    ...(failures.length === 0 ? [] : ['', 'Failures:', '', ...failures.map((f) => `- ${f}`)]),
  ].join('\n');
  const result = {
    suite: 'rr',
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    durationS: Math.round((performance.now() - startMs) / 100) / 10,
    quick: options.quick,
    repetitions,
    timing: plan.timing,
    system,
    summary,
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
