/**
 * `skein demo` (what `npm start` runs): one embedded Skein streams messages over UDP loopback and
 * over IPC, then measures ping-pong round trips over UDP loopback, prints what it saw and exits.
 */
import type { Command } from 'commander';
import type { Skein } from '../skein.js';
import type { Publication } from '../client/publication.js';
import type { Subscription } from '../client/subscription.js';
import { ADMIN_ACTION, BACK_PRESSURED, NOT_CONNECTED, publicationCodeName } from '../client/publication-codes.js';
import type { DriverOptions } from '../driver/driver-context.js';
import { FragmentAssembler } from '../logbuffer/fragment-assembler.js';
import { addSkeinOptions, integerOption, sizeOption, launchSkein, type SkeinCliOptions } from './cli-options.js';
import { action, EXIT_OK, exitProcess, nowMs, waitUntil } from './cli-runtime.js';
import { freeUdpPort } from './free-port.js';
import { PING_LENGTH_MIN } from './ping-payload.js';
import { PongEcho } from './pong-echo.js';
import { SEQUENCE_LENGTH, SequencePayload } from './sequence-payload.js';
import { SequenceVerifier } from './sequence-verifier.js';

const CONNECT_TIMEOUT_MS = 10_000;
const DRAIN_TIMEOUT_MS = 10_000;
const BATCH_MESSAGES_MAX = 1024;
const MS = 1_000_000;

export interface DemoOptions extends SkeinCliOptions {
  durationMs: number;
  roundTrips: number;
  size: number;
}

export function registerDemoCommand(program: Command): Command {
  const command = program
    .command('demo')
    .summary('Stream over UDP and IPC, then ping-pong, in one process')
    .description(
      'Run a short demonstration in one process with an embedded driver: a publisher and a subscriber over UDP ' +
        'loopback and then over IPC for --duration-ms each (message rates, every message checked for order), then ' +
        'ping-pong round trips over UDP loopback (latency percentiles). Exits 0 when done. Unless set by --term-length ' +
        'or SKEIN_* variables, terms are 4 MiB and closed publications linger 200 ms.',
    )
    .option('--duration-ms <ms>', 'how long each streaming run lasts', integerOption(1, 3_600_000), 2000)
    .option('--round-trips <n>', 'ping-pong round trips measured (after 20% more as warm-up)', integerOption(1, 100_000_000), 5000)
    .option('--size <bytes>', `message length in bytes, at least ${PING_LENGTH_MIN}`, sizeOption(PING_LENGTH_MIN, 1024 * 1024), 32);
  addSkeinOptions(command);
  command.action(action('demo', (options: DemoOptions) => runDemo(options)));
  return command;
}

/** Demo defaults that SKEIN_* variables and the test profile still override. */
function demoDriverOptions(options: DemoOptions): DriverOptions {
  if (options.testProfile === true) return {};
  const env = process.env;
  const driver: DriverOptions = {};
  if (env['SKEIN_TERM_BUFFER_LENGTH'] === undefined) driver.termBufferLength = 4 * 1024 * 1024;
  if (env['SKEIN_IPC_TERM_BUFFER_LENGTH'] === undefined) driver.ipcTermBufferLength = 4 * 1024 * 1024;
  if (env['SKEIN_PUBLICATION_LINGER_TIMEOUT'] === undefined) driver.publicationLingerTimeoutNs = 200 * MS;
  return driver;
}

async function runDemo(options: DemoOptions): Promise<void> {
  const skein = await launchSkein(options, demoDriverOptions(options));
  const out = (line: string): void => void process.stdout.write(`${line}\n`);
  out(`Skein demo (seed ${skein.seed}), ${options.size}-byte messages`);
  const udpChannel = `aeron:udp?endpoint=127.0.0.1:${await freeUdpPort()}`;
  out(await streamRun(skein, 'UDP', udpChannel, 1001, options));
  out(await streamRun(skein, 'IPC', 'aeron:ipc', 1002, options));
  out(await pingPongRun(skein, options));
  await skein.close();
  out('done');
  exitProcess(EXIT_OK);
}

async function connect(what: string, isConnected: () => boolean): Promise<void> {
  if (!(await waitUntil(isConnected, CONNECT_TIMEOUT_MS))) {
    throw new Error(`${what} did not connect within ${CONNECT_TIMEOUT_MS} ms`);
  }
}

