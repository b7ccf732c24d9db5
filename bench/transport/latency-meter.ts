/**
 * Records round-trip times in an HDR histogram (pure JavaScript build, nanoseconds, 3 significant
 * digits) over one window: recording starts `warmupMs` after the first round trip and stops
 * `measureMs` later.
 */
import { build, encodeIntoCompressedBase64, type Histogram } from 'hdr-histogram-js';
import type { Metrics } from '../support/child-messages.js';
import type { ThroughputWindow } from './throughput-meter.js';

export function createHistogram(): Histogram {
  return build({ useWebAssembly: false, lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: 3 });
}

export class LatencyMeter {
  readonly histogram = createHistogram();
  private firstMs = -1;
  private recordFromMs = 0;
  private recordUntilMs = 0;
  private recordingStartMs = 0;
  private startCpu: NodeJS.CpuUsage | null = null;
  private finished = false;

  constructor(private readonly window: ThroughputWindow) {}

  get isFinished(): boolean {
    return this.finished;
  }

  /**
   * Records one round trip that was sent at `sentMs` and came back at `nowMs` (both from
   * performance.now()). Returns false once the window has closed.
   */
  record(sentMs: number, nowMs: number): boolean {
    if (this.firstMs < 0) {
      this.firstMs = nowMs;
      this.recordFromMs = nowMs + this.window.warmupMs;
      this.recordUntilMs = this.recordFromMs + this.window.measureMs;
    }
    if (nowMs < this.recordFromMs) return true;
    if (this.startCpu === null) {
      this.startCpu = process.cpuUsage();
      this.recordingStartMs = nowMs;
    }
    if (nowMs >= this.recordUntilMs) {
      this.finished = true;
      return false;
    }
    this.histogram.recordValue(Math.max(1, Math.round((nowMs - sentMs) * 1e6)));
    return true;
  }

  /** Percentiles in microseconds, the sample count, the rate, CPU use and the histogram. */
  summary(nowMs: number): Metrics {
    const elapsedMs = nowMs - this.recordingStartMs;
    const cpu = this.startCpu === null ? null : process.cpuUsage(this.startCpu);
    return {
      ...summarizeHistogram(this.histogram),
      roundTripsPerSec: elapsedMs > 0 ? (this.histogram.totalCount * 1000) / elapsedMs : 0,
      pingCpuPct: cpu === null || elapsedMs <= 0 ? null : (cpu.user + cpu.system) / 10 / elapsedMs,
    };
  }
}

/** Percentiles of a nanosecond histogram in microseconds, its count, and itself (compressed, base64). */
export function summarizeHistogram(h: Histogram): Metrics {
  const us = (ns: number): number => Math.round(ns) / 1000;
  // A percentile reports the top of its bucket, which may lie above the largest value recorded.
  const at = (percentile: number): number => us(Math.min(h.getValueAtPercentile(percentile), h.maxValue));
  return {
    count: h.totalCount,
    p50Us: at(50),
    p90Us: at(90),
    p99Us: at(99),
    p999Us: at(99.9),
    maxUs: us(h.maxValue),
    meanUs: us(h.mean),
    histogram: encodeIntoCompressedBase64(h),
  };
}
