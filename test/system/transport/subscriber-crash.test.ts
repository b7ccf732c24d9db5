import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { killAllFixtures, loopbackChannel, startFixture, type FixtureProcess } from '../../support/system-processes.js';

/**
 * A subscriber process is SIGKILLed while a publisher streams to it: the publication stops
 * counting it as connected once no status message came for the publication connection timeout
 * (1 s in the test profile, checked every 50 ms timer interval), after which `isConnected` is
 * false and `offer` returns NOT_CONNECTED.
 */

after(() => killAllFixtures());

const CONNECTION_TIMEOUT_MS = 1000;
/** The last status message can precede the kill by up to the status message interval (200 ms). */
const EARLY_MARGIN_MS = 250;
const LATE_MARGIN_MS = 1500;

test('a killed subscriber leaves the publication not connected after the connection timeout', { timeout: 40_000 }, async (t) => {
  const channel = await loopbackChannel();
  const common = { channel, streamId: 1003 };
  const started: FixtureProcess[] = [];
  try {
    const subscriber = startFixture('subscriber', { ...common, seed: 31, count: null, timeoutMs: 30_000, reportIntervalMs: 100 });
    started.push(subscriber);
    await subscriber.waitForEvent('subscribed', 10_000);
    const publisher = startFixture('publisher', { ...common, seed: 32, count: null, ratePerSecond: 5000, watchConnection: true });
    started.push(publisher);
    await publisher.waitForEvent('connected', 10_000);
    await subscriber.waitForEvent('progress', 10_000, (e) => (e.received as number) >= 2000);

    const killedAtMs = subscriber.signal('SIGKILL');
    assert.deepEqual(await subscriber.waitForExit(5000), { code: null, signal: 'SIGKILL' });
    const notConnected = await publisher.waitForEvent('not-connected', CONNECTION_TIMEOUT_MS + 5000);
    const isConnectedDelayMs = (notConnected.isConnectedFalseAtMs as number) - killedAtMs;
    const offerDelayMs = (notConnected.offerNotConnectedAtMs as number) - killedAtMs;
    t.diagnostic(`isConnected false after ${isConnectedDelayMs} ms, offer NOT_CONNECTED after ${offerDelayMs} ms (timeout ${CONNECTION_TIMEOUT_MS} ms)`);
    for (const [what, delayMs] of [['isConnected false', isConnectedDelayMs], ['offer NOT_CONNECTED', offerDelayMs]] as const) {
      assert.ok(
        delayMs >= CONNECTION_TIMEOUT_MS - EARLY_MARGIN_MS && delayMs <= CONNECTION_TIMEOUT_MS + LATE_MARGIN_MS,
        `${what} ${delayMs} ms after the kill, expected within ` +
          `[${CONNECTION_TIMEOUT_MS - EARLY_MARGIN_MS}, ${CONNECTION_TIMEOUT_MS + LATE_MARGIN_MS}]\n${publisher.describe()}`,
      );
    }

    publisher.signal('SIGTERM');
    const done = await publisher.waitForEvent('done', 5000);
    assert.ok((done.notConnected as number) > 0, 'offers kept returning NOT_CONNECTED');
    const closed = await publisher.waitForEvent('closed', 10_000);
    const counters = closed.counters as Record<string, number>;
    assert.equal(counters['Publication connection timeouts'], 1, `one connection timeout: ${JSON.stringify(counters)}`);
    assert.deepEqual(await publisher.waitForExit(10_000), { code: 0, signal: null }, publisher.describe());
  } finally {
    await Promise.allSettled(started.map((p) => p.kill()));
  }
});
