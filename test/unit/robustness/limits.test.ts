/**
 * Every per-peer and per-endpoint collection of the driver has a bound (an option of
 * DRIVER_OPTIONS) and a rule for what happens at it. Each test drives a real driver on the
 * simulated network with a raw socket playing a hostile peer, pushes far past one bound and checks
 * that the collection stays at the bound, that the refusals are counted, and that the bound frees
 * up again by its eviction rule. docs/robustness.md lists these limits.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SimWorld } from '../../../src/sim/sim-world.js';
import { FrameFlags, FrameType } from '../../../src/protocol/frame-constants.js';
import { SkeinClient } from '../../../src/client/skein-client.js';
import type { NetworkPublication } from '../../../src/driver/network-publication.js';
import type { PublicationImage } from '../../../src/driver/publication-image.js';
import type { MediaDriver } from '../../../src/driver/media-driver.js';
import type { ReceiveChannelEndpoint } from '../../../src/driver/receive-channel-endpoint.js';
import { RawPeer, counterValue, runFor, settle, simNode } from '../../support/sim-node.js';

const MS = 1_000_000;
const STREAM = 1001;
const SUBSCRIBER = { host: '127.0.0.1', port: 20121 };
const SUB_CHANNEL = `aeron:udp?endpoint=${SUBSCRIBER.host}:${SUBSCRIBER.port}`;
const RAW_RECEIVER = { host: '127.0.0.9', port: 20121 };
const PUB_CHANNEL = `aeron:udp?endpoint=${RAW_RECEIVER.host}:${RAW_RECEIVER.port}`;

function images(driver: MediaDriver): PublicationImage[] {
  return (driver.conductor as unknown as { images: PublicationImage[] }).images;
}

function networkPublications(driver: MediaDriver): NetworkPublication[] {
  return (driver.conductor as unknown as { networkPublications: NetworkPublication[] }).networkPublications;
}

function pendingImages(driver: MediaDriver): number {
  let count = 0;
  for (const endpoint of (driver.conductor as unknown as { receiveEndpoints: Map<string, ReceiveChannelEndpoint> }).receiveEndpoints.values()) count += endpoint.pendingImageCount;
  return count;
}

function imageLogsLength(driver: MediaDriver): number {
  let bytes = 0;
  for (const endpoint of (driver.conductor as unknown as { receiveEndpoints: Map<string, { imageLogsLength: number }> }).receiveEndpoints.values()) bytes += endpoint.imageLogsLength;
  return bytes;
}

test('a flood of SETUPs fills the unestablished-image table, not the image table; only an answering sender gets an image', async () => {
  const world = new SimWorld({ seed: 101 });
  const { driver, client } = simNode(world, { pendingImagesMax: 8, maxImagesPerEndpoint: 8 });
  const subscription = await settle(world, client.addSubscription(SUB_CHANNEL, STREAM));
  const attacker = new RawPeer(world, '127.0.0.66', 6000);
  for (let i = 0; i < 200; i++) attacker.sendSetup(SUBSCRIBER, { sessionId: 1000 + i, streamId: STREAM });
  runFor(world, 5 * MS);
  assert.equal(driver.conductor.resourceCounts().images, 0, 'a SETUP alone creates no image');
  assert.equal(imageLogsLength(driver), 0, 'and allocates no log');
  assert.equal(pendingImages(driver), 8);
  assert.equal(counterValue(driver, 'Unestablished images evicted at the pending-image limit'), 192);
  assert.equal(counterValue(driver, 'Images refused at the per-endpoint limit'), 0);
  assert.equal(attacker.count(FrameType.SM), 200, 'every SETUP is answered with one status message');
  assert.equal(attacker.count(FrameType.SM, FrameFlags.SM_SEND_SETUP), 0);

  // The newest eight survived; a heartbeat from another port does not establish one of them.
  const other = new RawPeer(world, '127.0.0.66', 6001);
  other.sendData(SUBSCRIBER, { sessionId: 1199, streamId: STREAM, termId: 0, termOffset: 0 });
  runFor(world, 5 * MS);
  assert.equal(driver.conductor.resourceCounts().images, 0, 'only the SETUP\'s source establishes its session');
  // A DATA frame from the SETUP's source does, and the frame is the image's first.
  attacker.sendData(SUBSCRIBER, { sessionId: 1199, streamId: STREAM, termId: 0, termOffset: 0 });
  runFor(world, 5 * MS);
  assert.equal(driver.conductor.resourceCounts().images, 1);
  assert.equal(subscription.imageCount, 1);
  assert.equal(pendingImages(driver), 7);
  assert.equal(images(driver)[0]!.hwmPosition.get(), 32, 'the establishing frame was written to the image');
  // An evicted session is unknown: its heartbeat asks for a SETUP instead.
  attacker.sendData(SUBSCRIBER, { sessionId: 1000, streamId: STREAM, termId: 0, termOffset: 0 });
  runFor(world, 5 * MS);
  assert.equal(attacker.count(FrameType.SM, FrameFlags.SM_SEND_SETUP), 1);
  assert.equal(driver.conductor.resourceCounts().images, 1);

  // Expiry: unanswered entries go after pendingImageTimeoutNs (500 ms) and are counted.
  runFor(world, 600 * MS);
  assert.equal(pendingImages(driver), 0);
  assert.equal(counterValue(driver, 'Unestablished images expired without DATA or heartbeat'), 7);
  world.close();
});

test('a source holding many unestablished images has a new session answered only when its SETUP repeats or was asked for', async () => {
  const world = new SimWorld({ seed: 110 });
  const { driver, client } = simNode(world, { pendingImagesMax: 64 });
  await settle(world, client.addSubscription(SUB_CHANNEL, STREAM));
  const flood = new RawPeer(world, '127.0.0.66', 6000);
  for (let i = 0; i < 40; i++) flood.sendSetup(SUBSCRIBER, { sessionId: 2000 + i, streamId: STREAM });
  runFor(world, 5 * MS);
  assert.equal(pendingImages(driver), 40);
  assert.equal(flood.count(FrameType.SM), 16, 'the first 16 sessions of the source are answered at once, the rest are not');
  // A repeated SETUP (what a sender does every 100 ms while unanswered) is answered.
  flood.sendSetup(SUBSCRIBER, { sessionId: 2039, streamId: STREAM });
  runFor(world, 5 * MS);
  assert.equal(flood.count(FrameType.SM), 17);
  // So is a SETUP the endpoint asked for (DATA of an unknown session drew SM/SEND_SETUP).
  flood.sendData(SUBSCRIBER, { sessionId: 3001, streamId: STREAM, termId: 0, termOffset: 0 });
  runFor(world, 5 * MS);
  assert.equal(flood.count(FrameType.SM, FrameFlags.SM_SEND_SETUP), 1);
  flood.sendSetup(SUBSCRIBER, { sessionId: 3001, streamId: STREAM });
  runFor(world, 5 * MS);
  assert.equal(flood.count(FrameType.SM) - flood.count(FrameType.SM, FrameFlags.SM_SEND_SETUP), 18);
  // Another source is answered at once.
  const other = new RawPeer(world, '127.0.0.66', 6001);
  other.sendSetup(SUBSCRIBER, { sessionId: 4000, streamId: STREAM });
  runFor(world, 5 * MS);
  assert.equal(other.count(FrameType.SM), 1);
  world.close();
});

test('a flood of answering senders creates at most maxImagesPerEndpoint images and counts the rest', async () => {
  const world = new SimWorld({ seed: 102 });
  const { driver, client } = simNode(world, { maxImagesPerEndpoint: 8 });
  const subscription = await settle(world, client.addSubscription(SUB_CHANNEL, STREAM));
  const attacker = new RawPeer(world, '127.0.0.66', 6000);
  for (let i = 0; i < 200; i++) {
    attacker.sendSetup(SUBSCRIBER, { sessionId: 1000 + i, streamId: STREAM });
    attacker.sendData(SUBSCRIBER, { sessionId: 1000 + i, streamId: STREAM, termId: 0, termOffset: 0 });
  }
  runFor(world, 5 * MS);
  assert.equal(driver.conductor.resourceCounts().images, 8);
  assert.equal(subscription.imageCount, 8);
  assert.equal(counterValue(driver, 'Images refused at the per-endpoint limit'), 192, 'SETUPs refused at the image limit get no status message');
  assert.equal(attacker.count(FrameType.SM, FrameFlags.SM_SEND_SETUP), 192, 'their heartbeats are of unknown sessions');
  const limitErrors = driver.errorLog.entries().filter((e) => e.code === 'ERR_SKEIN_LIMIT_REACHED');
  assert.equal(limitErrors.length, 1, 'the limit is reported once, not once per SETUP');
  assert.equal(limitErrors[0]!.observationCount, 1);
  assert.match(limitErrors[0]!.message, /maxImagesPerEndpoint/);

  // Eviction: the images get nothing more, so the liveness timeout (2 s in the test profile) frees them.
  runFor(world, 2500 * MS);
  assert.equal(driver.conductor.resourceCounts().images, 0);
  assert.equal(counterValue(driver, 'Images unavailable after liveness timeout'), 8);
  attacker.sendSetup(SUBSCRIBER, { sessionId: 5000, streamId: STREAM });
  attacker.sendData(SUBSCRIBER, { sessionId: 5000, streamId: STREAM, termId: 0, termOffset: 0 });
  runFor(world, 5 * MS);
  assert.equal(driver.conductor.resourceCounts().images, 1, 'an image is made again once images have gone');
  world.close();
});

test('imageLogsLengthMax bounds the term memory SETUPs can ask for', async () => {
  const world = new SimWorld({ seed: 102 });
  const { driver, client } = simNode(world, { imageLogsLengthMax: 4 * 3 * 65536, maxImagesPerEndpoint: 100 });
  await settle(world, client.addSubscription(SUB_CHANNEL, STREAM));
  const attacker = new RawPeer(world, '127.0.0.66', 6000);
  const answered = (sessionId: number, termLength: number): void => {
    attacker.sendSetup(SUBSCRIBER, { sessionId, streamId: STREAM, termLength });
    attacker.sendData(SUBSCRIBER, { sessionId, streamId: STREAM, termId: 0, termOffset: 0 });
  };
  answered(1, 1 << 30);
  for (let i = 0; i < 5; i++) answered(10 + i, 65536);
  runFor(world, 5 * MS);
  assert.equal(driver.conductor.resourceCounts().images, 4, 'four 64 KiB images fit the budget, a 1 GiB one does not');
  assert.equal(counterValue(driver, 'Images refused at the per-endpoint limit'), 2);
  assert.ok(images(driver).every((image) => image.termLength === 65536));
  assert.equal(imageLogsLength(driver), 4 * 3 * 65536);
  world.close();
});

test('data from a flood of unknown sessions elicits at most pendingSetupsMax SETUPs per timeout; a real publisher still joins', async () => {
  const world = new SimWorld({ seed: 103 });
  const { driver, client } = simNode(world, { pendingSetupsMax: 32 });
  const subscription = await settle(world, client.addSubscription(SUB_CHANNEL, STREAM));
  const attacker = new RawPeer(world, '127.0.0.66', 6000);
  for (let i = 0; i < 1000; i++) attacker.sendData(SUBSCRIBER, { sessionId: 7000 + i, streamId: STREAM, termId: 0, termOffset: 0 });
  runFor(world, 5 * MS);
  assert.equal(attacker.count(FrameType.SM, FrameFlags.SM_SEND_SETUP), 32, 'one SETUP request per tracked session, no more');
  assert.equal(counterValue(driver, 'Unknown sessions ignored at the pending-setup limit'), 968);
  // Repeats of the tracked sessions are not asked again within the pending-setup timeout.
  for (let i = 0; i < 32; i++) attacker.sendData(SUBSCRIBER, { sessionId: 7000 + i, streamId: STREAM, termId: 0, termOffset: 0 });
  runFor(world, 5 * MS);
  assert.equal(attacker.count(FrameType.SM, FrameFlags.SM_SEND_SETUP), 32);

  // A publisher that sends SETUP is not subject to the pending-setup bound.
  const publisher = simNode(world);
  const publication = await settle(world, publisher.client.addPublication(SUB_CHANNEL, STREAM));
  assert.ok(world.runUntil(() => publication.isConnected && subscription.imageCount === 1, 20_000), 'the real publisher connects during the flood');

  // Eviction: after the pending-setup timeout (1 s) the marks expire and new sessions are asked again.
  runFor(world, 1100 * MS);
  for (let i = 0; i < 10; i++) attacker.sendData(SUBSCRIBER, { sessionId: 9000 + i, streamId: STREAM, termId: 0, termOffset: 0 });
  runFor(world, 5 * MS);
  assert.equal(attacker.count(FrameType.SM, FrameFlags.SM_SEND_SETUP), 42);
  assert.equal(driver.conductor.resourceCounts().images, 1, 'no image was created for data alone');
  world.close();
});

/** A publication whose only receiver is the raw peer, connected by one status message. */
async function publicationToRawReceiver(seed: number, options: Parameters<typeof simNode>[1]) {
  const world = new SimWorld({ seed });
  const node = simNode(world, options);
  const receiver = new RawPeer(world, RAW_RECEIVER.host, RAW_RECEIVER.port);
  const publication = await settle(world, node.client.addPublication(PUB_CHANNEL, STREAM));
  assert.ok(world.runUntil(() => receiver.count(FrameType.SETUP) > 0, 10_000), 'the publication sends SETUP');
  const setup = receiver.received.find((r) => r.type === FrameType.SETUP)!;
  const view = new DataView(setup.bytes.buffer, setup.bytes.byteOffset);
  const sender = { host: setup.srcAddress, port: setup.srcPort };
  const activeTermId = view.getInt32(24, true);
  const termOffset = view.getInt32(8, true);
  const sm = (receiverId: bigint): void =>
    receiver.sendStatusMessage(sender, { sessionId: publication.sessionId, streamId: STREAM, termId: activeTermId, termOffset, window: 32768, receiverId });
  sm(1n);
  assert.ok(world.runUntil(() => publication.isConnected, 10_000), 'one status message connects the publication');
  return { world, ...node, receiver, publication, sender, activeTermId, termOffset, sm };
}

