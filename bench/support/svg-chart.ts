/**
 * Charts as standalone SVG text, drawn without a chart library: horizontal bars with min–max
 * whiskers (throughput), and latency-by-percentile curves on logarithmic axes (the HDR histogram
 * view: the x axis spreads the tail, 90 %, 99 %, 99.9 %, … an equal step apart).
 */

const FONT = 'font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif"';
const PALETTE = ['#1f77b4', '#5c6bc0', '#2ca02c', '#546e7a', '#9467bd', '#8c564b', '#26a69a', '#7f7f7f', '#bcbd22', '#17becf', '#393b79', '#637939'];
/** Colours of highlighted series (Skein), in turn. */
const HIGHLIGHT_PALETTE = ['#c2185b', '#ef6c00', '#6a1b9a'];
/** Colour of highlighted bars (Skein). */
export const HIGHLIGHT_COLOUR = HIGHLIGHT_PALETTE[0]!;
/** Approximate width of one character of the 12 px labels, for sizing the label column. */
const LABEL_CHAR_WIDTH = 6.6;

export function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

function num(value: number): string {
  return Number.isFinite(value) ? String(Math.round(value * 10) / 10) : '0';
}

/** 1234 → "1.23k", 2_500_000 → "2.5M", 0 → "0": three significant digits at most, trailing zeros dropped. */
export function formatQuantity(value: number): string {
  if (!Number.isFinite(value)) return 'n/a';
  const abs = Math.abs(value);
  const [scaled, suffix] = abs >= 1e9 ? [value / 1e9, 'G'] : abs >= 1e6 ? [value / 1e6, 'M'] : abs >= 1e3 ? [value / 1e3, 'k'] : [value, ''];
  const magnitude = Math.abs(scaled);
  const digits = magnitude >= 100 ? 0 : magnitude >= 10 ? 1 : 2;
  const text = scaled.toFixed(digits);
  return `${digits > 0 ? text.replace(/\.?0+$/, '') : text}${suffix}`;
}

/** The smallest of 1, 2, 2.5, 5 × 10^k that is at least `value`. */
export function niceCeiling(value: number): number {
  if (!(value > 0) || !Number.isFinite(value)) return 1;
  const decade = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * decade >= value * (1 - 1e-12)) return step * decade;
  return 10 * decade;
}

export interface Bar {
  readonly label: string;
  /** Median; a bar whose value is not finite is drawn as "n/a" with its note. */
  readonly value: number;
  readonly min?: number;
  readonly max?: number;
  readonly highlight?: boolean;
  /** Shown after the value (e.g. "0.42× best peer") or instead of it when there is no value. */
  readonly note?: string;
}

export interface BarChartInput {
  readonly title: string;
  /** Unit of the values, shown under the axis. */
  readonly unit: string;
  readonly bars: readonly Bar[];
}

const BAR = { plotWidth: 420, valueWidth: 190, rowHeight: 24, top: 48, bottom: 44 } as const;

