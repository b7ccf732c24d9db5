/**
 * `skein pub`: a streaming publisher in the manner of Aeron's StreamingPublisher sample. Offers
 * messages in batches from a setImmediate-driven loop (the embedded driver runs on the same event
 * loop, so every batch yields to it), optionally paced to a rate.
 */
import type { Command } from 'commander';
import type { Skein } from '../skein.js';
import type { Publication } from '../client/publication.js';
import { ADMIN_ACTION, BACK_PRESSURED, NOT_CONNECTED, publicationCodeName } from '../client/publication-codes.js';
import { addSkeinOptions, channelOption, integerOption, sizeOption, launchSkein, type SkeinCliOptions } from './cli-options.js';
import { action, EXIT_FAILURE, EXIT_OK, exitProcess, nowMs, onShutdownSignal, report, sleep, usageError, waitUntil } from './cli-runtime.js';
import { RateReporter } from './rate-reporter.js';
import { SEQUENCE_LENGTH, SequencePayload } from './sequence-payload.js';

export const DEFAULT_PUB_CHANNEL = 'aeron:udp?endpoint=localhost:20121';
export const DEFAULT_STREAM_ID = 1001;
/** Most messages offered in one event-loop turn before yielding to the driver and I/O. */
const BATCH_MESSAGES_MAX = 1024;

export interface PubOptions extends SkeinCliOptions {
  channel: string;
  stream: number;
  size: number;
  count: number;
  rate: number;
  text?: string;
  exclusive?: boolean;
  lingerMs: number;
  connectTimeoutMs: number;
  destination: string[];
}

export interface PubSummary {
  sent: number;
  bytes: number;
  backPressured: number;
  notConnected: number;
  msgsPerSec: number;
  elapsedMs: number;
}

export function registerPubCommand(program: Command): Command {
  const command = program
    .command('pub')
    .summary('Publish a stream of messages (StreamingPublisher)')
    .description(
      'Publish a stream of messages and report the rate each second on stderr. Each message holds an 8-byte ' +
        'little-endian sequence number (0, 1, 2, …) followed by the pattern byte i = i & 0xff up to --size, or the ' +
        '--text given with " <n>" appended. Waits for a subscriber first. Ends with a one-line JSON summary on stdout: ' +
        '{sent, bytes, backPressured, notConnected, msgsPerSec, elapsedMs}.',
    )
    .option('--channel <uri>', 'channel to publish on', channelOption, DEFAULT_PUB_CHANNEL)
    .option('--stream <id>', 'stream id', integerOption(-0x80000000, 0x7fffffff), DEFAULT_STREAM_ID)
    .option('--size <bytes>', 'message length in bytes, at least 8 (ignored with --text)', sizeOption(0, 2 ** 31), 32)
    .option('--count <n>', 'number of messages to send', integerOption(0, Number.MAX_SAFE_INTEGER), 10_000_000)
    .option('--rate <msgs-per-sec>', 'messages per second, 0 = as fast as possible', integerOption(0, 1_000_000_000), 0)
    .option('--text <text>', 'send this text with " <n>" appended instead of binary sequence payloads')
    .option('--exclusive', 'use an exclusive publication (a session of its own)')
    .option(
      '--destination <uri>',
      'with a control-mode=manual channel: send to this destination too (e.g. aeron:udp?endpoint=127.0.0.1:20121); repeat for several',
      (value: string, previous: string[]) => [...previous, channelOption(value)],
      [] as string[],
    )
    .option('--linger-ms <ms>', 'after the last message, keep running this long so late retransmissions are served', integerOption(0, 3_600_000), 0)
    .option('--connect-timeout-ms <ms>', 'exit 1 when no subscriber is connected within this time', integerOption(1, 3_600_000), 10_000);
  addSkeinOptions(command);
  command.action(action('pub', (options: PubOptions, cmd: Command) => runPub(options, cmd)));
  return command;
}

async function runPub(options: PubOptions, command: Command): Promise<void> {
  if (options.text === undefined && options.size < SEQUENCE_LENGTH) {
    usageError(command, `option '--size <bytes>' argument '${options.size}' is invalid. Expected at least ${SEQUENCE_LENGTH} bytes (or use --text).`);
  }
  const skein = await launchSkein(options);
  const publication = options.exclusive === true
    ? await skein.addExclusivePublication(options.channel, options.stream)
    : await skein.addPublication(options.channel, options.stream);
  for (const destination of options.destination) await publication.addDestination(destination);
  const source = options.text === undefined ? binarySource(options.size) : textSource(options.text);
  if (source.lengthMax > publication.maxMessageLength) {
    skein.destroy();
    usageError(
      command,
      `option '--size <bytes>' argument '${source.lengthMax}' is invalid. Messages may be at most ${publication.maxMessageLength} bytes for term length ${publication.termBufferLength}.`,
    );
  }
  report('pub', `publishing to ${options.channel} on stream id ${options.stream} (session ${publication.sessionId})`);
  const run = new PubRun(skein, publication, options, source);
  await run.start();
}