test('an SM flood with distinct receiver ids tracks at most receiversPerPublicationMax receivers and grows nothing', async () => {
  const { world, driver, publication, sm } = await publicationToRawReceiver(104, { receiversPerPublicationMax: 4 });
  const counted = driver.counters.allocatedCount;
  const resources = driver.conductor.resourceCounts();
  for (let i = 0; i < 1000; i++) sm(BigInt(1000 + i));
  runFor(world, 5 * MS);
  const networkPublication = networkPublications(driver)[0]!;
  const receivers = (networkPublication as unknown as { receivers: Map<bigint, number> }).receivers;
  assert.equal(receivers.size, 4);
  assert.equal(counterValue(driver, 'Receivers not tracked at the per-publication limit'), 997);
  for (let i = 0; i < 10_000; i++) sm(1n);
  runFor(world, 5 * MS);
  assert.equal(receivers.size, 4, 'repeated status messages of a known receiver add nothing');
  assert.equal(driver.counters.allocatedCount, counted, 'no counter was allocated for the flood');
  assert.deepEqual(driver.conductor.resourceCounts(), resources);
  assert.equal(publication.isConnected, true);

  // Eviction: receivers silent for the connection timeout (1 s in the test profile) are dropped.
  runFor(world, 1200 * MS);
  assert.equal(receivers.size, 0);
  sm(99n);
  runFor(world, 5 * MS);
  assert.equal(receivers.size, 1, 'a receiver is tracked again once the others timed out');
  world.close();
});

