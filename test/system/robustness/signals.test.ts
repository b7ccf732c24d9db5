import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loopbackChannel, startSkein, stopAll, type StartedProcess } from '../../support/processes.js';
import { startFixture, type FixtureProcess } from '../../support/system-processes.js';

/**
 * SIGTERM and SIGINT close a publisher cleanly, both `skein pub` and the publisher fixture: it
 * stops offering, the driver drains what was written, sends end of stream and lingers to serve
 * retransmissions (the publisher's own datagrams are dropped at 5% here, so the tail may need
 * repairs after the signal, and an end-of-stream heartbeat may be lost), and the process exits 0
 * once the subscriber has acknowledged the end of the stream. The subscriber sees its image end at
 * the end of the stream, with every message the publisher reports sent, well before the image
 * liveness timeout (set to 10 s here) could have ended it.
 *
 * The linger is 2 s (`linger=2s` on the channel, the driver option for the fixture) rather than the
 * test profile's 200 ms: end-of-stream heartbeats go out every 100 ms of idleness, so a 200 ms
 * linger sends only one or two, and losing them leaves the subscriber to the liveness timeout. The
 * subscriber's end-of-stream status message ends the linger early, so the close is still prompt.
 */

after(() => stopAll());

const LIVENESS_MS = 10_000;
/** EOS heartbeat, the subscriber's timer check (50 ms), its EOS status message and the publisher's check, with room for a busy machine. */
const PROMPT_MS = 3000;
const SIGNALS = ['SIGTERM', 'SIGINT'] as const;
const LOSSY = { lossRate: 0.05 };
const LINGER_MS = 2000;

function startSubscriber(channel: string, streamId: number, format: 'fixture' | 'skein-pub'): FixtureProcess {
  return startFixture('subscriber', {
    channel,
    streamId,
    seed: streamId,
    count: null,
    format,
    timeoutMs: 60_000,
    reportIntervalMs: 100,
    driver: { imageLivenessTimeoutNs: LIVENESS_MS * 1_000_000 },
  });
}

/** Waits until the subscriber has `count` messages of `sessionId`. */
async function receivedAtLeast(subscriber: FixtureProcess, sessionId: number, count: number): Promise<void> {
  await subscriber.waitForEvent('progress', 15_000, (e) => ((e.perSession as Record<string, number>)[String(sessionId)] ?? 0) >= count);
}

describe('a signalled publisher closes cleanly', { timeout: 120_000 }, () => {
  for (const signal of SIGNALS) {
    it(`skein pub on ${signal}: exit 0, every message sent arrives, end of stream reaches the subscriber promptly`, async (t) => {
      const channel = await loopbackChannel();
      const streamId = signal === 'SIGTERM' ? 2001 : 2002;
      let subscriber: FixtureProcess | undefined;
      let pub: StartedProcess | undefined;
      try {
        subscriber = startSubscriber(channel, streamId, 'skein-pub');
        await subscriber.waitForEvent('subscribed', 10_000);
        pub = startSkein(['pub', '--test-profile', '--channel', `${channel}|linger=2s`, '--stream', String(streamId), '--size', '64', '--rate', '20000', '--send-faults', 'loss=0.05', '--seed', '7']);
        const sessionId = Number(/\(session (-?\d+)\)/.exec(await pub.waitForLine(/publishing to/, 10_000, 'stderr'))![1]);
        await receivedAtLeast(subscriber, sessionId, 3000);
        const signalledAtMs = pub.signal(signal);
        const status = await pub.waitForExit(15_000);
        const exitedAtMs = Date.now();
        const context = `\n${pub.describe()}\n${subscriber.describe()}`;
        assert.deepEqual(status, { code: 0, signal: null }, `skein pub exits 0 on ${signal}${context}`);
        const summary = pub.lastJson<{ sent: number }>();
        const ended = await subscriber.waitForEvent('image-unavailable', 5000, (e) => e.sessionId === sessionId);
        const delayMs = ended.atMs - signalledAtMs;
        t.diagnostic(`${summary.sent} messages; image ended ${delayMs} ms after ${signal}; skein pub exited ${exitedAtMs - signalledAtMs} ms after it`);
        assert.equal(ended.endOfStream, true, `the image ended at the end of the stream${context}`);
        assert.equal(ended.received, summary.sent, `every message skein pub reports sent arrived, in order and intact${context}`);
        assert.ok(delayMs < PROMPT_MS, `end of stream ${delayMs} ms after the signal, not the ${LIVENESS_MS} ms liveness timeout${context}`);
        assert.ok(ended.atMs <= exitedAtMs, `skein pub stayed until the subscriber had the end of the stream${context}`);
        assert.doesNotMatch(pub.stderr, /ERR_SKEIN_CLOSE_INCOMPLETE|gave up/, 'close completed');
        assert.equal(subscriber.find('mismatch'), undefined, subscriber.describe());
      } finally {
        await Promise.allSettled([pub?.kill(), subscriber?.kill()]);
      }
    });

    it(`the publisher fixture on ${signal}: done, closed, exit 0, the subscriber has every message and the end of stream`, async (t) => {
      const channel = await loopbackChannel();
      const streamId = signal === 'SIGTERM' ? 2003 : 2004;
      let subscriber: FixtureProcess | undefined;
      let publisher: FixtureProcess | undefined;
      try {
        subscriber = startSubscriber(channel, streamId, 'fixture');
        await subscriber.waitForEvent('subscribed', 10_000);
        publisher = startFixture('publisher', {
          channel,
          streamId,
          seed: streamId + 100,
          count: null,
          ratePerSecond: 10_000,
          faults: { send: LOSSY },
          driver: { publicationLingerTimeoutNs: LINGER_MS * 1_000_000 },
        });
        const sessionId = (await publisher.waitForEvent('connected', 10_000)).sessionId as number;
        await receivedAtLeast(subscriber, sessionId, 3000);
        const signalledAtMs = publisher.signal(signal);
        const done = await publisher.waitForEvent('done', 5000);
        const closed = await publisher.waitForEvent('closed', 15_000);
        const status = await publisher.waitForExit(10_000);
        const context = `\n${publisher.describe()}\n${subscriber.describe()}`;
        assert.equal(done.signal, signal, context);
        assert.deepEqual(status, { code: 0, signal: null }, `the publisher exits 0 on ${signal}${context}`);
        const ended = await subscriber.waitForEvent('image-unavailable', 5000, (e) => e.sessionId === sessionId);
        const delayMs = ended.atMs - signalledAtMs;
        t.diagnostic(`${String(done.sent)} messages; image ended ${delayMs} ms after ${signal}; close took ${String(closed.closeMs)} ms`);
        assert.equal(ended.endOfStream, true, `the image ended at the end of the stream${context}`);
        assert.equal(ended.received, done.sent, `every message offered arrived${context}`);
        assert.ok(delayMs < PROMPT_MS, `end of stream ${delayMs} ms after the signal${context}`);
        assert.ok(ended.atMs <= closed.atMs, `the close waited for the subscriber's end of stream${context}`);
        assert.ok((closed.closeMs as number) < LINGER_MS, `the subscriber's end-of-stream status ended the linger early${context}`);
        const faults = closed.faults as { send: { dropped: number } };
        assert.ok(faults.send.dropped > 0, 'some of the publisher\'s datagrams were dropped and repaired');
      } finally {
        await Promise.allSettled([publisher?.kill(), subscriber?.kill()]);
      }
    });
  }
});
