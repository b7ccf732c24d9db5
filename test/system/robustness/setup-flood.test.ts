/**
 * No SETUP flood locks out a genuine publisher, with real processes on loopback: a flood process
 * sends about 25 000 SETUPs a second with random session ids for the subscribed stream (plus
 * mutated SETUPs, random bytes and DATA of unknown sessions) from one UDP socket to the
 * subscriber fixture's endpoint; `skein pub` started during the flood must connect within a few
 * seconds and deliver every message, and the subscriber must hold no image but the publisher's.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { startFixture, killAllFixtures, freeUdpPort, type FixtureEvent } from '../../support/system-processes.js';
import { startSkein, stopAll } from '../../support/processes.js';

const STREAM_ID = 1001;
const MESSAGES = 20_000;
const FLOOD_RATE = 25_000;
const MIB = 1024 * 1024;

after(async () => {
  await killAllFixtures();
  await stopAll();
});

function counter(event: FixtureEvent, label: string): number {
  return ((event['counters'] as Record<string, number> | undefined) ?? {})[label] ?? 0;
}

test('during a 25k/s SETUP flood from one socket, skein pub connects within seconds and delivers everything', { timeout: 60_000 }, async () => {
  const port = await freeUdpPort();
  const channel = `aeron:udp?endpoint=127.0.0.1:${port}`;
  const subscriber = startFixture('subscriber', { channel, streamId: STREAM_ID, count: MESSAGES, format: 'skein-pub', reportIntervalMs: 250, timeoutMs: 30_000 });
  const flood = startFixture('setup-flood', { port, streamId: STREAM_ID, ratePerSec: FLOOD_RATE, durationMs: 30_000, seed: 5 });
  try {
    await subscriber.waitForEvent('subscribed', 10_000);
    // The flood runs for a second first: the subscriber's tables are full when the publisher starts.
    await flood.waitForEvent('progress', 10_000);
    const publisherStartMs = Date.now();
    const publisher = startSkein(['pub', '--channel', channel, '--stream', String(STREAM_ID), '--count', String(MESSAGES), '--test-profile', '--connect-timeout-ms', '10000']);
    const available = await subscriber.waitForEvent('image-available', 10_000);
    const connectMs = available.atMs - publisherStartMs;
    const summary = await subscriber.waitForEvent('summary', 30_000);
    const deliverMs = summary.atMs - publisherStartMs;
    flood.signal('SIGTERM');
    const done = await flood.waitForEvent('done', 10_000);
    const status = await publisher.waitForExit(10_000);
    assert.equal(status.code, 0, publisher.describe());

    const progress = subscriber.all('progress');
    const arrayBuffersMax = Math.max(...progress.map((p) => (p['process'] as { arrayBuffers: number }).arrayBuffers));
    const heapMax = Math.max(...progress.map((p) => (p['process'] as { heapUsed: number }).heapUsed));
    const figures = {
      connectMs,
      deliverMs,
      floodSent: done['sent'],
      floodRatePerSec: Math.round(((done['sent'] as number) * 1000) / (done['elapsedMs'] as number)),
      floodReplies: done['replies'],
      setupsReceived: counter(summary, 'Setup messages received'),
      evicted: counter(summary, 'Unestablished images evicted at the pending-image limit'),
      expired: counter(summary, 'Unestablished images expired without DATA or heartbeat'),
      imagesRefused: counter(summary, 'Images refused at the per-endpoint limit'),
      invalidPackets: counter(summary, 'Invalid packets'),
      arrayBuffersMaxMiB: +(arrayBuffersMax / MIB).toFixed(1),
      heapMaxMiB: +(heapMax / MIB).toFixed(1),
    };
    console.log(`# ${JSON.stringify(figures)}`);

    assert.equal(summary['failure'], null, subscriber.describe());
    assert.equal(summary['received'], MESSAGES, 'every message arrived once, in order, intact');
    assert.ok(connectMs < 5000, `connected ${connectMs} ms after the publisher started`);
    assert.equal(subscriber.all('image-available').length, 1, 'the publisher\'s image is the only one');
    assert.ok(figures.setupsReceived > 10_000, `the flood reached the subscriber (${figures.setupsReceived} SETUPs)`);
    assert.ok(figures.evicted > 0, 'the flood filled the unestablished-image table and was evicted');
    assert.equal(figures.imagesRefused, 0, 'no SETUP met the image limit');
    // One image of 64 KiB terms (the test profile) and the client's buffers: the flood's SETUPs,
    // some asking for 1 GiB terms, allocated no log.
    assert.ok(arrayBuffersMax < 64 * MIB, `ArrayBuffer memory peaked at ${figures.arrayBuffersMaxMiB} MiB`);
  } finally {
    await killAllFixtures();
    await stopAll();
  }
});
