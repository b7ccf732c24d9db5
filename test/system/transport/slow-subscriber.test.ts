import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { killAllFixtures, loopbackChannel, startFixture, type FixtureProcess } from '../../support/system-processes.js';

/**
 * A subscriber that reads a few fragments at a time and sleeps in between holds back a publisher
 * in another process: flow control makes the publisher see BACK_PRESSURED, and every message still
 * arrives, in order and intact.
 */

after(() => killAllFixtures());

const COUNT = 10_000;

test('a slow subscriber back-pressures the publisher and loses nothing', { timeout: 60_000 }, async (t) => {
  const channel = await loopbackChannel();
  const common = { channel, streamId: 1004, count: COUNT };
  const started: FixtureProcess[] = [];
  try {
    const subscriber = startFixture('subscriber', {
      ...common,
      seed: 41,
      slow: { fragmentLimit: 4, sleepMs: 1 },
      timeoutMs: 45_000,
      endOfStreamTimeoutMs: 5000,
    });
    started.push(subscriber);
    await subscriber.waitForEvent('subscribed', 10_000);
    const publisher = startFixture('publisher', { ...common, seed: 42 });
    started.push(publisher);
    const connected = await publisher.waitForEvent('connected', 10_000);
    const done = await publisher.waitForEvent('done', 45_000);
    const summary = await subscriber.waitForEvent('summary', 45_000);
    const context = `\n${publisher.describe()}\n${subscriber.describe()}`;
    t.diagnostic(`publisher back-pressured ${String(done.backPressured)} times while offering ${COUNT} messages in ${String(done.elapsedMs)} ms`);
    assert.equal(done.sent, COUNT, context);
    assert.ok((done.backPressured as number) > 0, `the publisher saw BACK_PRESSURED${context}`);
    assert.equal(done.notConnected, 0, `the publisher never saw NOT_CONNECTED${context}`);
    assert.equal(summary.failure, null, context);
    assert.deepEqual(summary.sessions, [{ sessionId: connected.sessionId, received: COUNT }], `every message arrived${context}`);
    assert.deepEqual(await subscriber.waitForExit(10_000), { code: 0, signal: null }, context);
    assert.deepEqual(await publisher.waitForExit(10_000), { code: 0, signal: null }, context);
  } finally {
    await Promise.allSettled(started.map((p) => p.kill()));
  }
});
