import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { barChartSvg, escapeXml, formatQuantity, niceCeiling, percentileAxisPosition, percentileChartSvg, PERCENTILE_AXIS_MAX } from '../../../bench/support/svg-chart.js';
import { checkWellFormed, occurrences } from './xml-check.js';

describe('barChartSvg', () => {
  it('draws one bar and one whisker per finite value and writes well-formed SVG', () => {
    const svg = barChartSvg({
      title: 'One-way <32 B> & "more"',
      unit: 'msgs/s',
      bars: [
        { label: 'Skein UDP', value: 1_200_000, min: 1_000_000, max: 1_300_000, highlight: true, note: '1.50× best peer' },
        { label: 'NATS', value: 800_000, min: 700_000, max: 900_000 },
        { label: 'dgram & friends', value: Number.NaN, note: 'not applicable' },
        { label: 'Redis', value: 100_000 },
      ],
    });
    const { root, elements } = checkWellFormed(svg);
    assert.equal(root, 'svg');
    assert.equal(occurrences(svg, 'class="bar"'), 3);
    assert.equal(occurrences(svg, 'class="range"'), 2);
    assert.ok((elements.get('text') ?? 0) >= 4 + 3, 'a label per bar and a value per drawn bar');
    assert.ok(svg.includes('One-way &lt;32 B&gt; &amp; &quot;more&quot;'));
    assert.ok(svg.includes('not applicable'));
    assert.ok(svg.includes('1.2M'));
  });

  it('scales bars linearly from zero: twice the value, twice the width', () => {
    const svg = barChartSvg({ title: 't', unit: 'u', bars: [{ label: 'a', value: 50 }, { label: 'b', value: 100 }] });
    const widths = [...svg.matchAll(/class="bar" x="[\d.]+" y="[\d.]+" width="([\d.]+)"/g)].map((m) => Number(m[1]));
    assert.equal(widths.length, 2);
    assert.ok(Math.abs(widths[1]! - 2 * widths[0]!) <= 0.2, `widths ${widths.join(', ')}`);
  });

  it('stays well-formed for any labels and values', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ label: fc.string({ maxLength: 30 }), value: fc.oneof(fc.double({ min: 0, max: 1e9, noNaN: true }), fc.constant(Number.NaN)) }), { maxLength: 12 }),
        (bars) => {
          const svg = barChartSvg({ title: 'p', unit: 'u', bars });
          checkWellFormed(svg);
          assert.equal(occurrences(svg, 'class="bar"'), bars.filter((b) => Number.isFinite(b.value)).length);
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe('percentileChartSvg', () => {
  const points = (scale: number) => [0, 50, 90, 99, 99.9, 100].map((percentile, i) => ({ percentile, value: scale * (i + 1) }));

  it('draws a polyline with a dot per point for every curve, and a legend entry', () => {
    const svg = percentileChartSvg({ title: 'Round trip', unit: 'µs', curves: [{ label: 'Skein', points: points(10), highlight: true }, { label: 'NATS', points: points(100) }] });
    const { elements } = checkWellFormed(svg);
    assert.equal(occurrences(svg, 'class="curve"'), 2);
    assert.equal(occurrences(svg, 'class="point"'), 12);
    assert.ok((elements.get('polyline') ?? 0) === 2);
    for (const label of ['Skein', 'NATS', '99.9%', 'max']) assert.ok(svg.includes(`>${label}<`), label);
  });

  it('leaves out points that cannot be drawn on a log axis', () => {
    const svg = percentileChartSvg({ title: 't', unit: 'µs', curves: [{ label: 'a', points: [{ percentile: 50, value: 0 }, { percentile: 90, value: Number.NaN }, { percentile: 99, value: 5 }] }] });
    checkWellFormed(svg);
    assert.equal(occurrences(svg, 'class="point"'), 1);
  });

  it('puts each "nine" one step further along the x axis', () => {
    assert.equal(percentileAxisPosition(0), 0);
    assert.ok(Math.abs(percentileAxisPosition(90) - 1) < 1e-9);
    assert.ok(Math.abs(percentileAxisPosition(99) - 2) < 1e-9);
    assert.ok(Math.abs(percentileAxisPosition(99.9) - 3) < 1e-9);
    assert.equal(percentileAxisPosition(100), percentileAxisPosition(PERCENTILE_AXIS_MAX));
  });
});

describe('chart helpers', () => {
  it('niceCeiling is at least the value and at most twice it', () => {
    fc.assert(
      fc.property(fc.double({ min: 1e-6, max: 1e12, noNaN: true }), (value) => {
        const nice = niceCeiling(value);
        assert.ok(nice >= value * (1 - 1e-9) && nice <= 2 * value * (1 + 1e-9), `${value} -> ${nice}`);
      }),
      { numRuns: 200 },
    );
    assert.equal(niceCeiling(0), 1);
    assert.equal(niceCeiling(730), 1000);
    assert.equal(niceCeiling(2100), 2500);
  });

  it('escapes the five XML specials', () => {
    assert.equal(escapeXml(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&apos;&amp;&apos;&lt;/a&gt;');
  });
});

describe('formatQuantity', () => {
  it('keeps three significant digits and drops trailing zeros', () => {
    const cases: [number, string][] = [[0, '0'], [0.1, '0.1'], [7.25, '7.25'], [42.04, '42'], [999, '999'], [1000, '1k'], [1234, '1.23k'], [36_500, '36.5k'], [100_000, '100k'], [2_500_000, '2.5M'], [3e9, '3G'], [Number.NaN, 'n/a']];
    for (const [value, text] of cases) assert.equal(formatQuantity(value), text, String(value));
  });
});