/** Horizontal bars on a linear axis from zero, one row per bar, with a min–max whisker. */
export function barChartSvg(input: BarChartInput): string {
  const { plotWidth, valueWidth, rowHeight, top, bottom } = BAR;
  const labelWidth = Math.ceil(Math.min(420, Math.max(120, 12 + LABEL_CHAR_WIDTH * Math.max(0, ...input.bars.map((b) => b.label.length)))));
  const width = labelWidth + 10 + plotWidth + valueWidth;
  const height = top + rowHeight * input.bars.length + bottom;
  const x0 = labelWidth + 10;
  const extent = niceCeiling(Math.max(0, ...input.bars.flatMap((b) => [b.value, b.max ?? Number.NaN]).filter((v) => Number.isFinite(v))));
  const x = (v: number): number => x0 + (Math.max(0, v) / extent) * plotWidth;
  const out: string[] = [svgOpen(width, height), title(input.title, width)];
  const axisY = top + rowHeight * input.bars.length;
  for (let i = 0; i <= 5; i++) {
    const v = (extent * i) / 5;
    out.push(
      `<line class="grid" x1="${num(x(v))}" y1="${top - 4}" x2="${num(x(v))}" y2="${axisY}" stroke="#ddd"/>`,
      `<text x="${num(x(v))}" y="${axisY + 16}" font-size="11" text-anchor="middle" fill="#555">${escapeXml(formatQuantity(v))}</text>`,
    );
  }
  out.push(`<text x="${num(x0 + plotWidth / 2)}" y="${axisY + 34}" font-size="12" text-anchor="middle" fill="#333">${escapeXml(input.unit)}</text>`);
  input.bars.forEach((bar, i) => {
    const y = top + i * rowHeight;
    const mid = y + rowHeight / 2;
    const colour = bar.highlight === true ? HIGHLIGHT_COLOUR : '#4a78a8';
    const weight = bar.highlight === true ? ' font-weight="bold"' : '';
    out.push(`<text x="${labelWidth}" y="${num(mid + 4)}" font-size="12" text-anchor="end" fill="#222"${weight}>${escapeXml(bar.label)}</text>`);
    if (!Number.isFinite(bar.value)) {
      out.push(`<text x="${x0}" y="${num(mid + 4)}" font-size="11" fill="#888">${escapeXml(bar.note ?? 'n/a')}</text>`);
      return;
    }
    const end = x(bar.value);
    out.push(`<rect class="bar" x="${x0}" y="${num(y + 4)}" width="${num(end - x0)}" height="${rowHeight - 8}" fill="${colour}"/>`);
    let textX = end;
    if (bar.min !== undefined && bar.max !== undefined && Number.isFinite(bar.min) && Number.isFinite(bar.max)) {
      out.push(`<line class="range" x1="${num(x(bar.min))}" y1="${num(mid)}" x2="${num(x(bar.max))}" y2="${num(mid)}" stroke="#111" stroke-width="1.5"/>`);
      textX = Math.max(textX, x(bar.max));
    }
    const text = `${formatQuantity(bar.value)}${bar.note === undefined ? '' : `  ${bar.note}`}`;
    out.push(`<text x="${num(textX + 6)}" y="${num(mid + 4)}" font-size="11" fill="#222">${escapeXml(text)}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

export interface PercentilePoint {
  /** 0–100; 100 (the maximum) is drawn at the right edge. */
  readonly percentile: number;
  readonly value: number;
}

export interface Curve {
  readonly label: string;
  readonly points: readonly PercentilePoint[];
  readonly highlight?: boolean;
}

export interface PercentileChartInput {
  readonly title: string;
  /** Unit of the values (y axis). */
  readonly unit: string;
  readonly curves: readonly Curve[];
}

/** The rightmost percentile on the axis: the maximum is drawn here. */
export const PERCENTILE_AXIS_MAX = 99.999;
const PERCENTILE_TICKS: readonly [number, string][] = [[0, '0%'], [50, '50%'], [90, '90%'], [99, '99%'], [99.9, '99.9%'], [99.99, '99.99%'], [PERCENTILE_AXIS_MAX, 'max']];
const CURVE = { plotWidth: 560, height: 460, left: 70, top: 48, bottom: 56 } as const;

/** Position of a percentile on the x axis: log10(1 / (1 - p)), so each "nine" is one step. */
export function percentileAxisPosition(percentile: number): number {
  const p = Math.min(Math.max(percentile, 0), PERCENTILE_AXIS_MAX);
  return Math.log10(100 / (100 - p));
}

/** Latency by percentile: one polyline with a dot per point for every curve, both axes logarithmic. */
export function percentileChartSvg(input: PercentileChartInput): string {
  const { plotWidth, height, left, top, bottom } = CURVE;
  const legendWidth = Math.ceil(60 + LABEL_CHAR_WIDTH * Math.max(10, ...input.curves.map((c) => c.label.length)));
  const width = left + plotWidth + legendWidth;
  const plotHeight = height - top - bottom;
  const values = input.curves.flatMap((c) => c.points.map((p) => p.value)).filter((v) => Number.isFinite(v) && v > 0);
  const low = values.length === 0 ? 0 : Math.floor(Math.log10(Math.min(...values)));
  const high = Math.max(low + 1, values.length === 0 ? 1 : Math.ceil(Math.log10(Math.max(...values))));
  const tMax = percentileAxisPosition(PERCENTILE_AXIS_MAX);
  const x = (p: number): number => left + (percentileAxisPosition(p) / tMax) * plotWidth;
  const y = (v: number): number => top + plotHeight - ((Math.log10(Math.max(v, 10 ** low)) - low) / (high - low)) * plotHeight;
  const out: string[] = [svgOpen(width, height), title(input.title, width)];
  for (let k = low; k <= high; k++) {
    out.push(
      `<line class="grid" x1="${left}" y1="${num(y(10 ** k))}" x2="${left + plotWidth}" y2="${num(y(10 ** k))}" stroke="#ddd"/>`,
      `<text x="${left - 6}" y="${num(y(10 ** k) + 4)}" font-size="11" text-anchor="end" fill="#555">${escapeXml(formatQuantity(10 ** k))}</text>`,
    );
  }
  for (const [p, label] of PERCENTILE_TICKS) {
    out.push(
      `<line class="grid" x1="${num(x(p))}" y1="${top}" x2="${num(x(p))}" y2="${top + plotHeight}" stroke="#eee"/>`,
      `<text x="${num(x(p))}" y="${top + plotHeight + 16}" font-size="11" text-anchor="middle" fill="#555">${escapeXml(label)}</text>`,
    );
  }
  out.push(
    `<rect x="${left}" y="${top}" width="${plotWidth}" height="${plotHeight}" fill="none" stroke="#999"/>`,
    `<text x="${num(left + plotWidth / 2)}" y="${height - 12}" font-size="12" text-anchor="middle" fill="#333">percentile</text>`,
    `<text x="16" y="${num(top + plotHeight / 2)}" font-size="12" text-anchor="middle" fill="#333" transform="rotate(-90 16 ${num(top + plotHeight / 2)})">${escapeXml(input.unit)}</text>`,
  );
  let highlighted = 0;
  let plain = 0;
  input.curves.forEach((curve, i) => {
    const colour = curve.highlight === true ? HIGHLIGHT_PALETTE[highlighted++ % HIGHLIGHT_PALETTE.length]! : PALETTE[plain++ % PALETTE.length]!;
    const strokeWidth = curve.highlight === true ? 3 : 1.5;
    const points = curve.points.filter((p) => Number.isFinite(p.value) && p.value > 0);
    out.push(`<polyline class="curve" fill="none" stroke="${colour}" stroke-width="${strokeWidth}" points="${points.map((p) => `${num(x(p.percentile))},${num(y(p.value))}`).join(' ')}"/>`);
    for (const p of points) out.push(`<circle class="point" cx="${num(x(p.percentile))}" cy="${num(y(p.value))}" r="2.5" fill="${colour}"/>`);
    const legendY = top + 10 + i * 18;
    const weight = curve.highlight === true ? ' font-weight="bold"' : '';
    out.push(
      `<line x1="${left + plotWidth + 14}" y1="${legendY}" x2="${left + plotWidth + 34}" y2="${legendY}" stroke="${colour}" stroke-width="${strokeWidth}"/>`,
      `<text x="${left + plotWidth + 40}" y="${legendY + 4}" font-size="11" fill="#222"${weight}>${escapeXml(curve.label)}</text>`,
    );
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

function svgOpen(width: number, height: number): string {
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n` +
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ${FONT}>\n` +
    `<rect width="${width}" height="${height}" fill="#fff"/>`
  );
}

function title(text: string, width: number): string {
  return `<text x="${width / 2}" y="24" font-size="15" font-weight="bold" text-anchor="middle" fill="#111">${escapeXml(text)}</text>`;
}
