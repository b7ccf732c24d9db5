/**
 * Measures round trips in the manner of Aeron's Ping sample: one message in flight, stamped with
 * its send time and sequence number, echoed back by a pong; each round trip is recorded in an HDR
 * histogram in nanoseconds. Used by `skein ping` and `skein demo`.
 *
 * The payload layout is drawn in `ping-payload.ts`.
 */
import { build, type Histogram } from 'hdr-histogram-js';
import type { Publication } from '../client/publication.js';
import type { Subscription } from '../client/subscription.js';
import { ADMIN_ACTION, CLOSED, MAX_POSITION_EXCEEDED, publicationCodeName } from '../client/publication-codes.js';
import { FragmentAssembler } from '../logbuffer/fragment-assembler.js';
import { readSequence } from './sequence-payload.js';
import { PING_LENGTH_MIN, PING_SENT_TIME_OFFSET, PING_SEQUENCE_OFFSET } from './ping-payload.js';

const TWO_POW_32 = 4_294_967_296;

export interface PingMeasurementOptions {
  readonly publication: Publication;
  readonly subscription: Subscription;
  /** Message length in bytes, at least {@link PING_LENGTH_MIN}. */
  readonly size: number;
  /** Round trips made before recording starts. */
  readonly warmup: number;
  /** Round trips recorded. */
  readonly count: number;
  /** Fail when no reply comes for this long. */
  readonly replyTimeoutMs: number;
}

export interface PingSummary {
  count: number;
  p50Us: number;
  p90Us: number;
  p99Us: number;
  p999Us: number;
  maxUs: number;
  meanUs: number;
}

/** A histogram of nanoseconds from 1 ns to 60 s with 3 significant digits (pure JavaScript). */
export function createLatencyHistogram(): Histogram {
  return build({ useWebAssembly: false, lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: 3 });
}

/** Percentiles of a nanosecond histogram, in microseconds rounded to 0.001. */
export function summarize(histogram: Histogram): PingSummary {
  const us = (ns: number): number => Math.round(ns) / 1000;
  // A percentile reports the top of its bucket, which can lie above the largest value recorded.
  const at = (percentile: number): number => us(Math.min(histogram.getValueAtPercentile(percentile), histogram.maxValue));
  return {
    count: histogram.totalCount,
    p50Us: at(50),
    p90Us: at(90),
    p99Us: at(99),
    p999Us: at(99.9),
    maxUs: us(histogram.maxValue),
    meanUs: histogram.totalCount === 0 ? 0 : us(histogram.mean),
  };
}

export class PingMeasurement {
  readonly histogram: Histogram = createLatencyHistogram();
  /** Offers that did not go through at once and were retried on the next turn. */
  retries = 0;
  private readonly payload: Uint8Array;
  private readonly view: DataView;
  private readonly scratch = new Uint8Array(8);
  private readonly scratchView = new DataView(this.scratch.buffer);
  private readonly assembler: FragmentAssembler;
  private readonly total: number;
  private sequence = 0;
  private lastProgressMs = 0;
  private settled = false;
  private resolve: (histogram: Histogram) => void = () => undefined;
  private reject: (error: Error) => void = () => undefined;
  private watchdog: ReturnType<typeof setInterval> | null = null;
  private readonly sendBound = (): void => this.sendPing();

  constructor(private readonly options: PingMeasurementOptions) {
    this.payload = new Uint8Array(options.size);
    this.view = new DataView(this.payload.buffer);
    this.total = options.warmup + options.count;
    this.assembler = new FragmentAssembler((buffer, offset, length) => this.onPong(buffer, offset, length));
  }

  /** Round trips completed so far, warm-up included. */
  get completed(): number {
    return this.sequence;
  }

  /** Runs all round trips; resolves with the histogram of the recorded ones. */
  run(): Promise<Histogram> {
    return new Promise<Histogram>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
      if (this.total === 0) {
        this.settle(null);
        return;
      }
      this.lastProgressMs = performance.now();
      this.watchdog = setInterval(() => this.checkProgress(), Math.min(1000, this.options.replyTimeoutMs));
      this.watchdog.unref();
      this.options.subscription.onFragment(this.assembler.onFragment, 16);
      this.sendPing();
    });
  }

  /** Stops early (e.g. on a signal); the promise resolves with what was recorded. */
  stop(): void {
    this.settle(null);
  }

  private sendPing(): void {
    if (this.settled) return;
    const view = this.view;
    view.setUint32(PING_SEQUENCE_OFFSET, this.sequence % TWO_POW_32, true);
    view.setUint32(PING_SEQUENCE_OFFSET + 4, Math.floor(this.sequence / TWO_POW_32), true);
    let result = ADMIN_ACTION;
    for (let attempt = 0; attempt < 3 && result === ADMIN_ACTION; attempt++) {
      view.setFloat64(PING_SENT_TIME_OFFSET, performance.now(), true);
      result = this.options.publication.offer(this.payload, 0, this.payload.length);
    }
    if (result >= 0) return;
    if (result === CLOSED || result === MAX_POSITION_EXCEEDED) {
      this.settle(new Error(`ping offer failed with ${publicationCodeName(result)} at round trip ${this.sequence}`));
      return;
    }
    this.retries++;
    setImmediate(this.sendBound);
  }

  private onPong(buffer: Uint8Array, offset: number, length: number): void {
    if (this.settled || length < PING_LENGTH_MIN) return;
    if (readSequence(buffer, offset + PING_SEQUENCE_OFFSET) !== this.sequence) return;
    const now = performance.now();
    const scratch = this.scratch;
    for (let i = 0; i < 8; i++) scratch[i] = buffer[offset + PING_SENT_TIME_OFFSET + i]!;
    const sentMs = this.scratchView.getFloat64(0, true);
    if (this.sequence >= this.options.warmup) {
      this.histogram.recordValue(Math.max(1, Math.round((now - sentMs) * 1e6)));
    }
    this.sequence++;
    this.lastProgressMs = now;
    if (this.sequence >= this.total) this.settle(null);
    else this.sendPing();
  }

  private checkProgress(): void {
    const silentMs = performance.now() - this.lastProgressMs;
    if (silentMs > this.options.replyTimeoutMs) {
      this.settle(new Error(`no reply to ping ${this.sequence} within ${this.options.replyTimeoutMs} ms (is pong running?)`));
    }
  }

  private settle(error: Error | null): void {
    if (this.settled) return;
    this.settled = true;
    if (this.watchdog !== null) clearInterval(this.watchdog);
    this.options.subscription.stopFragments();
    if (error === null) this.resolve(this.histogram);
    else this.reject(error);
  }
}