/** Writes message number `sequence` and returns its length. */
interface MessageSource {
  readonly buffer: Uint8Array;
  readonly lengthMax: number;
  fill(sequence: number): number;
}

function binarySource(size: number): MessageSource {
  const payload = new SequencePayload(size);
  return {
    buffer: payload.buffer,
    lengthMax: size,
    fill(sequence: number): number {
      payload.setSequence(sequence);
      return size;
    },
  };
}

function textSource(text: string): MessageSource {
  const encoder = new TextEncoder();
  const lengthMax = encoder.encode(text).length + 1 + 16;
  const buffer = new Uint8Array(lengthMax);
  return {
    buffer,
    lengthMax,
    fill(sequence: number): number {
      return encoder.encodeInto(`${text} ${sequence}`, buffer).written;
    },
  };
}

class PubRun {
  private sent = 0;
  private bytes = 0;
  private backPressured = 0;
  private notConnected = 0;
  private startMs = 0;
  private lastSendMs = 0;
  private stopped = false;
  private readonly reporter = new RateReporter();
  private readonly turnBound = (): void => this.turn();

  constructor(
    private readonly skein: Skein,
    private readonly publication: Publication,
    private readonly options: PubOptions,
    private readonly source: MessageSource,
  ) {}

  async start(): Promise<void> {
    onShutdownSignal(() => void this.finish(EXIT_OK));
    const connected = await waitUntil(() => this.publication.isConnected || this.stopped, this.options.connectTimeoutMs);
    if (this.stopped) return;
    if (!connected) {
      report('pub', `not connected to ${this.options.channel} stream id ${this.options.stream} within ${this.options.connectTimeoutMs} ms (is a subscriber running?)`);
      this.skein.destroy();
      exitProcess(EXIT_FAILURE);
      return;
    }
    this.startMs = nowMs();
    this.lastSendMs = this.startMs;
    this.reporter.start();
    this.turn();
  }

  private turn(): void {
    if (this.stopped) return;
    const { count, rate } = this.options;
    let budget = count - this.sent;
    if (rate > 0) {
      const elapsedMs = nowMs() - this.startMs;
      const due = Math.floor((elapsedMs * rate) / 1000) + 1 - this.sent;
      if (due <= 0) {
        const nextDueMs = this.startMs + (this.sent * 1000) / rate;
        setTimeout(this.turnBound, Math.max(1, Math.ceil(nextDueMs - nowMs())));
        return;
      }
      budget = Math.min(budget, due);
    }
    budget = Math.min(budget, BATCH_MESSAGES_MAX);
    const result = this.offerBatch(budget);
    if (this.sent >= count) {
      void this.finish(EXIT_OK);
    } else if (result === NOT_CONNECTED) {
      setTimeout(this.turnBound, 1);
    } else if (result === BACK_PRESSURED || result >= 0) {
      setImmediate(this.turnBound);
    } else {
      report('pub', `offer failed with ${publicationCodeName(result)} after ${this.sent} messages`);
      void this.finish(EXIT_FAILURE);
    }
  }

  /** Offers up to `budget` messages; returns the last offer's result (a position or a code). */
  private offerBatch(budget: number): number {
    const publication = this.publication;
    const source = this.source;
    let result = 0;
    let sentNow = 0;
    let bytesNow = 0;
    while (sentNow < budget) {
      const length = source.fill(this.sent + sentNow);
      result = publication.offer(source.buffer, 0, length);
      if (result >= 0) {
        sentNow++;
        bytesNow += length;
      } else if (result === BACK_PRESSURED) {
        this.backPressured++;
        break;
      } else if (result === NOT_CONNECTED) {
        this.notConnected++;
        break;
      } else if (result !== ADMIN_ACTION) {
        break;
      }
    }
    if (sentNow > 0) {
      this.sent += sentNow;
      this.bytes += bytesNow;
      this.lastSendMs = nowMs();
      this.reporter.onMessages(sentNow, bytesNow);
    }
    return result;
  }

  private async finish(code: number): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.reporter.stop();
    const elapsedMs = this.startMs === 0 ? 0 : this.lastSendMs - this.startMs;
    const summary: PubSummary = {
      sent: this.sent,
      bytes: this.bytes,
      backPressured: this.backPressured,
      notConnected: this.notConnected,
      msgsPerSec: elapsedMs > 0 ? Math.round((this.sent * 1000) / elapsedMs) : 0,
      elapsedMs: Math.round(elapsedMs),
    };
    if (this.options.lingerMs > 0) await sleep(this.options.lingerMs);
    await this.skein.close();
    exitProcess(code, `${JSON.stringify(summary)}\n`);
  }
}
