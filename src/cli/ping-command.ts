/**
 * `skein ping`: round-trip latency against `skein pong`, in the manner of Aeron's Ping sample.
 */
import type { Command } from 'commander';
import { addSkeinOptions, channelOption, integerOption, sizeOption, launchSkein, type SkeinCliOptions } from './cli-options.js';
import { action, EXIT_FAILURE, EXIT_OK, exitProcess, onShutdownSignal, report, usageError, waitUntil } from './cli-runtime.js';
import type { PingMeasurement } from './ping-measurement.js';
import { PING_LENGTH_MIN } from './ping-payload.js';

export const DEFAULT_PING_CHANNEL = 'aeron:udp?endpoint=localhost:20123';
export const DEFAULT_PING_STREAM_ID = 1002;
export const DEFAULT_PONG_CHANNEL = 'aeron:udp?endpoint=localhost:20124';
export const DEFAULT_PONG_STREAM_ID = 1003;

export interface PingOptions extends SkeinCliOptions {
  channel: string;
  stream: number;
  pongChannel: string;
  pongStream: number;
  count: number;
  warmup: number;
  size: number;
  connectTimeoutMs: number;
  replyTimeoutMs: number;
}

/** Adds the ping and pong channel and stream options shared by `ping` and `pong`. */
export function addPingPongChannelOptions(command: Command): Command {
  return command
    .option('--channel <uri>', 'channel of the ping stream', channelOption, DEFAULT_PING_CHANNEL)
    .option('--stream <id>', 'stream id of the ping stream', integerOption(-0x80000000, 0x7fffffff), DEFAULT_PING_STREAM_ID)
    .option('--pong-channel <uri>', 'channel of the pong stream', channelOption, DEFAULT_PONG_CHANNEL)
    .option('--pong-stream <id>', 'stream id of the pong stream', integerOption(-0x80000000, 0x7fffffff), DEFAULT_PONG_STREAM_ID);
}

export function registerPingCommand(program: Command): Command {
  const command = program
    .command('ping')
    .summary('Measure round-trip latency against pong (Ping)')
    .description(
      'Measure round-trip latency against `skein pong`: sends one message at a time on the ping stream, stamped with ' +
        'its send time, waits for the echo on the pong stream and records the round trip in an HDR histogram. Prints ' +
        'the percentile distribution (µs) and ends with a one-line JSON summary on stdout: ' +
        '{count, p50Us, p90Us, p99Us, p999Us, maxUs, meanUs}.',
    );
  addPingPongChannelOptions(command)
    .option('--count <n>', 'round trips recorded', integerOption(0, Number.MAX_SAFE_INTEGER), 100_000)
    .option('--warmup <n>', 'round trips made before recording', integerOption(0, Number.MAX_SAFE_INTEGER), 10_000)
    .option('--size <bytes>', `message length in bytes, at least ${PING_LENGTH_MIN}`, sizeOption(0, 2 ** 31), 32)
    .option('--connect-timeout-ms <ms>', 'exit 1 when ping and pong streams are not both connected within this time', integerOption(1, 3_600_000), 10_000)
    .option('--reply-timeout-ms <ms>', 'exit 1 when a ping gets no reply within this time', integerOption(1, 3_600_000), 5_000);
  addSkeinOptions(command);
  command.action(action('ping', (options: PingOptions, cmd: Command) => runPing(options, cmd)));
  return command;
}

async function runPing(options: PingOptions, command: Command): Promise<void> {
  if (options.size < PING_LENGTH_MIN) {
    usageError(command, `option '--size <bytes>' argument '${options.size}' is invalid. Expected at least ${PING_LENGTH_MIN} bytes.`);
  }
  const skein = await launchSkein(options);
  const publication = await skein.addPublication(options.channel, options.stream);
  const subscription = await skein.addSubscription(options.pongChannel, options.pongStream);
  if (options.size > publication.maxMessageLength) {
    skein.destroy();
    usageError(command, `option '--size <bytes>' argument '${options.size}' is invalid. Messages may be at most ${publication.maxMessageLength} bytes.`);
  }
  let measurement: PingMeasurement | null = null;
  let interrupted = false;
  onShutdownSignal(() => {
    interrupted = true;
    measurement?.stop();
  });
  report('ping', `pinging ${options.channel} stream id ${options.stream}, pong on ${options.pongChannel} stream id ${options.pongStream}`);
  const connected = await waitUntil(() => interrupted || (publication.isConnected && subscription.isConnected), options.connectTimeoutMs);
  if (!connected || interrupted) {
    if (!interrupted) report('ping', `ping and pong streams not connected within ${options.connectTimeoutMs} ms (is pong running?)`);
    await skein.close();
    exitProcess(interrupted ? EXIT_OK : EXIT_FAILURE);
    return;
  }
  report('ping', `connected; ${options.warmup} warm-up and ${options.count} measured round trips of ${options.size} bytes`);
  const { PingMeasurement: Measurement, summarize } = await import('./ping-measurement.js');
  measurement = new Measurement({ publication, subscription, ...options });
  let code = EXIT_OK;
  try {
    await measurement.run();
  } catch (error) {
    report('ping', (error as Error).message);
    code = EXIT_FAILURE;
  }
  const histogram = measurement.histogram;
  const distribution = histogram.totalCount > 0 ? histogram.outputPercentileDistribution(5, 1000) : '';
  await skein.close();
  const header = 'Round-trip latency in microseconds:\n';
  exitProcess(code, `${distribution === '' ? '' : header + distribution}${JSON.stringify(summarize(histogram))}\n`);
}