test('a NAK storm has at most retransmitSlotsMax retransmissions in flight; the rest are dropped and counted', async () => {
  const { world, driver, publication, receiver, sender, activeTermId } = await publicationToRawReceiver(105, { retransmitSlotsMax: 4 });
  const payload = new Uint8Array(200);
  for (let i = 0; i < 50; i++) assert.ok(publication.offer(payload) > 0, `offer ${i}`);
  const dataBytes = (): number => receiver.received.filter((r) => r.type === FrameType.DATA && r.bytes.length > 32).reduce((sum, r) => sum + r.bytes.length, 0);
  assert.ok(world.runUntil(() => dataBytes() >= 50 * 256, 10_000), `the 50 messages are sent (${dataBytes()} bytes)`);
  const retransmitsBefore = counterValue(driver, 'Retransmits sent');
  assert.equal(retransmitsBefore, 0);
  // Each message takes 256 bytes of the term: 32 header + 200 payload, aligned to 32.
  const FRAME = 256;
  const storm = 1000;
  for (let i = 0; i < storm; i++) {
    receiver.sendNak(sender, { sessionId: publication.sessionId, streamId: STREAM, termId: activeTermId, termOffset: (i % 50) * FRAME, length: FRAME });
  }
  world.step();
  world.step();
  const served = counterValue(driver, 'Retransmits sent');
  assert.equal(served, 4, 'four slots: four retransmissions');
  assert.equal(counterValue(driver, 'Retransmitted bytes'), 4 * FRAME);
  // NAKs for the four ranges being served are absorbed by their slots; every other NAK overflows.
  const absorbed = (storm / 50) * 4;
  assert.equal(counterValue(driver, 'Retransmit pool overflows'), storm - absorbed);

  // Eviction: a slot frees when its linger (10 ms) ends; then the next NAK is served.
  runFor(world, 20 * MS);
  receiver.sendNak(sender, { sessionId: publication.sessionId, streamId: STREAM, termId: activeTermId, termOffset: 10 * FRAME, length: FRAME });
  runFor(world, 1 * MS);
  assert.equal(counterValue(driver, 'Retransmits sent'), 5);
  world.close();
});

