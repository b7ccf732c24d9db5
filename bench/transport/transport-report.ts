/**
 * Turns the repetitions of the transport suite into medians with min and max, the ratios against
 * the baselines measured in the same run, the targets of issue 2, and a Markdown report.
 */
import type { Metrics } from '../support/child-messages.js';
import { ratioOf, spreadOf, type Spread } from '../support/stats.js';
import type { SystemInfo } from '../support/system-info.js';
import { MEASUREMENTS, type MeasurementId } from './transport-measurements.js';

export type Repetitions = Partial<Record<MeasurementId, Metrics[]>>;

const THROUGHPUT_METRICS = ['msgsPerSec', 'mbPerSec', 'lossPct', 'receiverCpuPct', 'senderCpuPct'] as const;
const LATENCY_METRICS = ['p50Us', 'p90Us', 'p99Us', 'p999Us', 'maxUs', 'meanUs', 'count'] as const;

export type Summary = Partial<Record<MeasurementId, Record<string, Spread>>>;

export function summarize(repetitions: Repetitions): Summary {
  const summary: Summary = {};
  for (const measurement of MEASUREMENTS) {
    const reps = repetitions[measurement.id];
    if (reps === undefined || reps.length === 0) continue;
    const names: readonly string[] =
      measurement.kind === 'throughput'
        ? THROUGHPUT_METRICS
        : measurement.kind === 'latency'
          ? LATENCY_METRICS
          : LATENCY_METRICS.flatMap((name) => [`skein.${name}`, `raw.${name}`]);
    const spreads: Record<string, Spread> = {};
    for (const name of names) spreads[name] = spreadOf(reps.map((r) => (typeof r[name] === 'number' ? (r[name] as number) : Number.NaN)));
    summary[measurement.id] = spreads;
  }
  return summary;
}

export interface Ratio {
  readonly name: string;
  readonly numerator: MeasurementId;
  readonly denominator: MeasurementId;
  readonly metric: string;
  /** The denominator's metric when it differs from `metric` (paired measurements). */
  readonly denominatorMetric?: string;
  /** Ratio of the medians. */
  readonly value: number;
  /** Range of the ratios of the repetitions run side by side. */
  readonly min: number;
  readonly max: number;
}

const RATIOS: readonly { name: string; numerator: MeasurementId; denominator: MeasurementId; metric: string; denominatorMetric?: string }[] = [
  { name: 'Skein UDP 32 B / batched dgram frames', numerator: 'skein-udp-32', denominator: 'dgram-batch-64x21', metric: 'msgsPerSec' },
  { name: 'Skein UDP 32 B / one dgram per message', numerator: 'skein-udp-32', denominator: 'dgram-single-32', metric: 'msgsPerSec' },
  { name: 'Skein UDP 32 B, mtu=8192 / default mtu', numerator: 'skein-udp-32-mtu8k', denominator: 'skein-udp-32', metric: 'msgsPerSec' },
  { name: 'Skein UDP 1 KiB, mtu=8192 / default mtu', numerator: 'skein-udp-1k-mtu8k', denominator: 'skein-udp-1k', metric: 'msgsPerSec' },
  { name: 'Skein IPC 32 B / SAB ring', numerator: 'skein-ipc-32', denominator: 'sab-ring-32', metric: 'msgsPerSec' },
  { name: 'Skein IPC 32 B, two threads / SAB ring', numerator: 'skein-ipc-threads-32', denominator: 'sab-ring-32', metric: 'msgsPerSec' },
  { name: 'Skein ping p50 / dgram ping p50', numerator: 'skein-ping-32', denominator: 'dgram-ping-32', metric: 'p50Us' },
  { name: 'Skein ping p99 / dgram ping p99', numerator: 'skein-ping-32', denominator: 'dgram-ping-32', metric: 'p99Us' },
  { name: 'Skein ping p50 / dgram ping p50, same processes', numerator: 'paired-ping-32', denominator: 'paired-ping-32', metric: 'skein.p50Us', denominatorMetric: 'raw.p50Us' },
  { name: 'Skein ping p99 / dgram ping p99, same processes', numerator: 'paired-ping-32', denominator: 'paired-ping-32', metric: 'skein.p99Us', denominatorMetric: 'raw.p99Us' },
];

