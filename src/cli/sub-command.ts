/**
 * `skein sub`: a rate subscriber in the manner of Aeron's RateSubscriber sample. Messages are
 * reassembled from fragments, counted, optionally checked for sequence gaps, duplicates and order
 * (`--verify`) or printed as text (`--print`). The client's agent delivers them as they arrive.
 */
import type { Command } from 'commander';
import type { Skein } from '../skein.js';
import type { Subscription } from '../client/subscription.js';
import type { Image } from '../client/image.js';
import type { Header } from '../logbuffer/header.js';
import { FragmentAssembler } from '../logbuffer/fragment-assembler.js';
import { addSkeinOptions, channelOption, integerOption, launchSkein, type SkeinCliOptions } from './cli-options.js';
import { action, EXIT_FAILURE, EXIT_OK, exitProcess, nowMs, onShutdownSignal, report } from './cli-runtime.js';
import { RateReporter } from './rate-reporter.js';
import { SequenceVerifier, type SequenceReport } from './sequence-verifier.js';
import { DEFAULT_PUB_CHANNEL, DEFAULT_STREAM_ID } from './pub-command.js';

/** Fragments read per duty cycle of the client's agent. */
const FRAGMENT_LIMIT = 256;

export interface SubOptions extends SkeinCliOptions {
  channel: string;
  stream: number;
  verify?: boolean;
  print?: boolean;
  count: number;
  timeoutMs: number;
}

export interface SubSummary extends Partial<SequenceReport> {
  received: number;
  bytes: number;
  gaps: number;
  duplicates: number;
  outOfOrder: number;
  msgsPerSec: number;
  elapsedMs: number;
  images: number;
  /** Whether gaps, duplicates and order were checked (--verify, and something was received); when false they read 0. */
  verified: boolean;
  reason: 'count' | 'signal' | 'timeout';
}

export function registerSubCommand(program: Command): Command {
  const command = program
    .command('sub')
    .summary('Subscribe and report rates, optionally verify order (RateSubscriber)')
    .description(
      'Subscribe to a stream, reassemble messages and report the rate each second on stderr. With --verify, ' +
        'checks the sequence payloads `skein pub` sends, per session, for gaps, duplicates and order (exit 1 when any is ' +
        'found, or when nothing was received to check). Ends on --count, SIGINT/SIGTERM or --timeout-ms (exit 1) with a one-line JSON summary on stdout: ' +
        '{received, bytes, gaps, duplicates, outOfOrder, msgsPerSec, elapsedMs, images, verified, reason, …}.',
    )
    .option('--channel <uri>', 'channel to subscribe to', channelOption, DEFAULT_PUB_CHANNEL)
    .option('--stream <id>', 'stream id', integerOption(-0x80000000, 0x7fffffff), DEFAULT_STREAM_ID)
    .option('--verify', 'check sequence numbers and payload pattern per session')
    .option('--print', 'print each message as UTF-8 text on stdout, one per line')
    .option('--count <n>', 'exit after this many messages, 0 = run until interrupted', integerOption(0, Number.MAX_SAFE_INTEGER), 0)
    .option('--timeout-ms <ms>', 'stop after this time; exit 1 if --count was given and not reached, 0 = no limit', integerOption(0, 3_600_000 * 24), 0);
  addSkeinOptions(command);
  command.action(action('sub', (options: SubOptions) => runSub(options)));
  return command;
}

async function runSub(options: SubOptions): Promise<void> {
  const skein = await launchSkein(options);
  const run = new SubRun(skein, options);
  const subscription = await skein.addSubscription(options.channel, options.stream, {
    onAvailableImage: (image) => run.onAvailableImage(image),
    onUnavailableImage: (image) => run.onUnavailableImage(image),
  });
  report('sub', `subscribed to ${options.channel} on stream id ${options.stream}`);
  run.start(subscription);
}

