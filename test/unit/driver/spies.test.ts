/**
 * Spy subscriptions (`aeron-spy:`) read a network publication's log in this driver, without the
 * network; tethered ones hold the publication back, untethered ones are left behind and rejoin.
 * Session-specific subscriptions (`session-id=`) take only their session, over UDP, IPC and spies.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Skein } from '../../../src/skein.js';
import type { Header } from '../../../src/logbuffer/header.js';
import { BACK_PRESSURED } from '../../../src/client/publication-codes.js';
import type { Publication } from '../../../src/client/publication.js';
import type { Subscription } from '../../../src/client/subscription.js';
import { waitFor, freeUdpPort } from '../../support/wait.js';

function launch(seed: number, driver: Record<string, number | boolean> = {}): Skein {
  return Skein.launch({ testProfile: true, seed, env: {}, driver, errorHandler: (e) => assert.fail(`unexpected error: ${String(e)}`) });
}

async function offerCount(publication: Publication, count: number, length = 64): Promise<void> {
  const payload = new Uint8Array(length);
  for (let i = 0; i < count; i++) {
    new DataView(payload.buffer).setUint32(0, i, true);
    const deadline = Date.now() + 5000;
    while (publication.offer(payload) < 0) {
      if (Date.now() > deadline) throw new Error(`offer ${i} kept failing`);
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
}

/** Everything a subscription delivers: sequence number and position of each message. */
function record(subscription: Subscription): { seen: string[] } {
  const seen: string[] = [];
  subscription.onFragment((buffer: Uint8Array, offset: number, _length: number, header: Header) => {
    seen.push(`${new DataView(buffer.buffer, buffer.byteOffset + offset, 4).getUint32(0, true)}@${header.position}`);
  });
  return { seen };
}

test('a spy reads exactly what the network publication sends its receiver, from the same log', { timeout: 15_000 }, async () => {
  const skein = launch(501);
  try {
    const channel = `aeron:udp?endpoint=127.0.0.1:${await freeUdpPort()}`;
    const spy = await skein.addSubscription(`aeron-spy:${channel}`, 1);
    const receiver = await skein.addSubscription(channel, 1);
    const publication = await skein.addPublication(channel, 1);
    await spy.connected({ timeoutMs: 5000 });
    assert.equal(spy.images[0]!.sourceIdentity, 'aeron-spy');
    assert.equal(spy.images[0]!.logBuffers, publication.logBuffers, "the spy's image is the publication's own log");
    const a = record(spy);
    const b = record(receiver);
    await publication.connected({ timeoutMs: 5000 });
    await offerCount(publication, 2000);
    await waitFor(() => a.seen.length === 2000 && b.seen.length === 2000, 10_000, 'both got 2000');
    assert.deepEqual(a.seen, b.seen, 'same messages at the same positions');
  } finally {
    await skein.close();
  }
});

test('a spy alone does not connect the publication; with ssc=true it does, and the sender keeps up with it', { timeout: 15_000 }, async () => {
  const skein = launch(502);
  try {
    const channel = `aeron:udp?endpoint=127.0.0.1:${await freeUdpPort()}`;
    const spy = await skein.addSubscription(`aeron-spy:${channel}`, 2);
    const plain = await skein.addPublication(channel, 2);
    await spy.connected({ timeoutMs: 5000 });
    await assert.rejects(plain.connected({ timeoutMs: 200 }), /not connected within 200 ms/);
    const sscChannel = `aeron:udp?endpoint=127.0.0.1:${await freeUdpPort()}|ssc=true`;
    const sscSpy = await skein.addSubscription(`aeron-spy:${sscChannel.replace('|ssc=true', '')}`, 3);
    const ssc = await skein.addPublication(sscChannel, 3);
    await ssc.connected({ timeoutMs: 5000 });
    const got = record(sscSpy);
    await offerCount(ssc, 3000);
    await waitFor(() => got.seen.length === 3000, 10_000, 'the spy got 3000 with no receiver at all');
  } finally {
    await skein.close();
  }
});

