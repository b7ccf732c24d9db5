/**
 * Multicast between real processes on loopback (interface 127.0.0.1; Linux loops multicast back
 * to the host): one publication to four subscribers, every message in order to each; `fc=min`
 * paced by a slow subscriber; a subscriber killed outright is dropped after the flow-control
 * timeout and the others go on; `fc=tagged` paced by its group alone.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { freeUdpPort, startSkein, stopAll, type StartedProcess } from '../../support/processes.js';
import { killAllFixtures, startFixture, type FixtureProcess } from '../../support/system-processes.js';

after(async () => {
  await stopAll();
  await killAllFixtures();
});

/** A group address of its own per test (odd last octet) and a free port. */
async function groupChannel(params = ''): Promise<string> {
  const port = await freeUdpPort();
  const octet = 1 + 2 * (port % 100);
  return `aeron:udp?endpoint=224.0.7.${octet}:${port}|interface=127.0.0.1${params}`;
}

function subscriber(channel: string, streamId: number, count: number | null, extra: Record<string, unknown> = {}): FixtureProcess {
  return startFixture('subscriber', { channel, streamId, count, timeoutMs: 60_000, reportIntervalMs: 100, ...extra });
}

test('one publication to four subscribers over multicast: every message, in order, to each', { timeout: 90_000 }, async () => {
  const channel = await groupChannel('|fc=min,g:/4');
  const count = 20_000;
  const subs: StartedProcess[] = [];
  for (let i = 0; i < 4; i++) {
    const sub = startSkein(['sub', '--channel', channel, '--stream', '3001', '--verify', '--count', String(count), '--timeout-ms', '60000']);
    subs.push(sub);
  }
  for (const sub of subs) await sub.waitForLine(/subscribed to/, 10_000, 'stderr');
  // g:/4: the publication waits for all four receivers, so none joins late and misses the start.
  const pub = startSkein(['pub', '--channel', channel, '--stream', '3001', '--size', '100', '--count', String(count)]);
  assert.equal((await pub.waitForExit(60_000)).code, 0, pub.describe());
  for (const sub of subs) {
    const status = await sub.waitForExit(30_000);
    assert.equal(status.code, 0, sub.describe());
    const summary = sub.lastJson<{ received: number; gaps: number; duplicates: number; outOfOrder: number; verified: boolean }>();
    assert.deepEqual(
      { received: summary.received, gaps: summary.gaps, duplicates: summary.duplicates, outOfOrder: summary.outOfOrder, verified: summary.verified },
      { received: count, gaps: 0, duplicates: 0, outOfOrder: 0, verified: true },
      sub.describe(),
    );
  }
});

/** When each subscriber reported its last message, by pid. */
async function finishTimes(subs: FixtureProcess[], count: number): Promise<number[]> {
  const times: number[] = [];
  for (const sub of subs) {
    const event = await sub.waitForEvent('summary', 60_000, (e) => (e['received'] as number) >= count);
    times.push(event.atMs as number);
  }
  return times;
}

test('fc=min: a slow subscriber paces the publication; the fast ones cannot run ahead of it', { timeout: 90_000 }, async () => {
  const channel = await groupChannel('|fc=min,g:/3');
  const count = 3000;
  const fast = [subscriber(channel, 3002, count), subscriber(channel, 3002, count)];
  const slow = subscriber(channel, 3002, count, { slow: { fragmentLimit: 10, sleepMs: 5 } });
  for (const s of [...fast, slow]) await s.waitForEvent('subscribed', 10_000);
  const pub = startFixture('publisher', { channel, streamId: 3002, count, connectTimeoutMs: 20_000 });
  const [fastA, fastB, slowDone] = await finishTimes([...fast, slow], count);
  const startedAtMs = (await pub.waitForEvent('connected', 10_000)).atMs as number;
  const slowTookMs = slowDone! - startedAtMs;
  assert.ok(slowTookMs > 500, `the slow subscriber took a while (${slowTookMs} ms)`);
  for (const fastDone of [fastA!, fastB!]) {
    // 3000 messages of up to 1 KiB against a 128 KiB window: the fast ones end at most a window's
    // worth of slow reading (about a tenth of the run) before the slow one.
    assert.ok(slowDone! - fastDone < 0.35 * slowTookMs, `a fast subscriber finished ${slowDone! - fastDone} ms before the slow one (run ${slowTookMs} ms)`);
  }
});

test('fc=min: a subscriber killed outright stops holding the publication back after the timeout', { timeout: 90_000 }, async () => {
  const channel = await groupChannel('|fc=min,t:1s');
  const live = [subscriber(channel, 3003, null), subscriber(channel, 3003, null)];
  const doomed = subscriber(channel, 3003, null);
  for (const s of [...live, doomed]) await s.waitForEvent('subscribed', 10_000);
  const pub = startFixture('publisher', { channel, streamId: 3003, count: null, ratePerSecond: 20_000, stallTimeoutMs: 60_000 });
  await doomed.waitForEvent('progress', 15_000, (e) => (e['received'] as number) > 1000);
  doomed.signal('SIGKILL');
  const killedAtMs = Date.now();
  await doomed.waitForExit(10_000);
  const before = Math.max(...live.map((s) => (s.last('progress')?.['received'] as number | undefined) ?? 0));
  // Well past the 1 s timeout, both live subscribers are still receiving.
  for (const s of live) await s.waitForEvent('progress', 20_000, (e) => (e['received'] as number) > before + 20_000 && (e.atMs as number) > killedAtMs + 1500);
  assert.ok(pub.status === null, 'the publisher is still running');
});

test('fc=tagged: the tagged group paces the publication, an untagged slow subscriber does not', { timeout: 90_000 }, async () => {
  const channel = await groupChannel('|fc=tagged,g:99/2');
  const count = 3000;
  const tagged = [subscriber(`${channel}|gtag=99`, 3004, count), subscriber(`${channel}|gtag=99`, 3004, count)];
  const untagged = subscriber(channel, 3004, count, { slow: { fragmentLimit: 1, sleepMs: 20 } });
  for (const s of [...tagged, untagged]) await s.waitForEvent('subscribed', 10_000);
  startFixture('publisher', { channel, streamId: 3004, count, connectTimeoutMs: 20_000 });
  await finishTimes(tagged, count);
  const untaggedReceived = (untagged.last('progress')?.['received'] as number | undefined) ?? 0;
  assert.ok(untaggedReceived < count / 2, `the untagged slow subscriber lagged far behind (${untaggedReceived} of ${count}) without holding the others back`);
});