class SubRun {
  private received = 0;
  private bytes = 0;
  private firstMs = 0;
  private lastMs = 0;
  private imagesSeen = 0;
  private finished = false;
  private timeout: ReturnType<typeof setTimeout> | null = null;
  private readonly verifier: SequenceVerifier | null;
  private readonly reporter = new RateReporter();
  private readonly decoder = new TextDecoder('utf-8', { ignoreBOM: true });
  private readonly assembler: FragmentAssembler;

  constructor(
    private readonly skein: Skein,
    private readonly options: SubOptions,
  ) {
    this.verifier = options.verify === true ? new SequenceVerifier() : null;
    this.assembler = new FragmentAssembler((buffer, offset, length, header) => this.onMessage(buffer, offset, length, header));
  }

  start(subscription: Subscription): void {
    onShutdownSignal(() => void this.finish('signal'));
    if (this.options.timeoutMs > 0) {
      this.timeout = setTimeout(() => void this.finish('timeout'), this.options.timeoutMs);
    }
    this.reporter.start();
    subscription.onFragment(this.assembler.onFragment, FRAGMENT_LIMIT);
  }

  onAvailableImage(image: Image): void {
    this.imagesSeen++;
    report('sub', `available image: session ${image.sessionId} from ${image.sourceIdentity}`);
  }

  onUnavailableImage(image: Image): void {
    this.assembler.freeSessionBuffer(image.sessionId);
    report('sub', `unavailable image: session ${image.sessionId}`);
  }

  private onMessage(buffer: Uint8Array, offset: number, length: number, header: Header): void {
    if (this.finished || (this.options.count > 0 && this.received >= this.options.count)) return;
    const now = nowMs();
    if (this.received === 0) this.firstMs = now;
    this.lastMs = now;
    this.received++;
    this.bytes += length;
    this.reporter.onMessages(1, length);
    if (this.verifier !== null) this.verifier.onMessage(header.sessionId, buffer, offset, length);
    if (this.options.print === true) {
      process.stdout.write(`${this.decoder.decode(buffer.subarray(offset, offset + length))}\n`);
    }
    if (this.received === this.options.count) setImmediate(() => void this.finish('count'));
  }

  private async finish(reason: SubSummary['reason']): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    this.reporter.stop();
    if (this.timeout !== null) clearTimeout(this.timeout);
    const endMs = reason === 'count' ? this.lastMs : nowMs();
    const elapsedMs = this.received === 0 ? 0 : endMs - this.firstMs;
    const rateMs = this.lastMs - this.firstMs;
    const verification = this.verifier?.report();
    const summary: SubSummary = {
      received: this.received,
      bytes: this.bytes,
      gaps: verification?.gaps ?? 0,
      duplicates: verification?.duplicates ?? 0,
      outOfOrder: verification?.outOfOrder ?? 0,
      ...(verification === undefined ? {} : { missing: verification.missing, malformed: verification.malformed, sessions: verification.sessions }),
      msgsPerSec: rateMs > 0 ? Math.round((this.received * 1000) / rateMs) : 0,
      elapsedMs: Math.round(elapsedMs),
      images: this.imagesSeen,
      verified: verification !== undefined && this.received > 0,
      reason,
    };
    let code = EXIT_OK;
    if (reason === 'timeout' && this.options.count > 0) {
      report('sub', `received ${this.received} of ${this.options.count} messages within ${this.options.timeoutMs} ms`);
      code = EXIT_FAILURE;
    }
    if (this.verifier !== null && this.received === 0) {
      report('sub', 'nothing was received, so nothing was verified');
      code = EXIT_FAILURE;
    }
    if (this.verifier?.hasProblems === true) {
      report('sub', `verification failed: ${JSON.stringify(verification)}`);
      code = EXIT_FAILURE;
    }
    await this.skein.close();
    exitProcess(code, `${JSON.stringify(summary)}\n`);
  }
}