export function ratios(repetitions: Repetitions, summary: Summary): Ratio[] {
  return RATIOS.map((r) => {
    const top = repetitions[r.numerator] ?? [];
    const bottom = repetitions[r.denominator] ?? [];
    const bottomMetric = r.denominatorMetric ?? r.metric;
    const paired: number[] = [];
    for (let i = 0; i < Math.min(top.length, bottom.length); i++) paired.push(ratioOf(top[i]![r.metric] as number, bottom[i]![bottomMetric] as number));
    const spread = spreadOf(paired);
    const value = ratioOf(summary[r.numerator]?.[r.metric]?.median ?? Number.NaN, summary[r.denominator]?.[bottomMetric]?.median ?? Number.NaN);
    return { ...r, value, min: spread.min, max: spread.max };
  });
}

export interface Target {
  readonly name: string;
  readonly goal: string;
  readonly value: number;
  readonly display: string;
  /** null when the measurement is missing. */
  readonly met: boolean | null;
}

export function targets(summary: Summary, ratioList: readonly Ratio[]): Target[] {
  const median = (id: MeasurementId, metric: string): number => summary[id]?.[metric]?.median ?? Number.NaN;
  const ratio = (id: MeasurementId, metric: string): number => ratioList.find((r) => r.numerator === id && r.metric === metric)?.value ?? Number.NaN;
  const check = (value: number, ok: (v: number) => boolean): boolean | null => (Number.isFinite(value) ? ok(value) : null);
  const udp = median('skein-udp-32', 'msgsPerSec');
  const ipc = median('skein-ipc-32', 'msgsPerSec');
  const p50 = ratio('skein-ping-32', 'p50Us');
  const p99 = ratio('skein-ping-32', 'p99Us');
  const pairedP50 = ratio('paired-ping-32', 'skein.p50Us');
  const pairedP99 = ratio('paired-ping-32', 'skein.p99Us');
  return [
    { name: 'Skein UDP 32 B throughput', goal: '≥ 1.2M msgs/s', value: udp, display: formatRate(udp), met: check(udp, (v) => v >= 1_200_000) },
    { name: 'Skein IPC 32 B throughput', goal: '≥ 10M msgs/s', value: ipc, display: formatRate(ipc), met: check(ipc, (v) => v >= 10_000_000) },
    { name: 'Skein ping p50 vs raw dgram', goal: '≤ 1.3×', value: p50, display: formatRatio(p50), met: check(p50, (v) => v <= 1.3) },
    { name: 'Skein ping p99 vs raw dgram', goal: '≤ 1.5×', value: p99, display: formatRatio(p99), met: check(p99, (v) => v <= 1.5) },
    { name: 'Skein ping p50 vs raw dgram, same processes', goal: '≤ 1.3×', value: pairedP50, display: formatRatio(pairedP50), met: check(pairedP50, (v) => v <= 1.3) },
    { name: 'Skein ping p99 vs raw dgram, same processes', goal: '≤ 1.5×', value: pairedP99, display: formatRatio(pairedP99), met: check(pairedP99, (v) => v <= 1.5) },
  ];
}

export function formatRate(value: number): string {
  if (!Number.isFinite(value)) return 'n/a';
  if (value >= 1e6) return `${(value / 1e6).toFixed(2)}M`;
  if (value >= 1e3) return `${(value / 1e3).toFixed(1)}k`;
  return value.toFixed(0);
}

function formatRatio(value: number): string {
  return Number.isFinite(value) ? `${value.toFixed(2)}×` : 'n/a';
}

function formatNumber(value: number, digits: number): string {
  return Number.isFinite(value) ? value.toFixed(digits) : 'n/a';
}

