/**
 * Turns the repetitions of the peers suite into tables and charts: per scenario and phase the
 * median (min–max) of each system, its ratio against the best peer measured in the same run
 * (repetition by repetition), Skein against every other system, a Markdown report and SVG charts.
 */
import { build, decodeFromCompressedBase64, type Histogram } from 'hdr-histogram-js';
import type { Metrics } from '../support/child-messages.js';
import { pairedRatio, rankAgainstBest, type Better, type PairedRatio } from '../support/compare.js';
import { spreadOf, type Spread } from '../support/stats.js';
import { barChartSvg, formatQuantity, percentileChartSvg, type Curve, type PercentilePoint } from '../support/svg-chart.js';
import type { PhaseSpec, ScenarioId, ScenarioSpec, SystemSpec } from './systems.js';

/** results[scenario][system][phaseKey][repetition]: a metric set, or null where the repetition failed or was skipped. */
export type PeerResults = Record<string, Record<string, Record<string, (Metrics | null)[]>>>;

export interface MetricSpec {
  readonly key: string;
  readonly label: string;
  readonly better: Better;
  readonly format: (value: number) => string;
}

const rate = (v: number): string => formatQuantity(v);
const us = (v: number): string => (Number.isFinite(v) ? (v >= 100 ? v.toFixed(0) : v.toFixed(1)) : 'n/a');
const fixed = (digits: number) => (v: number): string => (Number.isFinite(v) ? v.toFixed(digits) : 'n/a');

export function formatRatio(ratio: PairedRatio | null): string {
  if (ratio === null || !Number.isFinite(ratio.value)) return 'n/a';
  const range = ratio.paired.count > 1 ? ` (${ratio.paired.min.toFixed(2)}–${ratio.paired.max.toFixed(2)})` : '';
  return `${ratio.value.toFixed(2)}×${range}`;
}

const M = {
  msgsPerSec: { key: 'msgsPerSec', label: 'msgs/s', better: 'higher', format: rate },
  slowestMsgsPerSec: { key: 'msgsPerSec', label: 'msgs/s per subscriber (slowest)', better: 'higher', format: rate },
  deliveredMsgsPerSec: { key: 'deliveredMsgsPerSec', label: 'delivered msgs/s (all 4)', better: 'higher', format: rate },
  mbPerSec: { key: 'mbPerSec', label: 'MB/s', better: 'higher', format: fixed(1) },
  lossPct: { key: 'lossPct', label: 'loss %', better: 'lower', format: fixed(2) },
  receiverCpuPct: { key: 'receiverCpuPct', label: 'receiver CPU %', better: 'lower', format: fixed(0) },
  roundTripsPerSec: { key: 'roundTripsPerSec', label: 'round trips/s', better: 'higher', format: rate },
  p50Us: { key: 'p50Us', label: 'p50 µs', better: 'lower', format: us },
  p90Us: { key: 'p90Us', label: 'p90 µs', better: 'lower', format: us },
  p99Us: { key: 'p99Us', label: 'p99 µs', better: 'lower', format: us },
  p999Us: { key: 'p999Us', label: 'p99.9 µs', better: 'lower', format: us },
  maxUs: { key: 'maxUs', label: 'max µs', better: 'lower', format: us },
} as const satisfies Record<string, MetricSpec>;

/** The columns of a phase's table, and which of them are compared against the best peer. */
export function metricsOf(scenario: ScenarioId, phase: PhaseSpec): { shown: readonly MetricSpec[]; compared: readonly MetricSpec[] } {
  if (scenario === 'oneway') return { shown: [M.msgsPerSec, M.mbPerSec, M.lossPct, M.receiverCpuPct], compared: [M.msgsPerSec] };
  if (scenario === 'fanout') return { shown: [M.slowestMsgsPerSec, M.deliveredMsgsPerSec, M.lossPct], compared: [M.slowestMsgsPerSec] };
  if (phase.inFlight === 1) return { shown: [M.p50Us, M.p90Us, M.p99Us, M.p999Us, M.maxUs, M.roundTripsPerSec], compared: [M.p50Us, M.p99Us] };
  return { shown: [M.roundTripsPerSec, M.p50Us, M.p99Us, M.p999Us], compared: [M.roundTripsPerSec] };
}

/** One metric of one system over the repetitions (NaN where missing). */
export function valuesOf(reps: readonly (Metrics | null)[] | undefined, key: string, repetitions: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < repetitions; i++) {
    const value = reps?.[i]?.[key];
    out.push(typeof value === 'number' ? value : Number.NaN);
  }
  return out;
}

