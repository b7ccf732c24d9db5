/**
 * Prints the message and byte rates on stderr once a second: `<n> msgs/s, <n> bytes/s, totals …`.
 * The counting side only bumps two numbers (`onMessages`), so it costs nothing on a hot path.
 */
export class RateReporter {
  private messages = 0;
  private bytes = 0;
  private lastMessages = 0;
  private lastBytes = 0;
  private lastReportMs = 0;
  private timer: ReturnType<typeof setInterval> | null = null;

  constructor(
    private readonly intervalMs = 1000,
    private readonly write: (line: string) => void = (line) => void process.stderr.write(line),
  ) {}

  get totalMessages(): number {
    return this.messages;
  }

  get totalBytes(): number {
    return this.bytes;
  }

  onMessages(count: number, byteCount: number): void {
    this.messages += count;
    this.bytes += byteCount;
  }

  start(): void {
    if (this.timer !== null) return;
    this.lastReportMs = performance.now();
    this.timer = setInterval(() => this.report(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer === null) return;
    clearInterval(this.timer);
    this.timer = null;
  }

  private report(): void {
    const now = performance.now();
    const seconds = (now - this.lastReportMs) / 1000;
    if (seconds <= 0) return;
    const msgsPerSec = Math.round((this.messages - this.lastMessages) / seconds);
    const bytesPerSec = Math.round((this.bytes - this.lastBytes) / seconds);
    this.lastMessages = this.messages;
    this.lastBytes = this.bytes;
    this.lastReportMs = now;
    const megabytes = (this.bytes / (1024 * 1024)).toFixed(1);
    this.write(`${msgsPerSec} msgs/s, ${bytesPerSec} bytes/s, totals ${this.messages} messages ${megabytes} MB\n`);
  }
}