test('a tethered spy that stops reading holds the publication back; an untethered one does not', { timeout: 15_000 }, async () => {
  const skein = launch(503);
  try {
    for (const tether of [true, false]) {
      const channel = `aeron:udp?endpoint=127.0.0.1:${await freeUdpPort()}`;
      const receiver = await skein.addSubscription(channel, 4);
      const spy = await skein.addSubscription(`aeron-spy:${channel}|tether=${tether}`, 4);
      const publication = await skein.addPublication(channel, 4);
      const received = record(receiver);
      await publication.connected({ timeoutMs: 5000 });
      await spy.connected({ timeoutMs: 5000 });
      // The spy never polls. 64 KiB terms: the publisher may run half a term ahead of its slowest consumer.
      let accepted = 0;
      let backPressured = false;
      const payload = new Uint8Array(1000);
      const deadline = Date.now() + 3000;
      while (accepted < 200 && Date.now() < deadline) {
        const result = publication.offer(payload);
        if (result > 0) accepted++;
        else if (result === BACK_PRESSURED) {
          backPressured = true;
          if (tether) break;
        }
        await new Promise((resolve) => setImmediate(resolve));
      }
      if (tether) {
        assert.ok(backPressured && accepted < 40, `a tethered spy holds it back: ${accepted} messages of 1000 B accepted`);
      } else {
        assert.equal(accepted, 200, 'an untethered spy does not hold it back');
      }
      await waitFor(() => received.seen.length === accepted, 5000, 'the receiver got everything accepted');
      publication.close();
      spy.close();
      receiver.close();
    }
  } finally {
    await skein.close();
  }
});

test('an untethered spy left a window behind loses its image after the window-limit timeout and rejoins after resting', { timeout: 20_000 }, async () => {
  const skein = launch(504, { untetheredWindowLimitTimeoutNs: 200_000_000, untetheredRestingTimeoutNs: 300_000_000 });
  try {
    const channel = `aeron:udp?endpoint=127.0.0.1:${await freeUdpPort()}`;
    const receiver = await skein.addSubscription(channel, 5);
    const events: string[] = [];
    const spy = await skein.addSubscription(`aeron-spy:${channel}|tether=false`, 5);
    spy.onConnectionChange((event) => events.push(event.type));
    const publication = await skein.addPublication(channel, 5);
    record(receiver);
    await publication.connected({ timeoutMs: 5000 });
    await offerCount(publication, 200, 1000);
    await waitFor(() => events.includes('image-unavailable'), 5000, 'the spy left behind');
    await waitFor(() => events.filter((e) => e === 'image-available').length === 2, 5000, 'the spy rejoined');
    const rejoined = spy.images[0]!;
    assert.ok(rejoined.position >= 150 * 1000, `it rejoined at the sender's position (${rejoined.position})`);
  } finally {
    await skein.close();
  }
});

test('session-id= takes only that session, over UDP, IPC and spies', { timeout: 15_000 }, async () => {
  const skein = launch(505);
  try {
    const channel = `aeron:udp?endpoint=127.0.0.1:${await freeUdpPort()}`;
    for (const base of [channel, 'aeron:ipc']) {
      const wanted = await skein.addExclusivePublication(`${base}${base.includes('?') ? '|' : '?'}session-id=77`, 6);
      const other = await skein.addExclusivePublication(`${base}${base.includes('?') ? '|' : '?'}session-id=88`, 6);
      const only = await skein.addSubscription(`${base}${base.includes('?') ? '|' : '?'}session-id=77`, 6);
      const all = await skein.addSubscription(base, 6);
      const spies = base === channel ? [await skein.addSubscription(`aeron-spy:${channel}|session-id=77`, 6)] : [];
      await waitFor(() => all.imageCount === 2 && only.imageCount === 1 && spies.every((s) => s.imageCount === 1), 5000, `images on ${base}`);
      assert.deepEqual(only.images.map((i) => i.sessionId), [77]);
      for (const s of spies) assert.deepEqual(s.images.map((i) => i.sessionId), [77]);
      assert.deepEqual(all.images.map((i) => i.sessionId).sort(), [77, 88]);
      for (const x of [wanted, other, only, all, ...spies]) x.close();
    }
  } finally {
    await skein.close();
  }
});
