/**
 * `skein request`: sends requests to a response server and keeps going through its restarts,
 * reporting how many were answered, how many failed, the longest outage and round-trip percentiles.
 * With `--plain` it speaks no framing (bare payloads, answers matched in order), for servers such
 * as Aeron's `response_server` sample.
 */
import type { Command } from 'commander';
import { addSkeinOptions, integerOption, launchSkein, type SkeinCliOptions } from './cli-options.js';
import { action, EXIT_FAILURE, EXIT_OK, exitProcess, nowMs, onShutdownSignal, report, sleep, usageError } from './cli-runtime.js';
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
  plain: boolean;
}

export interface RequestSummary {
  ok: number;
  failed: number;
  /** Answers that were not "responding to message: <the request>", and with --plain answers no request waited for: must stay 0. */
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
        'client reconnects by itself. With --plain, requests and answers are bare payloads matched in order (no ' +
        'correlation ids, no heartbeats), as Aeron\'s response_server sample speaks; a request that times out there makes ' +
        'the client rebuild its publication and subscription. Ends with a one-line JSON summary on stdout: {ok, failed, ' +
        'mismatched, failures, maxOutageMs, reconnects, p50Us, p90Us, p99Us, p999Us, maxUs, elapsedMs}; exit 1 when no ' +
        'request was answered or an answer did not match its request.',
    );
  addResponseChannelOptions(command)
    .option('--count <n>', 'requests to send', integerOption(1, Number.MAX_SAFE_INTEGER), 10)
    .option('--interval-ms <ms>', 'time between the starts of two requests', integerOption(0, 3_600_000), 1000)
    .option('--timeout-ms <ms>', 'deadline of each request', integerOption(1, 3_600_000), 2000)
    .option('--connect-timeout-ms <ms>', 'give up when the first connection takes longer, 0 = wait forever', integerOption(0, 3_600_000), 10_000)
    .option('--heartbeat-interval-ms <ms>', 'heartbeat period of the session (not with --plain)', integerOption(1, 60_000), 250)
    .option('--peer-timeout-ms <ms>', 'silence after which the server counts as lost (not with --plain)', integerOption(2, 600_000), 1500)
    .option('--message <text>', 'text of each request, followed by its number', 'Hello World!')
    .option('--print', 'print each answer on stdout', false)
    .option('--plain', 'no framing: bare payloads, answers matched in order, no heartbeats (for Aeron\'s response_server)', false);
  addSkeinOptions(command);
  command.action(action('request', (options: RequestOptions, cmd: Command) => runRequest(options, cmd)));
  return command;
}

async function runRequest(options: RequestOptions, command: Command): Promise<void> {
  if (options.plain) {
    for (const name of ['heartbeatIntervalMs', 'peerTimeoutMs'] as const) {
      if (command.getOptionValueSource(name) === 'cli') {
        usageError(command, `option '--${name === 'heartbeatIntervalMs' ? 'heartbeat-interval-ms' : 'peer-timeout-ms'}' does not apply with --plain: a plain server answers no heartbeats`);
      }
    }
  }
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
    ...(options.plain ? { framing: 'plain' as const } : { heartbeatIntervalMs: options.heartbeatIntervalMs, peerTimeoutMs: options.peerTimeoutMs }),
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
  const decoder = new TextDecoder('utf-8', { ignoreBOM: true });
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
  if (client.strayAnswers > 0) {
    mismatched += client.strayAnswers;
    report('request', `${client.strayAnswers} answers came when no request was waiting for one`);
  }
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
