/**
 * `skein pong`: echoes the ping stream back on the pong stream, in the manner of Aeron's Pong sample.
 */
import type { Command } from 'commander';
import { addSkeinOptions, integerOption, launchSkein, type SkeinCliOptions } from './cli-options.js';
import { action, EXIT_FAILURE, EXIT_OK, exitProcess, nowMs, onShutdownSignal, report, waitUntil } from './cli-runtime.js';
import { addPingPongChannelOptions } from './ping-command.js';
import { PongEcho } from './pong-echo.js';

export interface PongOptions extends SkeinCliOptions {
  channel: string;
  stream: number;
  pongChannel: string;
  pongStream: number;
  count: number;
  connectTimeoutMs: number;
}

export interface PongSummary {
  echoed: number;
  retries: number;
  dropped: number;
  elapsedMs: number;
}

export function registerPongCommand(program: Command): Command {
  const command = program
    .command('pong')
    .summary('Echo the ping stream back (Pong)')
    .description(
      'Echo every message received on the ping stream back on the pong stream, for `skein ping`. Runs until ' +
        'SIGINT/SIGTERM (or --count echoes) and ends with a one-line JSON summary on stdout: {echoed, retries, dropped, elapsedMs}.',
    );
  addPingPongChannelOptions(command)
    .option('--count <n>', 'exit after echoing this many messages, 0 = run until interrupted', integerOption(0, Number.MAX_SAFE_INTEGER), 0)
    .option('--connect-timeout-ms <ms>', 'exit 1 when no ping connects within this time, 0 = wait forever', integerOption(0, 3_600_000), 10_000);
  addSkeinOptions(command);
  command.action(action('pong', (options: PongOptions) => runPong(options)));
  return command;
}

async function runPong(options: PongOptions): Promise<void> {
  const skein = await launchSkein(options);
  const subscription = await skein.addSubscription(options.channel, options.stream);
  const publication = await skein.addPublication(options.pongChannel, options.pongStream);
  const startMs = nowMs();
  let finished = false;
  const finish = async (code: number): Promise<void> => {
    if (finished) return;
    finished = true;
    echo.stop();
    const summary: PongSummary = { echoed: echo.echoed, retries: echo.retries, dropped: echo.dropped, elapsedMs: Math.round(nowMs() - startMs) };
    await skein.close();
    exitProcess(code, `${JSON.stringify(summary)}\n`);
  };
  const echo = new PongEcho(publication, subscription, (echoed) => {
    if (echoed === options.count) setImmediate(() => void finish(EXIT_OK));
  });
  onShutdownSignal(() => void finish(EXIT_OK));
  echo.start();
  report('pong', `echoing ${options.channel} stream id ${options.stream} to ${options.pongChannel} stream id ${options.pongStream}`);
  const connected = await waitUntil(() => finished || (subscription.isConnected && publication.isConnected), options.connectTimeoutMs);
  if (finished) return;
  if (!connected) {
    report('pong', `no ping connected within ${options.connectTimeoutMs} ms`);
    await finish(EXIT_FAILURE);
    return;
  }
  report('pong', 'connected');
}
