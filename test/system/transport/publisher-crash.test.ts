import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { killAllFixtures, loopbackChannel, startFixture, type FixtureProcess } from '../../support/system-processes.js';

/**
 * A publisher process is SIGKILLed mid-stream: the subscriber's unavailable-image handler fires
 * once the image liveness timeout has passed without a frame (2 s in the test profile, checked
 * every 50 ms timer interval), and a restarted publisher brings a new image with its own session
 * id whose messages all arrive.
 */

after(() => killAllFixtures());

const LIVENESS_MS = 2000;
/** The last frame can precede the kill by a few milliseconds; nothing may end the image sooner. */
const EARLY_MARGIN_MS = 100;
/** One timer interval plus scheduling on a busy machine. */
const LATE_MARGIN_MS = 1500;

test('a killed publisher makes its image unavailable after the liveness timeout; a restarted one brings a new image', { timeout: 60_000 }, async (t) => {
  const channel = await loopbackChannel();
  const common = { channel, streamId: 1002, driver: { imageLivenessTimeoutNs: LIVENESS_MS * 1_000_000 } };
  const started: FixtureProcess[] = [];
  try {
    const subscriber = startFixture('subscriber', { ...common, seed: 21, count: null, timeoutMs: 50_000, reportIntervalMs: 100 });
    started.push(subscriber);
    await subscriber.waitForEvent('subscribed', 10_000);

    const first = startFixture('publisher', { ...common, seed: 22, count: null, ratePerSecond: 5000 });
    started.push(first);
    const firstConnected = await first.waitForEvent('connected', 10_000);
    const firstSession = firstConnected.sessionId as number;
    await subscriber.waitForEvent('image-available', 10_000, (e) => e.sessionId === firstSession);
    await subscriber.waitForEvent('progress', 10_000, (e) => perSession(e, firstSession) >= 2000);

    const killedAtMs = first.signal('SIGKILL');
    assert.deepEqual(await first.waitForExit(5000), { code: null, signal: 'SIGKILL' });
    const unavailable = await subscriber.waitForEvent('image-unavailable', LIVENESS_MS + 5000, (e) => e.sessionId === firstSession);
    const delayMs = unavailable.atMs - killedAtMs;
    t.diagnostic(`image unavailable ${delayMs} ms after SIGKILL (liveness ${LIVENESS_MS} ms), ${String(unavailable.received)} messages received`);
    assert.ok(
      delayMs >= LIVENESS_MS - EARLY_MARGIN_MS && delayMs <= LIVENESS_MS + LATE_MARGIN_MS,
      `unavailable ${delayMs} ms after the kill, expected within [${LIVENESS_MS - EARLY_MARGIN_MS}, ${LIVENESS_MS + LATE_MARGIN_MS}]\n${subscriber.describe()}`,
    );
    assert.equal(unavailable.endOfStream, false, 'a killed publisher sent no end of stream');
    assert.ok((unavailable.received as number) >= 2000, 'the first publisher\'s messages arrived, checked in order and intact');

    const second = startFixture('publisher', { ...common, seed: 23, count: 3000 });
    started.push(second);
    const secondSession = (await second.waitForEvent('connected', 10_000)).sessionId as number;
    assert.notEqual(secondSession, firstSession, 'the restarted publisher has a new session id');
    const available = await subscriber.waitForEvent('image-available', 10_000, (e) => e.sessionId === secondSession);
    assert.ok(available.atMs > unavailable.atMs, 'the new image comes after the old one went');
    const ended = await subscriber.waitForEvent('image-unavailable', 15_000, (e) => e.sessionId === secondSession);
    assert.equal(ended.received, 3000, `every message of the restarted publisher arrived\n${subscriber.describe()}`);
    assert.equal(ended.endOfStream, true, 'the restarted publisher closed gracefully');
    assert.deepEqual(await second.waitForExit(10_000), { code: 0, signal: null }, second.describe());

    subscriber.signal('SIGTERM');
    const summary = await subscriber.waitForEvent('summary', 10_000);
    assert.equal(summary.failure, null, subscriber.describe());
    const counters = summary.counters as Record<string, number>;
    assert.equal(counters['Images unavailable after liveness timeout'], 1, `one liveness timeout: ${JSON.stringify(counters)}`);
    assert.deepEqual(await subscriber.waitForExit(10_000), { code: 0, signal: null }, subscriber.describe());
    const availableCount = subscriber.events.filter((e) => e.event === 'image-available').length;
    assert.equal(availableCount, 2, 'exactly two images: the killed publisher\'s and the restarted one\'s');
  } finally {
    await Promise.allSettled(started.map((p) => p.kill()));
  }
});

function perSession(progress: Record<string, unknown>, sessionId: number): number {
  return ((progress.perSession as Record<string, number> | undefined) ?? {})[String(sessionId)] ?? 0;
}
