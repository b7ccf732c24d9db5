/**
 * Idle streams send little: a publication whose one receiver acknowledged everything it sent
 * heartbeats every publicationHeartbeatMaxIntervalNs instead of every
 * publicationHeartbeatTimeoutNs (with several receivers it keeps the base interval: a status
 * message speaks for one of them), and an image with nothing new to say repeats its status message
 * every statusMessageMaxIntervalNs instead of every statusMessageTimeoutNs. Set to the base
 * intervals, both are fixed, as in Aeron. Data still flows as before, and a message sent after a
 * long quiet arrives.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Skein } from '../../../src/skein.js';
import { CounterTypeId, SystemCounterId } from '../../../src/agent/counter-types.js';
import type { DriverOptions } from '../../../src/driver/driver-context.js';
import { waitFor, freeUdpPort } from '../../support/wait.js';

const MS = 1_000_000;

function systemCounter(skein: Skein, id: number): number {
  const counterId = skein.driver.counters.find(CounterTypeId.SYSTEM, id);
  assert.ok(counterId >= 0, `system counter ${id} exists`);
  return skein.driver.counters.get(counterId);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Heartbeats and status messages sent during `windowMs` of quiet after a few messages went through. */
async function idleTraffic(driver: DriverOptions, seed: number): Promise<{ heartbeats: number; statusMessages: number }> {
  const channel = `aeron:udp?endpoint=127.0.0.1:${await freeUdpPort()}`;
  const base: DriverOptions = { publicationHeartbeatTimeoutNs: 20 * MS, statusMessageTimeoutNs: 20 * MS, rttMeasurementIntervalNs: 0, imageLivenessTimeoutNs: 10_000 * MS, publicationConnectionTimeoutNs: 5000 * MS, imageReplaceSilenceNs: 10_000 * MS };
  const publisherSide = Skein.launch({ testProfile: true, seed, driver: { ...base, ...driver } });
  const subscriberSide = Skein.launch({ testProfile: true, seed: seed + 1, driver: { ...base, ...driver } });
  try {
    const subscription = await subscriberSide.addSubscription(channel, 1001);
    const publication = await publisherSide.addPublication(channel, 1001);
    await waitFor(() => publication.isConnected && subscription.isConnected, 5000, 'connection');
    let received = 0;
    const payload = new Uint8Array(100);
    for (let i = 0; i < 5; i++) {
      while (publication.offer(payload) < 0) await sleep(1);
      await waitFor(() => (received += subscription.poll(() => {}, 10)) > i, 5000, `message ${i}`);
    }
    // Let the last status message acknowledge everything, then count a second of quiet.
    await sleep(300);
    const heartbeats0 = systemCounter(publisherSide, SystemCounterId.HEARTBEATS_SENT);
    const sms0 = systemCounter(subscriberSide, SystemCounterId.STATUS_MESSAGES_SENT);
    await sleep(1000);
    const heartbeats = systemCounter(publisherSide, SystemCounterId.HEARTBEATS_SENT) - heartbeats0;
    const statusMessages = systemCounter(subscriberSide, SystemCounterId.STATUS_MESSAGES_SENT) - sms0;
    // A message after the quiet still arrives at once, and the stream is still connected.
    while (publication.offer(payload) < 0) await sleep(1);
    await waitFor(() => (received += subscription.poll(() => {}, 10)) >= 6, 2000, 'a message after the quiet');
    assert.ok(publication.isConnected && subscription.isConnected);
    return { heartbeats, statusMessages };
  } finally {
    publisherSide.destroy();
    subscriberSide.destroy();
  }
}

test('an idle, acknowledged stream heartbeats and repeats its status message at the max intervals, not the base ones', { timeout: 30_000 }, async () => {
  const sparse = await idleTraffic({ publicationHeartbeatMaxIntervalNs: 250 * MS, statusMessageMaxIntervalNs: 250 * MS }, 11);
  // About 4 each in a second at 250 ms (a few more when the event loop is slow to turn, never ~50).
  assert.ok(sparse.heartbeats >= 2 && sparse.heartbeats <= 8, `heartbeats in 1 s of quiet: ${sparse.heartbeats}`);
  assert.ok(sparse.statusMessages >= 2 && sparse.statusMessages <= 8, `status messages in 1 s of quiet: ${sparse.statusMessages}`);
});

test('max intervals at the base ones keep Aeron\'s fixed intervals', { timeout: 30_000 }, async () => {
  const fixed = await idleTraffic({ publicationHeartbeatMaxIntervalNs: 20 * MS, statusMessageMaxIntervalNs: 20 * MS }, 21);
  // About 50 each in a second at 20 ms; a slow event loop sends fewer.
  assert.ok(fixed.heartbeats >= 15, `heartbeats in 1 s of quiet: ${fixed.heartbeats}`);
  assert.ok(fixed.statusMessages >= 15, `status messages in 1 s of quiet: ${fixed.statusMessages}`);
});

