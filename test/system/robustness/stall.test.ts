import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { killAllFixtures, loopbackChannel, startFixture, type FixtureProcess } from '../../support/system-processes.js';

/**
 * A publisher whose event loop is blocked for 3 s (the fixture busy-waits after 3000 messages: its
 * embedded driver sends nothing, not even heartbeats, and reads nothing) is handled by the liveness
 * rules, and the stream recovers on its own when the publisher resumes. Which outcome is expected
 * follows from the timeouts:
 *
 * - Block shorter than the subscriber's image liveness timeout (10 s) and the publisher's
 *   connection timeout (5 s): nothing times out. The stream pauses for 3 s and continues on the
 *   same image; every message arrives once, in order.
 * - Block longer than the image liveness timeout (1 s): the subscriber's image becomes unavailable
 *   about 1 s after the last frame (not at end of stream; the liveness-timeout counter counts it),
 *   the session cools down (200 ms), and when the publisher resumes its data elicits a SETUP and a
 *   new image of the same session joins at the publisher's current position. Messages sent while no
 *   image existed (those the stalled driver sends on resuming, before the new image joins) are
 *   lost to this subscriber; from the rejoin on, every message arrives once, in order, up to the
 *   publisher's graceful end of stream.
 */

after(() => killAllFixtures());

const S = 1_000_000_000;
const COUNT = 8000;
const BLOCK_AFTER = 3000;
const BLOCK_MS = 3000;
const SIZES = [8, 100, 500, 1000, 40, 16];

function start(channel: string, streamId: number, subscriberDriver: Record<string, number>, publisherDriver: Record<string, number>, rejoin: boolean) {
  const subscriber = startFixture('subscriber', {
    channel,
    streamId,
    seed: streamId,
    sizes: SIZES,
    count: null,
    rejoin,
    timeoutMs: 60_000,
    reportIntervalMs: 100,
    driver: subscriberDriver,
  });
  const publisher = (): FixtureProcess =>
    startFixture('publisher', {
      channel,
      streamId,
      seed: streamId + 1,
      sizes: SIZES,
      count: COUNT,
      ratePerSecond: 4000,
      blockAfter: BLOCK_AFTER,
      blockMs: BLOCK_MS,
      driver: publisherDriver,
    });
  return { subscriber, publisher };
}