test('an image keeps NAK timers for at most nakGapsMax gaps however its gaps move', async () => {
  const world = new SimWorld({ seed: 106 });
  const { driver, client } = simNode(world, { nakGapsMax: 16 });
  await settle(world, client.addSubscription(SUB_CHANNEL, STREAM));
  const publisher = new RawPeer(world, '127.0.0.66', 6000);
  const frame = (termOffset: number): void => publisher.sendData(SUBSCRIBER, { sessionId: 77, streamId: STREAM, termId: 5, termOffset });
  publisher.sendSetup(SUBSCRIBER, { sessionId: 77, streamId: STREAM, initialTermId: 5, termLength: 65536 });
  // A heartbeat at the join position establishes the image without filling the gap at 0.
  publisher.sendData(SUBSCRIBER, { sessionId: 77, streamId: STREAM, termId: 5, termOffset: 0 });
  runFor(world, 2 * MS);
  assert.equal(images(driver).length, 1);
  const image = images(driver)[0]!;
  const nakDeadlines = (image as unknown as { nakDeadlines: Map<number, number> }).nakDeadlines;
  // Frames in every other 32-byte slot from 64 on, nothing at 0: gaps at 0, 96, 160, 224, ...
  for (let k = 1; k <= 200; k++) frame(64 * k);
  runFor(world, 2 * MS);
  assert.ok(publisher.count(FrameType.NAK) > 0, 'the gaps are NAKed');
  let largest = nakDeadlines.size;
  // Filling the second gap each time moves the scanned window one gap further: a new key each time.
  for (let k = 1; k <= 60; k++) {
    frame(64 * k + 32);
    world.step();
    world.step();
    largest = Math.max(largest, nakDeadlines.size);
  }
  assert.ok(largest <= 16, `at most 16 gap timers, saw ${largest}`);
  assert.ok(counterValue(driver, 'NAK gap timers evicted at the per-image limit') > 0);
  // The gap at 0 is still NAKed after the evictions.
  const naksBefore = publisher.count(FrameType.NAK);
  runFor(world, 2 * MS);
  assert.ok(publisher.count(FrameType.NAK) > naksBefore, 'the remaining gap is still NAKed');
  world.close();
});

