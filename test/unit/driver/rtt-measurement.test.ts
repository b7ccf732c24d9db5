import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Skein } from '../../../src/skein.js';
import { CounterTypeId, SystemCounterId } from '../../../src/agent/counter-types.js';
import { waitFor, freeUdpPort } from '../../support/wait.js';

function rttCounters(skein: Skein): { label: string; value: number }[] {
  const found: { label: string; value: number }[] = [];
  skein.driver.counters.forEach((_id, typeId, value, label) => {
    if (typeId === CounterTypeId.RECEIVER_RTT) found.push({ label, value });
  });
  return found;
}

function systemCounter(skein: Skein, id: number): number {
  const counterId = skein.driver.counters.find(CounterTypeId.SYSTEM, id);
  assert.ok(counterId >= 0, `system counter ${id} exists`);
  return skein.driver.counters.get(counterId);
}

test('an image measures the round trip to its sender with RTTM frames, into its rcv-rtt-ns counter', { timeout: 20_000 }, async () => {
  const channel = `aeron:udp?endpoint=127.0.0.1:${await freeUdpPort()}`;
  const publisherSide = Skein.launch({ testProfile: true, seed: 1 });
  const subscriberSide = Skein.launch({ testProfile: true, seed: 2, driver: { rttMeasurementIntervalNs: 20_000_000 } });
  try {
    const subscription = await subscriberSide.addSubscription(channel, 1001);
    const publication = await publisherSide.addPublication(channel, 1001);
    await waitFor(() => publication.isConnected && subscription.isConnected, 5000, 'connection');
    await waitFor(() => rttCounters(subscriberSide).some((c) => c.value > 0), 5000, 'a measured round trip');
    const [counter] = rttCounters(subscriberSide);
    assert.match(counter!.label, new RegExp(`^rcv-rtt-ns: \\d+ ${publication.sessionId} 1001 `));
    // Loopback round trips take microseconds to milliseconds.
    assert.ok(counter!.value > 0 && counter!.value < 1e9, `rtt ${counter!.value} ns`);
    const sent = systemCounter(subscriberSide, SystemCounterId.RTTM_SENT);
    const answered = systemCounter(publisherSide, SystemCounterId.RTTM_SENT);
    assert.ok(sent >= 1 && answered >= 1, `RTTM sent ${sent}, answered ${answered}`);
    subscription.close();
    await waitFor(() => rttCounters(subscriberSide).length === 0, 10_000, 'the counter to be freed with the image');
  } finally {
    publisherSide.destroy();
    subscriberSide.destroy();
  }
});

test('rttMeasurementIntervalNs=0 turns measurement off', { timeout: 20_000 }, async () => {
  const channel = `aeron:udp?endpoint=127.0.0.1:${await freeUdpPort()}`;
  const skein = Skein.launch({ testProfile: true, seed: 3, driver: { rttMeasurementIntervalNs: 0 } });
  try {
    const subscription = await skein.addSubscription(channel, 1001);
    const publication = await skein.addPublication(channel, 1001);
    await waitFor(() => publication.isConnected && subscription.isConnected, 5000, 'connection');
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(systemCounter(skein, SystemCounterId.RTTM_SENT), 0);
    assert.deepEqual(rttCounters(skein).map((c) => c.value), [0]);
  } finally {
    skein.destroy();
  }
});