export interface ComparisonRow {
  readonly system: string;
  readonly spread: Spread;
  readonly vsBestPeer: PairedRatio | null;
}

export interface Comparison {
  readonly scenario: ScenarioId;
  readonly phase: string;
  readonly metric: string;
  readonly better: Better;
  readonly bestPeer: string | null;
  readonly rows: readonly ComparisonRow[];
  /** Each Skein system against every other system, repetition by repetition. */
  readonly skeinVs: Record<string, Record<string, PairedRatio>>;
}

export interface ReportContext {
  readonly scenarios: readonly ScenarioSpec[];
  readonly systems: readonly SystemSpec[];
  readonly results: PeerResults;
  readonly repetitions: number;
}

function systemsOf(context: ReportContext, scenario: ScenarioId): SystemSpec[] {
  return context.systems.filter((s) => s.scenario === scenario && context.results[scenario]?.[s.id] !== undefined);
}

export function compare(context: ReportContext): Comparison[] {
  const out: Comparison[] = [];
  for (const scenario of context.scenarios) {
    const systems = systemsOf(context, scenario.id);
    for (const phase of scenario.phases) {
      for (const metric of metricsOf(scenario.id, phase).compared) {
        const values = new Map(systems.map((s) => [s.id, valuesOf(context.results[scenario.id]![s.id]![phase.key], metric.key, context.repetitions)]));
        const ranked = rankAgainstBest(
          systems.map((s) => ({ id: s.id, competes: s.kind === 'peer' && s.excludedFromBest !== true, values: values.get(s.id)! })),
          metric.better,
        );
        const skeinVs: Record<string, Record<string, PairedRatio>> = {};
        for (const skein of systems.filter((s) => s.kind === 'skein')) {
          skeinVs[skein.id] = Object.fromEntries(systems.filter((s) => s !== skein).map((s) => [s.id, pairedRatio(values.get(skein.id)!, values.get(s.id)!)]));
        }
        out.push({
          scenario: scenario.id,
          phase: phase.key,
          metric: metric.key,
          better: metric.better,
          bestPeer: ranked.bestId,
          rows: ranked.rows.map((r) => ({ system: r.id, spread: r.spread, vsBestPeer: r.vsBest })),
          skeinVs,
        });
      }
    }
  }
  return out;
}

function cell(spread: Spread, format: (v: number) => string): string {
  if (spread.count === 0) return 'n/a';
  if (spread.count === 1) return format(spread.median);
  return `${format(spread.median)} (${format(spread.min)}–${format(spread.max)})`;
}

/** The Markdown tables of every scenario and phase, with chart links. */
export function markdownTables(context: ReportContext, comparisons: readonly Comparison[], charts: ReadonlyMap<string, string>): string {
  const lines: string[] = [];
  for (const scenario of context.scenarios) {
    const systems = systemsOf(context, scenario.id);
    if (systems.length === 0) continue;
    lines.push(`### ${scenario.title}`, '');
    for (const phase of scenario.phases) {
      const { shown, compared } = metricsOf(scenario.id, phase);
      const phaseComparisons = compared.map((m) => comparisons.find((c) => c.scenario === scenario.id && c.phase === phase.key && c.metric === m.key)!);
      const best = phaseComparisons[0]?.bestPeer ?? null;
      const bestLabel = best === null ? 'none measured' : systems.find((s) => s.id === best)!.label;
      lines.push(`#### ${scenario.title}: ${phase.label}`, '', `Best peer: ${bestLabel}.`, '');
      lines.push(
        `| System | ${shown.map((m) => m.label).join(' | ')} | ${compared.map((m) => `${m.label} vs best peer`).join(' | ')} |`,
        `|---|${shown.map(() => '---:').join('|')}|${compared.map(() => '---:').join('|')}|`,
      );
      for (const system of systems) {
        const reps = context.results[scenario.id]![system.id]![phase.key];
        const name = system.kind === 'skein' ? `**${system.label}**` : system.label;
        if (reps === undefined || reps.every((r) => r === null)) {
          const why = reps === undefined ? 'not applicable' : 'no result';
          lines.push(`| ${name} | ${shown.map(() => why).join(' | ')} | ${compared.map(() => '').join(' | ')} |`);
          continue;
        }
        const cells = shown.map((m) => cell(spreadOf(valuesOf(reps, m.key, context.repetitions)), m.format));
        const ratios = phaseComparisons.map((c) => formatRatio(c.rows.find((r) => r.system === system.id)?.vsBestPeer ?? null));
        lines.push(`| ${name} | ${cells.join(' | ')} | ${ratios.join(' | ')} |`);
      }
      const bars = charts.get(`${scenario.id}/${phase.key}`);
      if (bars !== undefined) lines.push('', `![${scenario.title}, ${phase.label}](${bars})`);
      const curves = charts.get(`${scenario.id}/${phase.key}/latency`);
      if (curves !== undefined) lines.push('', `![${scenario.title}, ${phase.label}: latency by percentile](${curves})`);
      lines.push('');
    }
  }
  return lines.join('\n');
}

