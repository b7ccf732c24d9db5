/**
 * A graceful close ends when its publications have drained and every receiver has acknowledged
 * the end of stream, not on the driver's next time events: those are a second apart by default,
 * and a close used to wait for two of them (one to leave DRAINING, one to leave LINGER), so every
 * short-lived process (a CLI command) spent about 2 s closing.
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
  const receiver = Skein.launch({ testProfile: true, seed: 31, errorHandler: (e) => receiverErrors.push(e) });
  // Time events and the linger 30 s apart: a close that waited for either would take 30 s or more.
  const sender = Skein.launch({
    testProfile: true,
    seed: 32,
    errorHandler: (e) => senderErrors.push(e),
    driver: { timerIntervalNs: 30 * SECOND_NS, publicationLingerTimeoutNs: 30 * SECOND_NS, clientLivenessTimeoutNs: 90 * SECOND_NS },
  });
  try {
    const subscription = await receiver.addSubscription(channel, 71);
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
    assert.equal(sender.isClosed, true);
    assert.deepEqual(senderErrors, [], 'nothing reported lost or late');
  } finally {
    sender.destroy();
    await receiver.close();
  }
  assert.deepEqual(receiverErrors, []);
});
