/**
 * The SETUP-flood soak (`npm run soak -- --flood --minutes N`): the process test of
 * test/system/robustness/setup-flood.test.ts for as long as asked. A subscriber fixture runs the
 * whole time while a flood process sends SETUPs with random session ids for its stream (plus
 * mutated SETUPs, random bytes and DATA of unknown sessions) from one UDP socket; round after
 * round a new `skein pub` process (a new session) must connect and deliver all its messages, once,
 * in order and intact.
 *
 * The run fails when a round's publisher does not connect within `connectBoundMs` or deliver
 * within `deliverBoundMs`, the subscriber reports a mismatch or shows an image of any session but
 * the publishers', its ArrayBuffer memory passes `arrayBuffersMaxBytes`, or its heap grew (lowest
 * sample of the second half above 1.5 × the lowest of the first half plus 8 MiB).
 */
import { loopbackChannel, startFixture, type FixtureEvent } from '../support/system-processes.js';
import { startSkein, stopAll } from '../support/processes.js';

export interface FloodSoakOptions {
  durationMs: number;
  /** Flood datagrams per second. @default 25000 */
  floodRatePerSecond?: number;
  /** Messages of each round's publisher. @default 20000 */
  messagesPerRound?: number;
  seed?: number;
  /** @default 5000 */
  connectBoundMs?: number;
  /** @default 30000 */
  deliverBoundMs?: number;
  /** @default 64 MiB */
  arrayBuffersMaxBytes?: number;
  log?: (line: string) => void;
}

export interface FloodRound {
  readonly sessionId: number;
  readonly connectMs: number;
  readonly deliverMs: number;
}

export interface FloodSoakResult {
  readonly ok: boolean;
  readonly problems: readonly string[];
  readonly rounds: readonly FloodRound[];
  /** The subscriber's counters and the flood's figures at the end. */
  readonly figures: Readonly<Record<string, number>>;
}

const STREAM_ID = 1001;
const MIB = 1024 * 1024;

function counter(event: FixtureEvent | undefined, label: string): number {
  return ((event?.['counters'] as Record<string, number> | undefined) ?? {})[label] ?? 0;
}

function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

