import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { killAllFixtures, loopbackChannel, startFixture, type FixtureEvent, type FixtureProcess } from '../../support/system-processes.js';

/**
 * Two processes over loopback UDP with 10% loss, 5% duplication and 5% reordering injected on
 * both sides in both directions (the publisher's sends and receives, and the subscriber's): every
 * message of mixed sizes, fragmented ones included, arrives once, in order, byte-identical (the
 * subscriber fixture checks each one), and the stream ends cleanly.
 *
 * The million-message run takes about 20 s on this 2-core machine since gaps are NAKed and
 * retransmitted in parallel (it took about 70 s when one gap was repaired per round trip).
 * SKEIN_TEST_MILLION=0 skips it for quick local runs.
 */

after(() => killAllFixtures());

const FAULTS = { lossRate: 0.1, duplicateRate: 0.05, reorderRate: 0.05 };

/**
 * Mostly small messages (so the run moves many of them) with three fragmented ones in every 32:
 * 1377 bytes (2 frames at the 1376-byte MTU payload), 3000 (3 frames) and 1376 (exactly one full
 * frame).
 */
const SIZES = [8, 24, 100, 8, 40, 16, 1377, 12, 64, 8, 32, 200, 8, 16, 48, 8, 24, 100, 8, 40, 16, 3000, 12, 64, 8, 32, 200, 8, 16, 48, 8, 1376];

/**
 * Larger terms than the test profile's 64 KiB so a window holds many datagrams, a short
 * retransmit linger so a lost retransmission is asked for again quickly, and a publication linger
 * long enough to serve the last repairs after the publisher closes.
 */
const DRIVER = {
  termBufferLength: 1024 * 1024,
  initialWindowLength: 512 * 1024,
  socketRcvbufLength: 4 * 1024 * 1024,
  retransmitUnicastLingerNs: 500_000,
  publicationLingerTimeoutNs: 2_000_000_000,
};

async function runLossyStream(count: number, budgetMs: number, report: (message: string) => void): Promise<void> {
  const channel = await loopbackChannel();
  const common = { channel, streamId: 1001, sizes: SIZES, driver: DRIVER, faults: { send: FAULTS, receive: FAULTS }, reportIntervalMs: 5000 };
  const startMs = Date.now();
  let subscriber: FixtureProcess | undefined;
  let publisher: FixtureProcess | undefined;
  try {
    subscriber = startFixture('subscriber', {
      ...common,
      seed: 11,
      count,
      timeoutMs: budgetMs,
      endOfStreamTimeoutMs: 5000,
      drainMs: 250,
    });
    await subscriber.waitForEvent('subscribed', 10_000);
    publisher = startFixture('publisher', { ...common, seed: 12, count, stallTimeoutMs: 20_000, closeTimeoutMs: 10_000 });
    const connected = await publisher.waitForEvent('connected', 10_000);
    const done = await publisher.waitForEvent('done', budgetMs);
    const summary = await subscriber.waitForEvent('summary', budgetMs);
    const context = `\n${publisher.describe()}\n${subscriber.describe()}`;
    assert.equal(done.sent, count, `publisher offered every message${context}`);
    assert.equal(summary.failure, null, `subscriber found every message in order and intact${context}`);
    assert.equal(summary.received, count, `subscriber received every message${context}`);
    assert.deepEqual(summary.sessions, [{ sessionId: connected.sessionId, received: count }], `one image, the publisher's${context}`);
    assertFaultsInjected(summary, 'subscriber', context);
    const closed = await publisher.waitForEvent('closed', 15_000);
    assertFaultsInjected(closed, 'publisher', context);
    const ended = subscriber.find('image-unavailable', (e) => e.sessionId === connected.sessionId);
    assert.ok(ended !== undefined && ended.endOfStream === true, `the image ended at the end of the stream${context}`);
    assert.deepEqual(await subscriber.waitForExit(10_000), { code: 0, signal: null }, `subscriber exit${context}`);
    assert.deepEqual(await publisher.waitForExit(15_000), { code: 0, signal: null }, `publisher exit${context}`);
    const elapsedMs = Date.now() - startMs;
    const counters = closed.counters as Record<string, number>;
    report(
      `${count} messages in ${elapsedMs} ms (${done.messagesPerSecond} messages/s offered); ` +
        `retransmits ${counters['Retransmits sent'] ?? 0}, NAKs received ${counters['NAKs received'] ?? 0}, ` +
        `invalid packets at the publisher ${counters['Invalid packets'] ?? 0}; ` +
        `faults publisher ${JSON.stringify(closed.faults)}, subscriber ${JSON.stringify(summary.faults)}`,
    );
  } finally {
    await Promise.allSettled([publisher?.kill(), subscriber?.kill()]);
  }
}

function assertFaultsInjected(event: FixtureEvent, who: string, context: string): void {
  const faults = event.faults as Record<'send' | 'receive', Record<string, number>> | null;
  assert.ok(faults !== null, `${who} ran with fault injection${context}`);
  for (const direction of ['send', 'receive'] as const) {
    for (const kind of ['dropped', 'duplicated', 'reordered']) {
      assert.ok(faults[direction][kind]! > 0, `${who} ${direction} ${kind} some datagrams: ${JSON.stringify(faults)}${context}`);
    }
  }
}

test(
  'a million messages of mixed sizes cross 10% loss, duplication and reordering both ways intact',
  { timeout: 170_000, skip: process.env.SKEIN_TEST_MILLION === '0' ? 'SKEIN_TEST_MILLION=0' : false },
  async (t) => {
    await runLossyStream(1_000_000, 150_000, (message) => t.diagnostic(message));
  },
);
