/**
 * How a receive endpoint establishes an image (docs/robustness.md, "How an image is established"),
 * against a raw socket that behaves as PROTOCOL.md §7.1 says an Aeron sender does: SETUP every
 * 100 ms until a status message arrives, a heartbeat at once, then DATA within the window of the
 * status messages that follow.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SimWorld } from '../../../src/sim/sim-world.js';
import { FrameType } from '../../../src/protocol/frame-constants.js';
import { StatusMessageFlyweight } from '../../../src/protocol/status-message-flyweight.js';
import { RawPeer, counterValue, runFor, settle, simNode, type Received } from '../../support/sim-node.js';

const MS = 1_000_000;
const STREAM = 1001;
const SUBSCRIBER = { host: '127.0.0.1', port: 20121 };
const SESSION = 4242;
const INITIAL_TERM_ID = 7;

function statusMessages(peer: RawPeer): { termId: number; termOffset: number; window: number; receiverId: bigint }[] {
  const sm = new StatusMessageFlyweight();
  return peer.received
    .filter((r: Received) => r.type === FrameType.SM)
    .map((r) => {
      const f = sm.wrap(r.bytes, 0, r.bytes.length);
      return { termId: f.consumptionTermId, termOffset: f.consumptionTermOffset, window: f.receiverWindow, receiverId: f.receiverId };
    });
}

test('a sender as PROTOCOL.md §7.1 describes: zero-window answer to its SETUP, image on its heartbeat, window opened by the image', async () => {
  const world = new SimWorld({ seed: 31 });
  const { driver, client } = simNode(world);
  const subscription = await settle(world, client.addSubscription(`aeron:udp?endpoint=${SUBSCRIBER.host}:${SUBSCRIBER.port}`, STREAM));
  const sender = new RawPeer(world, '127.0.0.70', 5555);
  const setup = { sessionId: SESSION, streamId: STREAM, initialTermId: INITIAL_TERM_ID, activeTermId: INITIAL_TERM_ID, termOffset: 1024, termLength: 65536 };
  sender.sendSetup(SUBSCRIBER, setup);
  runFor(world, 1 * MS);
  const first = statusMessages(sender);
  assert.equal(first.length, 1, 'the SETUP is answered at once');
  assert.deepEqual({ termId: first[0]!.termId, termOffset: first[0]!.termOffset, window: first[0]!.window }, { termId: INITIAL_TERM_ID, termOffset: 1024, window: 0 });
  assert.equal(driver.conductor.resourceCounts().images, 0, 'no image before the sender answers');

  // Aeron's sender answers the first status message with a heartbeat at once.
  sender.sendData(SUBSCRIBER, { sessionId: SESSION, streamId: STREAM, termId: INITIAL_TERM_ID, termOffset: 1024, frameLength: 0 });
  runFor(world, 1 * MS);
  assert.equal(driver.conductor.resourceCounts().images, 1);
  assert.ok(world.runUntil(() => subscription.imageCount === 1, 1000), 'the subscription sees the image');
  assert.equal(subscription.images[0]!.position, 1024, 'the image starts at the SETUP\'s position');
  assert.equal(counterValue(driver, 'Heartbeats received'), 1, 'the establishing heartbeat was handed to the image');
  const opened = statusMessages(sender).slice(1);
  assert.ok(opened.length >= 1, 'the image sends its own status message');
  assert.deepEqual({ termOffset: opened[0]!.termOffset, window: opened[0]!.window }, { termOffset: 1024, window: 32768 }, 'the image opens the window (term length / 2)');
  assert.equal(opened[0]!.receiverId, first[0]!.receiverId, 'one receiver id for both');
  world.close();
});

test('a SETUP no subscription takes (a session-id subscription for another session) is not answered', async () => {
  const world = new SimWorld({ seed: 32 });
  const { driver, client } = simNode(world);
  await settle(world, client.addSubscription(`aeron:udp?endpoint=${SUBSCRIBER.host}:${SUBSCRIBER.port}|session-id=77`, STREAM));
  const sender = new RawPeer(world, '127.0.0.70', 5555);
  sender.sendSetup(SUBSCRIBER, { sessionId: SESSION, streamId: STREAM });
  runFor(world, 2 * MS);
  assert.equal(statusMessages(sender).length, 0);
  sender.sendSetup(SUBSCRIBER, { sessionId: 77, streamId: STREAM });
  runFor(world, 2 * MS);
  assert.equal(statusMessages(sender).length, 1, 'its own session is answered');
  assert.equal(driver.conductor.resourceCounts().images, 0);
  world.close();
});

test('an unanswered SETUP expires after pendingImageTimeoutNs; the sender\'s repeat makes it anew', async () => {
  const world = new SimWorld({ seed: 33 });
  const { driver, client } = simNode(world, { pendingImageTimeoutNs: 300 * MS });
  await settle(world, client.addSubscription(`aeron:udp?endpoint=${SUBSCRIBER.host}:${SUBSCRIBER.port}`, STREAM));
  const sender = new RawPeer(world, '127.0.0.70', 5555);
  sender.sendSetup(SUBSCRIBER, { sessionId: SESSION, streamId: STREAM });
  runFor(world, 400 * MS);
  // A heartbeat after the deadline finds no entry: the session is unknown and asked for its SETUP.
  sender.sendData(SUBSCRIBER, { sessionId: SESSION, streamId: STREAM, termId: 0, termOffset: 0 });
  runFor(world, 1 * MS);
  assert.equal(driver.conductor.resourceCounts().images, 0);
  assert.equal(sender.received.filter((r) => r.type === FrameType.SM).length, 2, 'the answer to the SETUP, then a SETUP request');
  sender.sendSetup(SUBSCRIBER, { sessionId: SESSION, streamId: STREAM });
  sender.sendData(SUBSCRIBER, { sessionId: SESSION, streamId: STREAM, termId: 0, termOffset: 0 });
  runFor(world, 1 * MS);
  assert.equal(driver.conductor.resourceCounts().images, 1);
  world.close();
});