/** Streams sequence messages for --duration-ms and checks every one arrives in order. */
async function streamRun(skein: Skein, name: string, channel: string, streamId: number, options: DemoOptions): Promise<string> {
  const subscription = await skein.addSubscription(channel, streamId);
  const publication = await skein.addPublication(channel, streamId);
  await connect(`${name} stream ${channel}`, () => publication.isConnected && subscription.isConnected);
  const verifier = new SequenceVerifier();
  let received = 0;
  const assembler = new FragmentAssembler((buffer, offset, length, header) => {
    received++;
    verifier.onMessage(header.sessionId, buffer, offset, length);
  });
  subscription.onFragment(assembler.onFragment, 256);
  const startMs = nowMs();
  const { sent, backPressured } = await offerFor(publication, options.size, options.durationMs);
  const sendMs = nowMs() - startMs;
  const drained = await waitUntil(() => received >= sent, DRAIN_TIMEOUT_MS);
  const totalMs = nowMs() - startMs;
  publication.close();
  subscription.close();
  const check = verifier.report();
  const ok = drained && !verifier.hasProblems && check.missing === 0;
  const rate = Math.round((received * 1000) / totalMs);
  const megabytesPerSec = ((received * options.size) / (1024 * 1024) / (totalMs / 1000)).toFixed(1);
  return (
    `${name.padEnd(4)} ${channel}: sent ${sent} in ${(sendMs / 1000).toFixed(2)} s (${backPressured} back-pressured offers), ` +
    `received ${received}: ${rate} msgs/s, ${megabytesPerSec} MB/s; ` +
    (ok ? 'all in order, no gaps or duplicates' : `PROBLEM: ${JSON.stringify({ drained, ...check })}`)
  );
}

/** Offers sequence messages from a setImmediate-driven loop for `durationMs`. */
function offerFor(publication: Publication, size: number, durationMs: number): Promise<{ sent: number; backPressured: number }> {
  const payload = new SequencePayload(Math.max(size, SEQUENCE_LENGTH));
  const endMs = nowMs() + durationMs;
  let sent = 0;
  let backPressured = 0;
  return new Promise((resolve, reject) => {
    const turn = (): void => {
      if (nowMs() >= endMs) {
        resolve({ sent, backPressured });
        return;
      }
      for (let i = 0; i < BATCH_MESSAGES_MAX; i++) {
        payload.setSequence(sent);
        const result = publication.offer(payload.buffer, 0, payload.length);
        if (result >= 0) {
          sent++;
          continue;
        }
        if (result === ADMIN_ACTION) continue;
        if (result === BACK_PRESSURED || result === NOT_CONNECTED) {
          backPressured++;
          break;
        }
        reject(new Error(`offer failed with ${publicationCodeName(result)} after ${sent} messages`));
        return;
      }
      setImmediate(turn);
    };
    turn();
  });
}

async function pingPongRun(skein: Skein, options: DemoOptions): Promise<string> {
  const pingChannel = `aeron:udp?endpoint=127.0.0.1:${await freeUdpPort()}`;
  const pongChannel = `aeron:udp?endpoint=127.0.0.1:${await freeUdpPort()}`;
  const pongSubscription: Subscription = await skein.addSubscription(pingChannel, 1003);
  const pingSubscription: Subscription = await skein.addSubscription(pongChannel, 1004);
  const pingPublication = await skein.addPublication(pingChannel, 1003);
  const pongPublication = await skein.addPublication(pongChannel, 1004);
  const echo = new PongEcho(pongPublication, pongSubscription);
  echo.start();
  await connect('ping-pong streams', () =>
    pingPublication.isConnected && pongPublication.isConnected && pingSubscription.isConnected && pongSubscription.isConnected,
  );
  const warmup = Math.ceil(options.roundTrips / 5);
  const { PingMeasurement, summarize } = await import('./ping-measurement.js');
  const measurement = new PingMeasurement({
    publication: pingPublication,
    subscription: pingSubscription,
    size: options.size,
    warmup,
    count: options.roundTrips,
    replyTimeoutMs: 5000,
  });
  const histogram = await measurement.run();
  echo.stop();
  const s = summarize(histogram);
  return `ping-pong over UDP loopback: ${s.count} round trips (after ${warmup} warm-up): p50 ${s.p50Us} µs, p90 ${s.p90Us} µs, p99 ${s.p99Us} µs, p99.9 ${s.p999Us} µs, max ${s.maxUs} µs, mean ${s.meanUs} µs`;
}
