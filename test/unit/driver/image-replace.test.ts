import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { Skein } from '../../../src/skein.js';
import type { Image } from '../../../src/client/image.js';
import { SetupFlyweight } from '../../../src/protocol/setup-flyweight.js';
import { DataHeaderFlyweight } from '../../../src/protocol/data-header-flyweight.js';
import { DATA_HEADER_LENGTH, FrameFlags, FrameType, SETUP_LENGTH } from '../../../src/protocol/frame-constants.js';
import { waitFor, freeUdpPort } from '../../support/wait.js';

/** A heartbeat at the start of the stream instance of {@link setupFrame}: establishes its image. */
function heartbeatFrame(sessionId: number, streamId: number, termId: number): Uint8Array {
  const bytes = new Uint8Array(DATA_HEADER_LENGTH);
  new DataHeaderFlyweight().wrap(bytes, 0, DATA_HEADER_LENGTH).writeHeader(0, FrameFlags.UNFRAGMENTED, FrameType.DATA, 0, sessionId, streamId, termId);
  return bytes;
}

/** A SETUP for (sessionId, streamId) that describes another instance of the stream. */
function setupFrame(sessionId: number, streamId: number, initialTermId: number): Uint8Array {
  const bytes = new Uint8Array(SETUP_LENGTH);
  new SetupFlyweight()
    .wrap(bytes, 0, SETUP_LENGTH)
    .write({ flags: 0, termOffset: 0, sessionId, streamId, initialTermId, activeTermId: initialTermId, termLength: 65536, mtu: 1408, ttl: 0 });
  return bytes;
}

test('a SETUP from another instance of a session replaces the image only once the image fell silent', { timeout: 20_000 }, async () => {
  const port = await freeUdpPort();
  const channel = `aeron:udp?endpoint=127.0.0.1:${port}`;
  const subscriberSide = Skein.launch({ testProfile: true, seed: 1, driver: { imageReplaceSilenceNs: 300_000_000 } });
  const publisherSide = Skein.launch({ testProfile: true, seed: 2 });
  const spoofer = createSocket('udp4');
  try {
    const available: Image[] = [];
    const unavailable: number[] = [];
    const subscription = await subscriberSide.addSubscription(channel, 1001, {
      onAvailableImage: (image) => available.push(image),
      onUnavailableImage: (image) => unavailable.push(image.correlationId),
    });
    const publication = await publisherSide.addPublication(channel, 1001);
    await waitFor(() => publication.isConnected && available.length === 1, 5000, 'connection');
    const live = available[0]!;
    const other = setupFrame(publication.sessionId, 1001, (live.initialTermId + 12345) | 0);
    // While the publisher is alive (heartbeats every 100 ms), a SETUP naming its session with another
    // initial term id is ignored: the stream keeps flowing.
    for (let i = 0; i < 5; i++) {
      spoofer.send(other, port, '127.0.0.1');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.equal(available.length, 1, 'no new image while the session is live');
    assert.deepEqual(unavailable, []);
    let received = 0;
    subscription.onFragment(() => received++);
    await waitFor(() => publication.offer(new Uint8Array(8)) > 0, 2000, 'an offer');
    await waitFor(() => received === 1, 2000, 'the live stream to deliver');

    // The publisher dies without a goodbye: after the silence threshold the same SETUP replaces the
    // image once its sender answers the status message (a heartbeat from the SETUP's source).
    publisherSide.destroy();
    await new Promise((resolve) => setTimeout(resolve, 400));
    spoofer.send(other, port, '127.0.0.1');
    spoofer.send(heartbeatFrame(publication.sessionId, 1001, (live.initialTermId + 12345) | 0), port, '127.0.0.1');
    await waitFor(() => available.length === 2, 3000, 'the replacing image');
    assert.deepEqual(unavailable, [live.correlationId], 'the old image went first');
    assert.equal(available[1]!.sessionId, publication.sessionId);
    assert.equal(available[1]!.initialTermId, (live.initialTermId + 12345) | 0);
  } finally {
    spoofer.close();
    publisherSide.destroy();
    subscriberSide.destroy();
  }
});
