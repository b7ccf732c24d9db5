import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { build, encodeIntoCompressedBase64 } from 'hdr-histogram-js';
import type { Metrics } from '../../../bench/support/child-messages.js';
import { charts, compare, markdownTables, mergedHistogram, percentilePoints, type PeerResults } from '../../../bench/peers/peers-report.js';
import type { ScenarioSpec, SystemSpec } from '../../../bench/peers/systems.js';
import { checkWellFormed, occurrences } from './xml-check.js';

const plan = async (): Promise<never[]> => [];
const SYSTEMS: SystemSpec[] = [
  { id: 'skein-udp', scenario: 'oneway', label: 'Skein UDP', kind: 'skein', plan },
  { id: 'dgram', scenario: 'oneway', label: 'dgram', kind: 'baseline', plan },
  { id: 'nats', scenario: 'oneway', label: 'NATS', kind: 'peer', plan },
  { id: 'redis', scenario: 'oneway', label: 'Redis', kind: 'peer', plan },
  { id: 'skein-udp', scenario: 'rr', label: 'Skein UDP', kind: 'skein', plan },
  { id: 'nats-request', scenario: 'rr', label: 'NATS request', kind: 'peer', plan },
  { id: 'nats-jetstream', scenario: 'rr', label: 'JetStream', kind: 'peer', excludedFromBest: true, plan },
];
const SCENARIOS: ScenarioSpec[] = [
  { id: 'oneway', title: 'One-way', phases: [{ key: '32', label: '32 B', length: 32, inFlight: 1 }, { key: '65536', label: '64 KiB', length: 65536, inFlight: 1 }] },
  { id: 'rr', title: 'Request/response', phases: [{ key: 'x1', label: '1 in flight', length: 32, inFlight: 1 }, { key: 'x16', label: '16 in flight', length: 32, inFlight: 16 }] },
];

const rate = (msgsPerSec: number): Metrics => ({ msgsPerSec, mbPerSec: msgsPerSec / 1e4, lossPct: 0, receiverCpuPct: 90 });

function latency(p50Us: number, roundTripsPerSec: number): Metrics {
  const histogram = build({ useWebAssembly: false, lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: 3 });
  for (let i = 1; i <= 1000; i++) histogram.recordValue(Math.round(p50Us * 1000 * (i / 500)));
  return { p50Us, p90Us: p50Us * 1.8, p99Us: p50Us * 2, p999Us: p50Us * 2, maxUs: p50Us * 2, roundTripsPerSec, histogram: encodeIntoCompressedBase64(histogram) };
}

const RESULTS: PeerResults = {
  oneway: {
    'skein-udp': { '32': [rate(300), rate(330), null], '65536': [rate(3), rate(3), rate(3)] },
    dgram: { '32': [rate(900), rate(900), rate(900)] },
    nats: { '32': [rate(100), rate(110), rate(120)], '65536': [rate(2), rate(2), rate(2)] },
    redis: { '32': [rate(50), rate(50), rate(50)], '65536': [rate(4), rate(4), rate(4)] },
  },
  rr: {
    'skein-udp': { x1: [latency(20, 40_000), latency(22, 38_000), latency(21, 39_000)], x16: [latency(30, 300_000), latency(30, 300_000), latency(30, 300_000)] },
    'nats-request': { x1: [latency(100, 9000), latency(110, 8000), latency(90, 10_000)], x16: [latency(200, 50_000), latency(200, 50_000), latency(200, 50_000)] },
    'nats-jetstream': { x1: [latency(10, 90_000), latency(10, 90_000), latency(10, 90_000)], x16: [latency(10, 900_000), latency(10, 900_000), latency(10, 900_000)] },
  },
};

const context = { scenarios: SCENARIOS, systems: SYSTEMS, results: RESULTS, repetitions: 3 };

