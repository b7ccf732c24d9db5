/**
 * The request pattern of the rr suite's spacing measurements, shared by the Skein and raw dgram
 * clients: one request in flight; first back to back for `warmupMs` (JIT, connection and socket
 * buffers settle), then a pause of two spacings, then `requests` measured requests, each sent
 * `spacingMs` after the answer to the one before (a `setTimeout`, as an application's timer would).
 * At spacing 0 there is no pause, and each request goes from the previous answer's handler at
 * once. Round trips go to an HDR histogram.
 *
 * Byte 8 of every request marks its phase for the echo server, which measures its own CPU over
 * the measured requests: 0 warm-up, 1 measured, 2 the end of the window (sent after the last
 * measured answer; the result is reported once its answer is back, so the server has seen it).
 */
import type { Metrics } from '../../support/child-messages.js';
import { createHistogram, summarizeHistogram } from '../../transport/latency-meter.js';

export const SENT_MS_OFFSET = 0;
export const MARKER_OFFSET = 8;
export const MARKER_WARMUP = 0;
export const MARKER_MEASURED = 1;
export const MARKER_END = 2;
/** Requests shorter than this cannot carry the send time and the marker. */
export const SPACED_REQUEST_LENGTH_MIN = MARKER_OFFSET + 1;

export interface SpacingConfig {
  /** Time from an answer to the next request, in ms; 0 = back to back. */
  readonly spacingMs: number;
  /** Measured requests. */
  readonly requests: number;
  /** Back-to-back warm-up before the measured requests, in ms. */
  readonly warmupMs: number;
  /** Both processes keep the event loop turning between requests instead of sleeping (`--spin`). */
  readonly spin?: boolean;
}

/** Skein's idle options under `--spin`: the runner turns the event loop for up to 1 s after work. */
export const SPIN_IDLE = { spinUs: 1_000_000, adaptiveSpin: false } as const;

/**
 * Under `--spin`, keeps a raw dgram process's event loop turning (a setImmediate chain, so libuv
 * polls without blocking) as Skein's runner does with {@link SPIN_IDLE}; returns the stop function.
 */
export function spinEventLoop(): () => void {
  let spinning = true;
  const turn = (): void => {
    if (spinning) setImmediate(turn);
  };
  turn();
  return () => {
    spinning = false;
  };
}

/** Sends one request with `marker` in byte 8 and the send time in bytes 0–7 (performance.now()). */
export type SendRequest = (marker: number) => void;

type Phase = 'warmup' | 'pause' | 'measure' | 'end' | 'done';

/** CPU used by this process between two `process.cpuUsage()` readings, in % of one core. */
export function cpuPercentBetween(start: NodeJS.CpuUsage, startMs: number, endMs: number): number | null {
  const used = process.cpuUsage(start);
  return endMs > startMs ? (used.user + used.system) / 10 / (endMs - startMs) : null;
}

export class SpacedRequests {
  private readonly histogram = createHistogram();
  private phase: Phase = 'warmup';
  private warmupUntilMs = 0;
  private measured = 0;
  private firstSendMs = 0;
  private startCpu: NodeJS.CpuUsage | null = null;
  private metrics: Metrics = {};
  private timer: NodeJS.Timeout | null = null;
  private readonly sendMeasured = (): void => {
    this.timer = null;
    if (this.phase !== 'measure') return;
    if (this.startCpu === null) {
      this.startCpu = process.cpuUsage();
      this.firstSendMs = performance.now();
    }
    this.send(MARKER_MEASURED);
  };

  constructor(
    private readonly config: SpacingConfig,
    private readonly send: SendRequest,
    private readonly onResult: (metrics: Metrics) => void,
  ) {}

  /** True once the end marker's answer is back (or after stop()): nothing more to send. */
  get isDone(): boolean {
    return this.phase === 'done';
  }

  /** Sends the first warm-up request. */
  start(): void {
    this.warmupUntilMs = performance.now() + this.config.warmupMs;
    this.send(MARKER_WARMUP);
  }

  /** Sends a request again after one was lost or refused (same phase, nothing recorded). */
  resend(): void {
    if (this.phase === 'warmup') this.send(MARKER_WARMUP);
    else if (this.phase === 'measure' && this.timer === null) this.sendMeasured();
    else if (this.phase === 'end') this.send(MARKER_END);
  }

  /** Takes the answer to the request sent at `sentMs` (from the answer's bytes 0–7). */
  onAnswer(sentMs: number, nowMs: number): void {
    switch (this.phase) {
      case 'warmup':
        if (nowMs < this.warmupUntilMs) {
          this.send(MARKER_WARMUP);
          return;
        }
        if (this.config.spacingMs === 0) {
          // Back to back: straight on, as a stream of requests would go.
          this.phase = 'measure';
          this.sendMeasured();
          return;
        }
        this.phase = 'pause';
        this.timer = setTimeout(() => {
          this.phase = 'measure';
          this.sendMeasured();
        }, 2 * this.config.spacingMs);
        return;
      case 'measure':
        this.histogram.recordValue(Math.max(1, Math.round((nowMs - sentMs) * 1e6)));
        if (++this.measured < this.config.requests) {
          if (this.config.spacingMs === 0) this.sendMeasured();
          else this.timer = setTimeout(this.sendMeasured, this.config.spacingMs);
          return;
        }
        this.finish(nowMs);
        return;
      case 'end':
        this.phase = 'done';
        this.onResult(this.metrics);
        return;
      default:
        return;
    }
  }

  stop(): void {
    this.phase = 'done';
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private finish(nowMs: number): void {
    const clientCpuPct = this.startCpu === null ? null : cpuPercentBetween(this.startCpu, this.firstSendMs, nowMs);
    const elapsedMs = nowMs - this.firstSendMs;
    this.metrics = {
      ...summarizeHistogram(this.histogram),
      spacingMs: this.config.spacingMs,
      requestsPerSec: elapsedMs > 0 ? (this.measured * 1000) / elapsedMs : 0,
      clientCpuPct,
    };
    this.phase = 'end';
    this.send(MARKER_END);
  }
}

/** The echo server's side of the window: CPU from the first measured request to the end marker. */
export class EchoWindowCpu {
  private startCpu: NodeJS.CpuUsage | null = null;
  private startMs = 0;
  private cpuPct: number | null = null;

  /** Looks at a request's marker byte. */
  onRequest(marker: number): void {
    if (marker === MARKER_MEASURED && this.startCpu === null) {
      this.startCpu = process.cpuUsage();
      this.startMs = performance.now();
    } else if (marker === MARKER_END && this.startCpu !== null && this.cpuPct === null) {
      this.cpuPct = cpuPercentBetween(this.startCpu, this.startMs, performance.now());
    }
  }

  /** The server's CPU over the window in % of one core, or null when no window was seen. */
  get serverCpuPct(): number | null {
    return this.cpuPct;
  }
}