test('counters: allocation past countersCapacity fails with ERR_SKEIN_COUNTERS_FULL and nothing leaks', async () => {
  const world = new SimWorld({ seed: 107 });
  const { driver, client } = simNode(world, { countersCapacity: 256 });
  assert.equal(driver.counters.capacity, 256);
  const baseline = driver.counters.allocatedCount;
  const publications = [];
  let failure: (Error & { code?: string }) | undefined;
  for (let i = 0; i < 200 && failure === undefined; i++) {
    try {
      publications.push(await settle(world, client.addExclusivePublication('aeron:ipc', 5)));
    } catch (error) {
      failure = error as Error & { code?: string };
    }
  }
  assert.ok(failure !== undefined, 'the capacity is reached');
  assert.equal(failure.code, 'ERR_SKEIN_COUNTERS_FULL');
  assert.match(failure.message, /capacity=256/);
  assert.ok(publications.length >= 80, `${publications.length} publications fit`);
  for (const publication of publications) publication.close();
  assert.ok(world.runUntil(() => driver.conductor.resourceCounts().ipcPublications === 0, 20_000), 'publications are freed');
  assert.equal(driver.counters.allocatedCount, baseline, 'every counter of the freed publications is free again');
  await settle(world, client.addExclusivePublication('aeron:ipc', 5));
  world.close();
});

test('clients: a connect beyond clientsMax fails with ERR_SKEIN_LIMIT_REACHED until a client closes', () => {
  const world = new SimWorld({ seed: 108 });
  const { driver } = simNode(world, { clientsMax: 2 });
  const second = new SkeinClient({ connection: driver.connect(), clock: world.clock });
  world.addAgent(second);
  assert.throws(
    () => driver.connect(),
    (error: Error & { code?: string }) => error.code === 'ERR_SKEIN_LIMIT_REACHED' && /clientsMax/.test(error.message) && /2 clients/.test(error.message),
  );
  second.close();
  world.step();
  assert.doesNotThrow(() => driver.connect(), 'a closed client frees its place');
  world.close();
});

test('the error log keeps at most errorLogCapacity distinct errors and counts the rest', () => {
  const world = new SimWorld({ seed: 109 });
  const { driver } = simNode(world, { errorLogCapacity: 2 });
  for (let i = 0; i < 5; i++) driver.recordError(new Error(`distinct error ${i}`));
  assert.equal(driver.errorLog.distinctCount, 2);
  assert.equal(driver.errorLog.overflowCount, 3);
  assert.equal(counterValue(driver, 'Errors'), 5);
  world.close();
});