describe('peers report', () => {
  it('compares against the best peer, never a baseline, Skein or an excluded peer', () => {
    const comparisons = compare(context);
    const oneway32 = comparisons.find((c) => c.scenario === 'oneway' && c.phase === '32' && c.metric === 'msgsPerSec')!;
    assert.equal(oneway32.bestPeer, 'nats');
    const skein = oneway32.rows.find((r) => r.system === 'skein-udp')!;
    assert.equal(skein.spread.count, 2, 'the failed repetition is left out');
    assert.equal(skein.vsBestPeer!.paired.count, 2);
    assert.equal(skein.vsBestPeer!.paired.min, 3);
    assert.equal(skein.vsBestPeer!.value, 315 / 110);
    assert.equal(oneway32.skeinVs['skein-udp']!.dgram!.value, 315 / 900);
    const big = comparisons.find((c) => c.scenario === 'oneway' && c.phase === '65536')!;
    assert.equal(big.bestPeer, 'redis');
    const p50 = comparisons.find((c) => c.scenario === 'rr' && c.phase === 'x1' && c.metric === 'p50Us')!;
    assert.equal(p50.bestPeer, 'nats-request', 'JetStream is kept out of the choice');
    assert.equal(p50.rows.find((r) => r.system === 'skein-udp')!.vsBestPeer!.value, 21 / 100);
    const x16 = comparisons.find((c) => c.scenario === 'rr' && c.phase === 'x16')!;
    assert.equal(x16.metric, 'roundTripsPerSec');
    assert.equal(x16.rows.find((r) => r.system === 'skein-udp')!.vsBestPeer!.value, 6);
  });

  it('writes a table per phase with a row per system, n/a where a phase does not apply', () => {
    const comparisons = compare(context);
    const markdown = markdownTables(context, comparisons, new Map([['oneway/32', 'charts/x.svg']]));
    assert.equal(occurrences(markdown, '#### '), 4);
    assert.ok(markdown.includes('| **Skein UDP** | 315 (300–330) |'), markdown);
    assert.ok(markdown.includes('| dgram | not applicable |'));
    assert.ok(markdown.includes('2.86× (3.00–3.00)'));
    assert.ok(markdown.includes('![One-way, 32 B](charts/x.svg)'));
    assert.ok(markdown.includes('Best peer: NATS.'));
  });

  it('draws a bar chart per throughput phase and a latency curve per request/response phase', () => {
    const drawn = charts(context, compare(context));
    assert.deepEqual([...drawn.keys()].sort(), ['oneway/32', 'oneway/65536', 'rr/x1/latency', 'rr/x16', 'rr/x16/latency']);
    const bars = drawn.get('oneway/32')!.svg;
    checkWellFormed(bars);
    assert.equal(occurrences(bars, 'class="bar"'), 4);
    const noDgram = drawn.get('oneway/65536')!.svg;
    assert.equal(occurrences(noDgram, 'class="bar"'), 3);
    assert.ok(noDgram.includes('not applicable'));
    const curves = drawn.get('rr/x1/latency')!.svg;
    checkWellFormed(curves);
    assert.equal(occurrences(curves, 'class="curve"'), 3);
    assert.equal(occurrences(curves, 'class="point"'), 3 * 12);
  });

  it('adds the histograms of the repetitions before taking percentiles', () => {
    const merged = mergedHistogram([latency(20, 1), null, latency(40, 1)])!;
    assert.equal(merged.totalCount, 2000);
    const points = percentilePoints(merged);
    assert.equal(points.length, 12);
    assert.equal(points.at(-1)!.percentile, 100);
    for (let i = 1; i < points.length; i++) assert.ok(points[i]!.value >= points[i - 1]!.value);
    // Uniform over 0–40 µs and over 0–80 µs, 1000 each: half of all lie below 80/3 µs.
    assert.ok(Math.abs(points.find((p) => p.percentile === 50)!.value - 80 / 3) < 0.1, `p50 ${points.find((p) => p.percentile === 50)!.value}`);
    assert.equal(mergedHistogram([null]), null);
  });
});