/** Runs the flood soak; kills every child it started before it returns. */
export async function runFloodSoak(options: FloodSoakOptions): Promise<FloodSoakResult> {
  const log = options.log ?? (() => {});
  const messages = options.messagesPerRound ?? 20_000;
  const connectBoundMs = options.connectBoundMs ?? 5000;
  const deliverBoundMs = options.deliverBoundMs ?? 30_000;
  const arrayBuffersMax = options.arrayBuffersMaxBytes ?? 64 * MIB;
  const channel = await loopbackChannel();
  const port = Number(/:(\d+)/.exec(channel.split('endpoint=')[1]!)![1]);
  const problems: string[] = [];
  const rounds: FloodRound[] = [];
  const subscriber = startFixture('subscriber', { channel, streamId: STREAM_ID, count: null, format: 'skein-pub', reportIntervalMs: 1000, timeoutMs: options.durationMs + 120_000 });
  const flood = startFixture('setup-flood', { port, streamId: STREAM_ID, ratePerSec: options.floodRatePerSecond ?? 25_000, durationMs: null, seed: options.seed ?? 1, reportIntervalMs: 10_000 });
  let figures: Record<string, number> = {};
  try {
    await subscriber.waitForEvent('subscribed', 10_000);
    await flood.waitForEvent('bound', 10_000);
    const startMs = Date.now();
    log(`flood soak: ${options.floodRatePerSecond ?? 25_000} flood datagrams/s from one socket at ${channel}; a new skein pub of ${messages} messages per round, for ${options.durationMs} ms`);
    while (Date.now() - startMs < options.durationMs && problems.length === 0) {
      const known = new Set(subscriber.all('image-available').map((e) => e['sessionId'] as number));
      const roundStartMs = Date.now();
      const publisher = startSkein(['pub', '--channel', channel, '--stream', String(STREAM_ID), '--count', String(messages), '--test-profile', '--connect-timeout-ms', String(connectBoundMs + 5000)]);
      let available: FixtureEvent;
      try {
        available = await subscriber.waitForEvent('image-available', connectBoundMs, (e) => !known.has(e['sessionId'] as number));
      } catch (error) {
        problems.push(`round ${rounds.length + 1}: no new image within ${connectBoundMs} ms of starting skein pub: ${(error as Error).message}`);
        break;
      }
      const sessionId = available['sessionId'] as number;
      const key = String(sessionId);
      let delivered: FixtureEvent;
      try {
        delivered = await subscriber.waitForEvent('progress', deliverBoundMs, (e) => ((e['perSession'] as Record<string, number>)[key] ?? 0) >= messages);
      } catch (error) {
        problems.push(`round ${rounds.length + 1}: session ${sessionId} did not deliver ${messages} messages within ${deliverBoundMs} ms: ${(error as Error).message}`);
        break;
      }
      const status = await publisher.waitForExit(20_000);
      if (status.code !== 0) problems.push(`round ${rounds.length + 1}: skein pub exited with ${JSON.stringify(status)}: ${publisher.describe()}`);
      // Progress lines come every second: delivery is known to within a second.
      const round = { sessionId, connectMs: available.atMs - roundStartMs, deliverMs: delivered.atMs - roundStartMs };
      rounds.push(round);
      log(`round ${rounds.length}: session ${sessionId} connected after ${round.connectMs} ms, ${messages} messages delivered by ${round.deliverMs} ms`);
    }
    flood.signal('SIGTERM');
    const done = await flood.waitForEvent('done', 10_000);
    subscriber.signal('SIGTERM');
    const summary = await subscriber.waitForEvent('summary', 20_000);
    if (summary['failure'] !== null) problems.push(`the subscriber failed: ${String(summary['failure'])}`);
    const publisherSessions = new Set(rounds.map((r) => r.sessionId));
    const foreign = subscriber.all('image-available').filter((e) => !publisherSessions.has(e['sessionId'] as number));
    if (foreign.length > 0) problems.push(`the subscriber had images of ${foreign.length} sessions that no publisher had: ${JSON.stringify(foreign.slice(0, 3))}`);
    const progress = subscriber.all('progress').map((p) => p['process'] as { heapUsed: number; arrayBuffers: number });
    const buffersPeak = Math.max(...progress.map((p) => p.arrayBuffers));
    if (buffersPeak > arrayBuffersMax) problems.push(`subscriber ArrayBuffer memory peaked at ${(buffersPeak / MIB).toFixed(1)} MiB, above ${arrayBuffersMax / MIB} MiB`);
    const half = Math.floor(progress.length / 2);
    const early = Math.min(...progress.slice(Math.floor(progress.length / 4), half).map((p) => p.heapUsed));
    const late = Math.min(...progress.slice(half).map((p) => p.heapUsed));
    if (progress.length >= 8 && late > early * 1.5 + 8 * MIB) problems.push(`subscriber heap grew: lowest ${(early / MIB).toFixed(1)} MiB in the first half, ${(late / MIB).toFixed(1)} MiB in the second`);
    const connect = rounds.map((r) => r.connectMs);
    const deliver = rounds.map((r) => r.deliverMs);
    figures = {
      rounds: rounds.length,
      connectMsMedian: percentile(connect, 0.5),
      connectMsMax: Math.max(...connect),
      deliverMsMedian: percentile(deliver, 0.5),
      deliverMsMax: Math.max(...deliver),
      floodSent: done['sent'] as number,
      floodRatePerSec: Math.round(((done['sent'] as number) * 1000) / (done['elapsedMs'] as number)),
      floodReplies: done['replies'] as number,
      setupsReceived: counter(summary, 'Setup messages received'),
      pendingImagesEvicted: counter(summary, 'Unestablished images evicted at the pending-image limit'),
      pendingImagesExpired: counter(summary, 'Unestablished images expired without DATA or heartbeat'),
      imagesRefused: counter(summary, 'Images refused at the per-endpoint limit'),
      unknownSessionsIgnored: counter(summary, 'Unknown sessions ignored at the pending-setup limit'),
      invalidPackets: counter(summary, 'Invalid packets'),
      subscriberHeapMiBLowestFirstHalf: +(early / MIB).toFixed(1),
      subscriberHeapMiBLowestSecondHalf: +(late / MIB).toFixed(1),
      subscriberArrayBuffersMiBPeak: +(buffersPeak / MIB).toFixed(1),
    };
  } catch (error) {
    problems.push(`flood soak failed: ${(error as Error).stack ?? String(error)}\n${subscriber.describe()}\n${flood.describe()}`);
  } finally {
    await stopAll();
  }
  if (rounds.length === 0 && problems.length === 0) problems.push('no round ran');
  return { ok: problems.length === 0, problems, rounds, figures };
}
