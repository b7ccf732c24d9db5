/**
 * `skein request`: sends requests to a response server and keeps going through its restarts,
 * reporting how many were answered, how many failed, the longest outage and round-trip percentiles.
 */
import type { Command } from 'commander';
import { addSkeinOptions, integerOption, launchSkein, type SkeinCliOptions } from './cli-options.js';
import { action, EXIT_FAILURE, EXIT_OK, exitProcess, nowMs, onShutdownSignal, report, sleep } from './cli-runtime.js';
import { addResponseChannelOptions } from './respond-command.js';
import { createLatencyHistogram, summarize } from './ping-measurement.js';

export interface RequestOptions extends SkeinCliOptions {
  requestChannel: string;
  requestStream: number;
  responseControlChannel: string;
  responseStream: number;
  count: number;
  intervalMs: number;
  timeoutMs: number;
  connectTimeoutMs: number;
  heartbeatIntervalMs: number;
  peerTimeoutMs: number;
  message: string;
  print: boolean;
}

export interface RequestSummary {
  ok: number;
  failed: number;
  /** Answers that were not "responding to message: <the request>": must stay 0. */
  mismatched: number;
  /** Failures by error code. */
  failures: Record<string, number>;
  /** Longest time from a failed request (after a success, or from the start) to the next success. */
  maxOutageMs: number;
  reconnects: number;
  p50Us: number;
  p90Us: number;
  p99Us: number;
  p999Us: number;
  maxUs: number;
  elapsedMs: number;
}

export function registerRequestCommand(program: Command): Command {
  const command = program
    .command('request')
    .summary('Send requests to a response server, through its restarts')
    .description(
      'Send --count requests ("<message> <n>"), one every --interval-ms, each waiting up to --timeout-ms for its answer. ' +
        'A request that fails (server lost, not connected, timed out) is counted and the next one goes on schedule; the ' +
        'client reconnects by itself. Ends with a one-line JSON summary on stdout: {ok, failed, mismatched, failures, maxOutageMs, ' +
        'reconnects, p50Us, p90Us, p99Us, p999Us, maxUs, elapsedMs}; exit 1 when no request was answered or an answer did not match its request.',
    );
  addResponseChannelOptions(command)
    .option('--count <n>', 'requests to send', integerOption(1, Number.MAX_SAFE_INTEGER), 10)
    .option('--interval-ms <ms>', 'time between the starts of two requests', integerOption(0, 3_600_000), 1000)
    .option('--timeout-ms <ms>', 'deadline of each request', integerOption(1, 3_600_000), 2000)
    .option('--connect-timeout-ms <ms>', 'give up when the first connection takes longer, 0 = wait forever', integerOption(0, 3_600_000), 10_000)
    .option('--heartbeat-interval-ms <ms>', 'heartbeat period of the session', integerOption(1, 60_000), 250)
    .option('--peer-timeout-ms <ms>', 'silence after which the server counts as lost', integerOption(2, 600_000), 1500)
    .option('--message <text>', 'text of each request, followed by its number', 'Hello World!')
    .option('--print', 'print each answer on stdout', false);
  addSkeinOptions(command);
  command.action(action('request', (options: RequestOptions) => runRequest(options)));
  return command;
}

async function runRequest(options: RequestOptions): Promise<void> {
  const skein = await launchSkein(options);
  const { ResponseClient } = await import('../response/response-client.js');
  const { SkeinError } = await import('../util/errors.js');
  let reconnects = 0;
  const client = new ResponseClient(skein.client, {
    requestChannel: options.requestChannel,
    requestStreamId: options.requestStream,
    responseControlChannel: options.responseControlChannel,
    responseStreamId: options.responseStream,
    requestTimeoutMs: options.timeoutMs,
    heartbeatIntervalMs: options.heartbeatIntervalMs,
    peerTimeoutMs: options.peerTimeoutMs,
    ...(options.seed === undefined ? {} : { seed: options.seed }),
    onStateChange: (change) => {
      if (change.from === 'RECONNECTING' && change.to === 'CONNECTED') reconnects++;
      report('request', `${change.from} -> ${change.to}: ${change.reason}`);
    },
  });
  const histogram = createLatencyHistogram();
  const failures: Record<string, number> = {};
  const startMs = nowMs();
  let ok = 0;
  let failed = 0;
  let mismatched = 0;
  const decoder = new TextDecoder();
  let maxOutageMs = 0;
  let outageStartMs: number | null = null;
  let interrupted = false;
  const stopSignals = onShutdownSignal(() => {
    interrupted = true;
  });
  try {
    await client.connected(options.connectTimeoutMs === 0 ? {} : { timeoutMs: options.connectTimeoutMs });
  } catch (error) {
    report('request', `not connected: ${(error as Error).message}`);
    client.close();
    await skein.close();
    exitProcess(EXIT_FAILURE);
    return;
  }
  for (let i = 0; i < options.count && !interrupted; i++) {
    const sentMs = nowMs();
    const sentNs = process.hrtime.bigint();
    try {
      const request = `${options.message} ${i}`;
      const answer = decoder.decode(await client.request(request, { timeoutMs: options.timeoutMs }));
      histogram.recordValue(Number(process.hrtime.bigint() - sentNs));
      ok++;
      if (answer !== `responding to message: ${request}`) {
        mismatched++;
        report('request', `answer to '${request}' was '${answer}'`);
      }
      if (outageStartMs !== null) {
        maxOutageMs = Math.max(maxOutageMs, nowMs() - outageStartMs);
        outageStartMs = null;
      }
      if (options.print) process.stdout.write(`${answer}\n`);
    } catch (error) {
      failed++;
      const code = error instanceof SkeinError ? error.code : 'ERR_UNKNOWN';
      failures[code] = (failures[code] ?? 0) + 1;
      if (outageStartMs === null) outageStartMs = sentMs;
    }
    const waitMs = sentMs + options.intervalMs - nowMs();
    if (waitMs > 0 && i + 1 < options.count) await sleep(waitMs);
  }
  stopSignals();
  if (outageStartMs !== null) maxOutageMs = Math.max(maxOutageMs, nowMs() - outageStartMs);
  const latency = summarize(histogram);
  const summary: RequestSummary = {
    ok,
    failed,
    mismatched,
    failures,
    maxOutageMs: Math.round(maxOutageMs),
    reconnects,
    p50Us: latency.p50Us,
    p90Us: latency.p90Us,
    p99Us: latency.p99Us,
    p999Us: latency.p999Us,
    maxUs: latency.maxUs,
    elapsedMs: Math.round(nowMs() - startMs),
  };
  client.close();
  await skein.close();
  exitProcess(ok > 0 && mismatched === 0 ? EXIT_OK : EXIT_FAILURE, `${JSON.stringify(summary)}\n`);
}