test('the caps stay well inside the timeouts: an eighth of imageLivenessTimeout and of publicationConnectionTimeout, half of imageReplaceSilenceNs', { timeout: 30_000 }, async () => {
  // Caps of 60 s asked for, but liveness 2 s and connection timeout 1.6 s: heartbeats every 250 ms, status messages every 200 ms.
  const capped = await idleTraffic({ publicationHeartbeatMaxIntervalNs: 60_000 * MS, statusMessageMaxIntervalNs: 60_000 * MS, imageLivenessTimeoutNs: 2000 * MS, publicationConnectionTimeoutNs: 1600 * MS }, 31);
  assert.ok(capped.heartbeats >= 2 && capped.heartbeats <= 8, `heartbeats in 1 s of quiet: ${capped.heartbeats}`);
  assert.ok(capped.statusMessages >= 2 && capped.statusMessages <= 10, `status messages in 1 s of quiet: ${capped.statusMessages}`);
  // A receiver replaces an image silent for imageReplaceSilenceNs (here 100 ms): heartbeats every 50 ms, whatever the max.
  const guarded = await idleTraffic({ publicationHeartbeatMaxIntervalNs: 60_000 * MS, imageReplaceSilenceNs: 100 * MS }, 41);
  assert.ok(guarded.heartbeats >= 10, `heartbeats in 1 s of quiet with imageReplaceSilenceNs=100 ms: ${guarded.heartbeats}`);
});

test('by default the heartbeat interval stays Aeron\'s 100 ms; the status message repeats every 625 ms when idle', { timeout: 30_000 }, async () => {
  const defaults = await idleTraffic({ publicationHeartbeatTimeoutNs: 100 * MS, statusMessageTimeoutNs: 200 * MS, publicationConnectionTimeoutNs: 5000 * MS, imageReplaceSilenceNs: 300 * MS }, 51);
  assert.ok(defaults.heartbeats >= 6, `heartbeats in 1 s of quiet: ${defaults.heartbeats}`);
  assert.ok(defaults.statusMessages >= 1 && defaults.statusMessages <= 3, `status messages in 1 s of quiet: ${defaults.statusMessages}`);
});

test('a publication with several receivers keeps the base heartbeat interval: one receiver\'s status message does not speak for the others', { timeout: 30_000 }, async () => {
  const driver: DriverOptions = {
    publicationHeartbeatTimeoutNs: 20 * MS, statusMessageTimeoutNs: 20 * MS, rttMeasurementIntervalNs: 0, imageLivenessTimeoutNs: 10_000 * MS,
    publicationConnectionTimeoutNs: 5000 * MS, imageReplaceSilenceNs: 10_000 * MS, publicationHeartbeatMaxIntervalNs: 250 * MS, statusMessageMaxIntervalNs: 250 * MS,
  };
  const [a, b, c] = [Skein.launch({ testProfile: true, seed: 61, driver }), Skein.launch({ testProfile: true, seed: 62, driver }), Skein.launch({ testProfile: true, seed: 63, driver })];
  try {
    const [e1, e2] = [`127.0.0.1:${await freeUdpPort()}`, `127.0.0.1:${await freeUdpPort()}`];
    const subB = await b.addSubscription(`aeron:udp?endpoint=${e1}`, 1002);
    const subC = await c.addSubscription(`aeron:udp?endpoint=${e2}`, 1002);
    const publication = await a.addPublication('aeron:udp?control-mode=manual', 1002);
    await publication.addDestination(`aeron:udp?endpoint=${e1}`);
    await publication.addDestination(`aeron:udp?endpoint=${e2}`);
    await waitFor(() => publication.isConnected && subB.isConnected && subC.isConnected, 5000, 'both receivers');
    let [gotB, gotC] = [0, 0];
    const payload = new Uint8Array(100);
    for (let i = 0; i < 5; i++) {
      while (publication.offer(payload) < 0) await sleep(1);
      await waitFor(() => (gotB += subB.poll(() => {}, 10)) > i && (gotC += subC.poll(() => {}, 10)) > i, 5000, `message ${i} at both`);
    }
    await sleep(300);
    const heartbeats0 = systemCounter(a, SystemCounterId.HEARTBEATS_SENT);
    await sleep(1000);
    const heartbeats = systemCounter(a, SystemCounterId.HEARTBEATS_SENT) - heartbeats0;
    // About 50 in a second at 20 ms (each to both destinations counts once); one receiver alone gets about 4 (the first test).
    assert.ok(heartbeats >= 15, `heartbeats in 1 s of quiet with two receivers: ${heartbeats}`);
  } finally {
    a.destroy();
    b.destroy();
    c.destroy();
  }
});