describe('a peer whose event loop stalls', { timeout: 120_000 }, () => {
  it('for less than the liveness timeouts: the stream pauses and continues on the same image, nothing lost', async (t) => {
    const channel = await loopbackChannel();
    const { subscriber, publisher: startPublisher } = start(channel, 4001, { imageLivenessTimeoutNs: 10 * S }, { publicationConnectionTimeoutNs: 5 * S }, false);
    let publisher: FixtureProcess | undefined;
    try {
      await subscriber.waitForEvent('subscribed', 10_000);
      publisher = startPublisher();
      const sessionId = (await publisher.waitForEvent('connected', 10_000)).sessionId as number;
      const blocked = await publisher.waitForEvent('blocked', 15_000);
      const resumed = await publisher.waitForEvent('resumed', BLOCK_MS + 5000);
      const done = await publisher.waitForEvent('done', 20_000);
      await publisher.waitForEvent('closed', 10_000);
      const ended = await subscriber.waitForEvent('image-unavailable', 10_000, (e) => e.sessionId === sessionId);
      const context = `\n${publisher.describe()}\n${subscriber.describe()}`;
      t.diagnostic(`blocked ${String(resumed.stalledMs)} ms after ${String(blocked.sent)} messages; ${String(ended.received)} received`);
      assert.ok((resumed.stalledMs as number) >= BLOCK_MS, context);
      assert.equal(done.sent, COUNT, context);
      assert.equal(ended.endOfStream, true, `the one image ended at the end of the stream${context}`);
      assert.equal(ended.received, COUNT, `every message arrived, in order and intact${context}`);
      assert.equal(subscriber.all('image-available').length, 1, `one image throughout${context}`);
      subscriber.signal('SIGTERM');
      const summary = await subscriber.waitForEvent('summary', 10_000);
      const counters = summary.counters as Record<string, number>;
      assert.equal(counters['Images unavailable after liveness timeout'] ?? 0, 0, `no liveness timeout: ${JSON.stringify(counters)}`);
      const stalled = subscriber.all('progress').filter((e) => e.atMs > blocked.atMs + 500 && e.atMs < blocked.atMs + BLOCK_MS - 500);
      assert.ok(stalled.length > 0 && stalled.every((e) => e.received === stalled[0]!.received), 'nothing arrived while the publisher was blocked');
      assert.deepEqual(await publisher.waitForExit(10_000), { code: 0, signal: null }, context);
    } finally {
      await Promise.allSettled([publisher?.kill(), subscriber.kill()]);
    }
  });

  it('for longer than the image liveness timeout: the image goes after the timeout and the same session rejoins on resume', async (t) => {
    const channel = await loopbackChannel();
    const livenessMs = 1000;
    const { subscriber, publisher: startPublisher } = start(channel, 4002, { imageLivenessTimeoutNs: livenessMs * 1_000_000 }, {}, true);
    let publisher: FixtureProcess | undefined;
    try {
      await subscriber.waitForEvent('subscribed', 10_000);
      publisher = startPublisher();
      const sessionId = (await publisher.waitForEvent('connected', 10_000)).sessionId as number;
      const blocked = await publisher.waitForEvent('blocked', 15_000);
      const lost = await subscriber.waitForEvent('image-unavailable', livenessMs + 5000, (e) => e.sessionId === sessionId);
      const resumed = await publisher.waitForEvent('resumed', BLOCK_MS + 5000);
      const back = await subscriber.waitForEvent('image-available', 10_000, (e) => e.sessionId === sessionId && e.atMs > lost.atMs);
      const rejoined = await subscriber.waitForEvent('rejoined', 10_000, (e) => e.sessionId === sessionId);
      const done = await publisher.waitForEvent('done', 30_000);
      await publisher.waitForEvent('closed', 10_000);
      const ended = await subscriber.waitForEvent('image-unavailable', 10_000, (e) => e.sessionId === sessionId && e.atMs > back.atMs);
      const context = `\n${publisher.describe()}\n${subscriber.describe()}`;
      const lostAfterMs = lost.atMs - blocked.atMs;
      const backAfterMs = back.atMs - resumed.atMs;
      const skipped = (rejoined.resumedAt as number) - (rejoined.expected as number);
      t.diagnostic(
        `image unavailable ${lostAfterMs} ms into the block (liveness ${livenessMs} ms); back ${backAfterMs} ms after the resume; ` +
          `${skipped} messages sent while no image existed; ${String(ended.received)} received`,
      );
      assert.equal(lost.endOfStream, false, `the stalled image ended by liveness, not end of stream${context}`);
      assert.ok(lostAfterMs >= livenessMs - 100 && lostAfterMs <= livenessMs + 1500, `unavailable ${lostAfterMs} ms after the last frame${context}`);
      assert.ok(back.atMs > resumed.atMs - 100 && backAfterMs < 3000, `the image is back ${backAfterMs} ms after the resume${context}`);
      assert.ok(skipped >= 0, `the rejoin does not go backwards${context}`);
      assert.equal(done.sent, COUNT, `the publisher recovered and sent everything${context}`);
      assert.equal(ended.endOfStream, true, `the new image ended at the end of the stream${context}`);
      assert.equal((ended.received as number) + skipped, COUNT, `every message outside the rejoin gap arrived once, in order${context}`);
      subscriber.signal('SIGTERM');
      const summary = await subscriber.waitForEvent('summary', 10_000);
      assert.equal(summary.failure, null, context);
      const counters = summary.counters as Record<string, number>;
      assert.equal(counters['Images unavailable after liveness timeout'], 1, `one liveness timeout: ${JSON.stringify(counters)}`);
      assert.deepEqual(await publisher.waitForExit(10_000), { code: 0, signal: null }, context);
    } finally {
      await Promise.allSettled([publisher?.kill(), subscriber.kill()]);
    }
  });
});
