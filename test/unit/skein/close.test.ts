/**
 * A graceful close ends when its publications have drained and every receiver has acknowledged
 * the end of stream, not on the driver's next time events: those are a second apart by default,
 * and a close used to wait for two of its own (one to leave DRAINING, one to leave LINGER) and one
 * of the receiver's (before it acknowledged the end), so every short-lived process (a CLI
 * command) spent about 2 s closing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Skein } from '../../../src/skein.js';
import { freeUdpPort, waitFor } from '../../support/wait.js';

const SECOND_NS = 1_000_000_000;

test('close: drained and acknowledged publications end the close, however far apart the time events are', { timeout: 60_000 }, async () => {
  const channel = `aeron:udp?endpoint=127.0.0.1:${await freeUdpPort()}`;
  const receiverErrors: unknown[] = [];
  const senderErrors: unknown[] = [];
  // Time events 30 s apart on both sides and a 30 s linger: a close that waited for a time event
  // of either side (the receiver's used to start its end-of-stream status messages) or for the
  // linger would take 30 s or more.
  const slowTimers = { timerIntervalNs: 30 * SECOND_NS, clientLivenessTimeoutNs: 90 * SECOND_NS };
  const receiver = Skein.launch({ testProfile: true, seed: 31, errorHandler: (e) => receiverErrors.push(e), driver: slowTimers });
  const sender = Skein.launch({
    testProfile: true,
    seed: 32,
    errorHandler: (e) => senderErrors.push(e),
    driver: { ...slowTimers, publicationLingerTimeoutNs: 30 * SECOND_NS },
  });
  try {
    let unavailable = 0;
    const subscription = await receiver.addSubscription(channel, 71, { onUnavailableImage: () => unavailable++ });
    const publication = await sender.addPublication(channel, 71);
    await waitFor(() => publication.isConnected && subscription.isConnected, 10_000, 'connection');
    const payload = new Uint8Array(64).fill(7);
    let offered = 0;
    await waitFor(() => {
      if (publication.offer(payload) > 0) offered++;
      return offered === 20;
    }, 10_000, '20 messages offered');
    let received = 0;
    await waitFor(() => {
      received += subscription.poll(() => undefined, 10);
      return received === 20;
    }, 10_000, '20 messages received');
    const started = Date.now();
    await sender.close();
    const closeMs = Date.now() - started;
    assert.ok(closeMs < 15_000, `close took ${closeMs} ms with time events 30 s apart`);
    // The receiver told its subscriber of the end as soon as it had read to it.
    await waitFor(() => {
      subscription.poll(() => undefined, 10);
      return unavailable === 1;
    }, 10_000, 'the image reported unavailable');
    assert.equal(sender.isClosed, true);
    assert.deepEqual(senderErrors, [], 'nothing reported lost or late');
  } finally {
    sender.destroy();
    await receiver.close();
  }
  assert.deepEqual(receiverErrors, []);
});