function cell(spread: Spread | undefined, format: (v: number) => string): string {
  if (spread === undefined || spread.count === 0) return 'n/a';
  return `${format(spread.median)} (${format(spread.min)}–${format(spread.max)})`;
}

export interface ReportInput {
  readonly system: SystemInfo;
  readonly summary: Summary;
  readonly ratios: readonly Ratio[];
  readonly targets: readonly Target[];
  readonly repetitions: number;
  readonly quick: boolean;
  readonly failures: readonly string[];
}

/** The run as Markdown: throughput and latency tables (median, min–max), ratios and targets. */
export function markdownReport(input: ReportInput): string {
  const { system, summary } = input;
  const lines: string[] = [];
  lines.push(
    `Node ${system.node}, ${system.cpuModel}, ${system.cores} cores, ${system.platform} ${system.osRelease}; ` +
      `${input.repetitions} repetitions${input.quick ? ' (quick)' : ''}; median (min–max).`,
    '',
    `Machine load at the start: load average ${system.loadAverage1m}, CPU pressure (PSI some, 10 s) ${system.cpuPressure10sPct ?? 'n/a'}%.`,
    '',
    '| Throughput | msgs/s | MB/s | sender CPU % | receiver CPU % | loss % |',
    '|---|---:|---:|---:|---:|---:|',
  );
  for (const m of MEASUREMENTS.filter((x) => x.kind === 'throughput')) {
    const s = summary[m.id];
    if (s === undefined) continue;
    const unit = m.unit === 'frames' ? ' (frames/s)' : '';
    lines.push(
      `| ${m.label}${unit} | ${cell(s.msgsPerSec, formatRate)} | ${cell(s.mbPerSec, (v) => formatNumber(v, 1))} | ` +
        `${cell(s.senderCpuPct, (v) => formatNumber(v, 0))} | ` +
        `${cell(s.receiverCpuPct, (v) => formatNumber(v, 0))} | ${cell(s.lossPct, (v) => formatNumber(v, 2))} |`,
    );
  }
  lines.push('', '| Round trip (µs) | p50 | p90 | p99 | p99.9 | max |', '|---|---:|---:|---:|---:|---:|');
  for (const m of MEASUREMENTS.filter((x) => x.kind === 'latency')) {
    const s = summary[m.id];
    if (s === undefined) continue;
    const us = (v: number): string => formatNumber(v, 1);
    lines.push(`| ${m.label} | ${cell(s.p50Us, us)} | ${cell(s.p90Us, us)} | ${cell(s.p99Us, us)} | ${cell(s.p999Us, us)} | ${cell(s.maxUs, us)} |`);
  }
  for (const m of MEASUREMENTS.filter((x) => x.kind === 'paired-latency')) {
    const s = summary[m.id];
    if (s === undefined) continue;
    const us = (v: number): string => formatNumber(v, 1);
    for (const [prefix, name] of [['skein', 'Skein'], ['raw', 'node:dgram']] as const) {
      const c = (metric: string): string => cell(s[`${prefix}.${metric}`], us);
      lines.push(`| ${name} ping-pong 32 B, same processes as the other | ${c('p50Us')} | ${c('p90Us')} | ${c('p99Us')} | ${c('p999Us')} | ${c('maxUs')} |`);
    }
  }
  lines.push('', '| Ratio | median | per-repetition range |', '|---|---:|---:|');
  for (const r of input.ratios) lines.push(`| ${r.name} | ${formatRatio(r.value)} | ${formatRatio(r.min)}–${formatRatio(r.max)} |`);
  lines.push('', '| Target (issue 2) | goal | measured | met |', '|---|---|---:|---|');
  for (const t of input.targets) lines.push(`| ${t.name} | ${t.goal} | ${t.display} | ${t.met === null ? 'n/a' : t.met ? 'yes' : 'no'} |`);
  if (input.failures.length > 0) {
    lines.push('', 'Failures:');
    for (const f of input.failures) lines.push(`- ${f.split('\n')[0]}`);
  }
  return lines.join('\n');
}