/** What each system is, as measured. */
export function markdownNotes(context: ReportContext): string {
  const lines = ['| Scenario | System | Kind | What is measured |', '|---|---|---|---|'];
  for (const scenario of context.scenarios) {
    for (const system of systemsOf(context, scenario.id)) lines.push(`| ${scenario.title} | ${system.label} | ${system.kind} | ${system.note ?? ''} |`);
  }
  return lines.join('\n');
}

// ---- charts ------------------------------------------------------------------------------------

const CURVE_PERCENTILES = [0, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 99.95, 99.99];

/** All repetitions' histograms of one phase added together; null when there are none. */
export function mergedHistogram(reps: readonly (Metrics | null)[]): Histogram | null {
  let merged: Histogram | null = null;
  for (const rep of reps) {
    const encoded = rep?.histogram;
    if (typeof encoded !== 'string') continue;
    const histogram = decodeFromCompressedBase64(encoded, 32, false);
    merged ??= build({ useWebAssembly: false, lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: 3 });
    merged.add(histogram);
  }
  return merged;
}

/** Percentile points in µs (the maximum last, at 100). */
export function percentilePoints(histogram: Histogram): PercentilePoint[] {
  const points = CURVE_PERCENTILES.map((p) => ({ percentile: p, value: Math.min(histogram.getValueAtPercentile(p), histogram.maxValue) / 1000 }));
  points.push({ percentile: 100, value: histogram.maxValue / 1000 });
  return points;
}

/** SVG charts keyed `<scenario>/<phase key>` (bars) and `rr/latency` (percentile curves). */
export function charts(context: ReportContext, comparisons: readonly Comparison[]): Map<string, { title: string; svg: string }> {
  const out = new Map<string, { title: string; svg: string }>();
  for (const scenario of context.scenarios) {
    const systems = systemsOf(context, scenario.id);
    if (systems.length === 0) continue;
    for (const phase of scenario.phases) {
      const metric = metricsOf(scenario.id, phase).compared[0]!;
      if (metric.better === 'higher') out.set(`${scenario.id}/${phase.key}`, barChart(context, comparisons, systems, scenario, phase, metric));
      if (scenario.id === 'rr') {
        const curves: Curve[] = [];
        for (const system of systems) {
          const histogram = mergedHistogram(context.results.rr![system.id]![phase.key] ?? []);
          if (histogram !== null && histogram.totalCount > 0) curves.push({ label: system.label, points: percentilePoints(histogram), highlight: system.kind === 'skein' });
        }
        const title = `Round trip, 32 B, ${phase.label}: latency by percentile (all repetitions)`;
        out.set(`${scenario.id}/${phase.key}/latency`, { title, svg: percentileChartSvg({ title, unit: 'round trip µs (log)', curves }) });
      }
    }
  }
  return out;
}

function barChart(
  context: ReportContext,
  comparisons: readonly Comparison[],
  systems: readonly SystemSpec[],
  scenario: ScenarioSpec,
  phase: PhaseSpec,
  metric: MetricSpec,
): { title: string; svg: string } {
  const comparison = comparisons.find((c) => c.scenario === scenario.id && c.phase === phase.key && c.metric === metric.key)!;
  const bars = systems.map((system) => {
    const row = comparison.rows.find((r) => r.system === system.id)!;
    const ratio = row.vsBestPeer;
    const applicable = context.results[scenario.id]![system.id]![phase.key] !== undefined;
    const note = !applicable ? 'not applicable' : ratio !== null && Number.isFinite(ratio.value) ? `${ratio.value.toFixed(2)}× best peer` : undefined;
    return { label: system.label, value: row.spread.median, min: row.spread.min, max: row.spread.max, highlight: system.kind === 'skein', ...(note === undefined ? {} : { note }) };
  });
  const title = `${scenario.title}: ${phase.label} (median, min–max of ${context.repetitions})`;
  return { title, svg: barChartSvg({ title, unit: metric.label, bars }) };
}
