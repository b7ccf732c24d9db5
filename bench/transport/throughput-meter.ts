/**
 * Counts messages at a receiver and measures their rate over one window: the window opens
 * `warmupMs` after the first message (so JIT compilation, connection set-up and socket buffers
 * settle first) and lasts `measureMs`. The CPU time the process used in the window is recorded
 * too, which shows whether this side was the one saturated.
 */
import type { Metrics } from '../support/child-messages.js';

export interface ThroughputWindow {
  readonly warmupMs: number;
  readonly measureMs: number;
}

export class ThroughputMeter {
  /** Messages (or frames) received so far. */
  messages = 0;
  /** Payload bytes received so far. */
  bytes = 0;
  /** Messages whose sequence number was not the one expected. */
  sequenceErrors = 0;
  /** Sequence numbers skipped (messages lost), summed over every gap. */
  lost = 0;
  private expected = 0;
  private startCount = 0;
  private startLost = 0;
  private startBytes = 0;
  private startMs = 0;
  private startCpu: NodeJS.CpuUsage | null = null;
  private started = false;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly window: ThroughputWindow,
    private readonly onResult: (metrics: Metrics) => void,
  ) {}

  /** Counts one message carrying `sequence` (a 32-bit counter from the sender) and `length` bytes. */
  record(sequence: number, length: number): void {
    if (sequence !== this.expected) this.onGap(sequence);
    this.expected = (sequence + 1) >>> 0;
    this.messages++;
    this.bytes += length;
    if (!this.started) this.arm();
  }

  private onGap(sequence: number): void {
    this.sequenceErrors++;
    const skipped = (sequence - this.expected) >>> 0;
    if (skipped < 0x80000000) this.lost += skipped;
  }

  /** Starts the warm-up clock; called by the first record(). */
  arm(): void {
    if (this.started) return;
    this.started = true;
    this.timer = setTimeout(() => this.open(), this.window.warmupMs);
  }

  cancel(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private open(): void {
    this.startCount = this.messages;
    this.startBytes = this.bytes;
    this.startLost = this.lost;
    this.sequenceErrors = 0;
    this.startMs = performance.now();
    this.startCpu = process.cpuUsage();
    this.timer = setTimeout(() => this.close(), this.window.measureMs);
  }

  private close(): void {
    this.timer = null;
    const elapsedMs = performance.now() - this.startMs;
    const cpu = process.cpuUsage(this.startCpu ?? undefined);
    const messages = this.messages - this.startCount;
    const bytes = this.bytes - this.startBytes;
    const lost = this.lost - this.startLost;
    this.onResult({
      msgsPerSec: (messages * 1000) / elapsedMs,
      mbPerSec: bytes / 1000 / elapsedMs,
      messages,
      elapsedMs,
      receiverCpuPct: ((cpu.user + cpu.system) / 10 / elapsedMs),
      sequenceErrors: this.sequenceErrors,
      lossPct: messages + lost === 0 ? 0 : (lost * 100) / (messages + lost),
    });
  }
}
