/**
 * Multi-destination subscriptions (`control-mode=manual`): several sockets, added and removed by
 * the application, feed one subscription's images; the same stream arriving through two
 * destinations makes one image, delivered once and in order (what a replay merge needs).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Skein } from '../../../src/skein.js';
import { ErrorCode, SkeinError } from '../../../src/util/errors.js';
import type { Publication } from '../../../src/client/publication.js';
import type { Subscription } from '../../../src/client/subscription.js';
import { waitFor, freeUdpPort } from '../../support/wait.js';

function launch(seed: number): Skein {
  return Skein.launch({ testProfile: true, seed, env: {}, errorHandler: () => {} });
}

function sequence(subscription: Subscription): number[] {
  const seen: number[] = [];
  subscription.onFragment((buffer, offset) => seen.push(new DataView(buffer.buffer, buffer.byteOffset + offset, 4).getUint32(0, true)));
  return seen;
}

async function offerNumbered(publication: Publication, from: number, to: number, between?: (i: number) => Promise<void>): Promise<void> {
  const payload = new Uint8Array(64);
  for (let i = from; i < to; i++) {
    new DataView(payload.buffer).setUint32(0, i, true);
    const deadline = Date.now() + 5000;
    while (publication.offer(payload) < 0) {
      if (Date.now() > deadline) throw new Error(`offer ${i} kept failing`);
      await new Promise((resolve) => setImmediate(resolve));
    }
    await between?.(i);
  }
}

test('one stream through two destinations makes one image, each message once and in order; a destination removed mid-stream loses nothing', { timeout: 20_000 }, async () => {
  const [a, b] = [launch(701), launch(702)];
  try {
    const [e1, e2] = [`aeron:udp?endpoint=127.0.0.1:${await freeUdpPort()}`, `aeron:udp?endpoint=127.0.0.1:${await freeUdpPort()}`];
    const subscription = await b.addSubscription('aeron:udp?control-mode=manual', 4);
    await subscription.addDestination(e1);
    await subscription.addDestination(e2);
    const publication = await a.addPublication('aeron:udp?control-mode=manual', 4);
    await publication.addDestination(e1);
    await publication.addDestination(e2);
    await Promise.all([publication.connected({ timeoutMs: 5000 }), subscription.connected({ timeoutMs: 5000 })]);
    const seen = sequence(subscription);
    await offerNumbered(publication, 0, 2000, async (i) => {
      if (i === 1000) await subscription.removeDestination(e1);
    });
    await waitFor(() => seen.length >= 2000, 5000, '2000 messages');
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(subscription.imageCount, 1, 'one image for both destinations');
    assert.equal(seen.length, 2000, 'each message once');
    assert.ok(seen.every((v, i) => v === i), 'in order');
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
});

test('a destination with a control address joins a dynamic MDC publication', { timeout: 20_000 }, async () => {
  const [a, b] = [launch(703), launch(704)];
  try {
    const control = `127.0.0.1:${await freeUdpPort()}`;
    const publication = await a.addPublication(`aeron:udp?control=${control}|control-mode=dynamic`, 5);
    const subscription = await b.addSubscription('aeron:udp?control-mode=manual', 5);
    await subscription.addDestination(`aeron:udp?endpoint=127.0.0.1:${await freeUdpPort()}|control=${control}`);
    await Promise.all([publication.connected({ timeoutMs: 5000 }), subscription.connected({ timeoutMs: 5000 })]);
    const seen = sequence(subscription);
    await offerNumbered(publication, 0, 500);
    await waitFor(() => seen.length === 500, 5000, '500 messages');
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
});

test('misuse: destinations of a subscription that is not control-mode=manual, twice the same, one not there, a port in use', { timeout: 20_000 }, async () => {
  const skein = launch(705);
  try {
    const port = await freeUdpPort();
    const plain = await skein.addSubscription(`aeron:udp?endpoint=127.0.0.1:${port}`, 6);
    await assert.rejects(plain.addDestination(`aeron:udp?endpoint=127.0.0.1:${await freeUdpPort()}`), (e: SkeinError) => e.code === ErrorCode.DRIVER_COMMAND_FAILED && /control-mode=manual/.test(e.message));
    const mds = await skein.addSubscription('aeron:udp?control-mode=manual', 6);
    const destination = `aeron:udp?endpoint=127.0.0.1:${await freeUdpPort()}`;
    await mds.addDestination(destination);
    await assert.rejects(mds.addDestination(destination), (e: SkeinError) => /is there already/.test(e.message));
    await assert.rejects(mds.removeDestination(`aeron:udp?endpoint=127.0.0.1:${await freeUdpPort()}`), (e: SkeinError) => /is not there/.test(e.message));
    await assert.rejects(mds.addDestination('aeron:ipc'), (e: SkeinError) => e.code === ErrorCode.URI_INVALID);
    await assert.rejects(mds.addDestination(`aeron:udp?endpoint=127.0.0.1:${port}`), (e: SkeinError) => e.code === ErrorCode.TRANSPORT_BIND_FAILED && /EADDRINUSE/.test(e.message));
    await assert.rejects(skein.addSubscription(`aeron:udp?endpoint=127.0.0.1:${await freeUdpPort()}|control-mode=manual`, 6), (e: SkeinError) => e.code === ErrorCode.URI_PARAM_INVALID);
    mds.close();
    await assert.rejects(mds.addDestination(destination), (e: SkeinError) => e.code === ErrorCode.CLOSED);
  } finally {
    await skein.close();
  }
});

test('channel tags: a control-mode=manual subscription naming another one\'s channel tag shares its destinations and images, and keeps them when the other closes', { timeout: 20_000 }, async () => {
  const [a, b] = [launch(711), launch(712)];
  try {
    const e1 = `aeron:udp?endpoint=127.0.0.1:${await freeUdpPort()}`;
    // The follower subscribes first (as before a tagged replication); the owner adds the destination.
    const follower = await b.addSubscription('aeron:udp?control-mode=manual|rejoin=false|tags=1001,1002', 6);
    const owner = await b.addSubscription('aeron:udp?control-mode=manual|tags=1001,1002', 6);
    const untagged = await b.addSubscription('aeron:udp?control-mode=manual|tags=2001,2002', 6);
    await owner.addDestination(e1);
    const publication = await a.addPublication(e1, 6);
    await Promise.all([publication.connected({ timeoutMs: 5000 }), owner.connected({ timeoutMs: 5000 }), follower.connected({ timeoutMs: 5000 })]);
    const [seenOwner, seenFollower, seenOther] = [sequence(owner), sequence(follower), sequence(untagged)];
    await offerNumbered(publication, 0, 500);
    await waitFor(() => seenOwner.length >= 500 && seenFollower.length >= 500, 5000, '500 messages on both');
    assert.ok(seenFollower.every((v, i) => v === i), 'the follower gets the stream in order');
    assert.equal(seenOther.length, 0, 'another channel tag shares nothing');
    // The owner goes: the destination stays for the follower.
    owner.close();
    await offerNumbered(publication, 500, 1000);
    await waitFor(() => seenFollower.length >= 1000, 5000, '1000 messages on the follower');
    assert.ok(seenFollower.every((v, i) => v === i), 'in order, nothing lost when the owner closed');
    // The follower goes too: the destination's socket closes, so its port binds again.
    follower.close();
    const again = await b.addSubscription(e1, 7);
    assert.ok(again.registrationId > 0, 'the port was released');
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
});
