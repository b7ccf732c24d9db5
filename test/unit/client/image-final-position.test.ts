/**
 * An image that goes keeps the position its subscriber reached: the driver reads it before it
 * frees the position counter (a freed counter reads 0), for IPC and UDP images alike.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Skein } from '../../../src/skein.js';
import type { Image } from '../../../src/client/image.js';
import { freeUdpPort, waitFor } from '../../support/wait.js';

for (const kind of ['ipc', 'udp'] as const) {
  test(`a ${kind} image that goes after its stream ended reports the position its subscriber reached`, async () => {
    const skein = Skein.launch({ testProfile: true, seed: 51 });
    try {
      const channel = kind === 'ipc' ? 'aeron:ipc?term-length=65536' : `aeron:udp?endpoint=127.0.0.1:${await freeUdpPort()}|term-length=65536`;
      let gone: Image | null = null;
      const subscription = await skein.addSubscription(channel, 9, { onUnavailableImage: (image) => (gone = image) });
      const publication = await skein.addExclusivePublication(channel, 9);
      await subscription.connected({ timeoutMs: 5000 });
      const message = new Uint8Array(1000).fill(7);
      for (let i = 0; i < 100; i++) {
        await waitFor(() => {
          subscription.poll(() => {}, 100);
          return publication.offer(message) >= 0;
        }, 5000, 'offer');
      }
      const end = publication.position;
      await waitFor(() => {
        subscription.poll(() => {}, 100);
        return subscription.images[0]!.position === end;
      }, 5000, 'the subscriber to reach the end');
      publication.close();
      await waitFor(() => {
        subscription.poll(() => {}, 100);
        return gone !== null;
      }, 10_000, 'the image to go');
      assert.equal(gone!.isClosed, true);
      assert.equal(gone!.position, end);
      assert.equal(gone!.isEndOfStream, true);
    } finally {
      await skein.close();
    }
  });
}
