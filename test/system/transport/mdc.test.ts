/**
 * Multi-destination cast between real processes on loopback: one publication sends every frame to
 * each of four subscribers' own endpoints, learning them from their status messages
 * (control-mode=dynamic) or told them by the application (control-mode=manual, `skein pub
 * --destination`). Every message arrives in order at each.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { freeUdpPort, startSkein, stopAll, type StartedProcess } from '../../support/processes.js';

after(() => stopAll());

async function runFanOut(mode: 'dynamic' | 'manual', streamId: number): Promise<void> {
  const count = 20_000;
  const control = `127.0.0.1:${await freeUdpPort()}`;
  const endpoints: string[] = [];
  for (let i = 0; i < 4; i++) endpoints.push(`127.0.0.1:${await freeUdpPort()}`);
  const subs: StartedProcess[] = endpoints.map((endpoint) =>
    startSkein([
      'sub', '--channel', `aeron:udp?endpoint=${endpoint}${mode === 'dynamic' ? `|control=${control}` : ''}`, '--stream', String(streamId),
      '--verify', '--count', String(count), '--timeout-ms', '60000',
    ]),
  );
  for (const sub of subs) await sub.waitForLine(/subscribed to/, 10_000, 'stderr');
  // fc=min,g:/4: the publication waits for all four receivers, so none of them misses the start.
  const args = ['pub', '--channel', `aeron:udp?control=${control}|control-mode=${mode}|fc=min,g:/4`, '--stream', String(streamId), '--size', '100', '--count', String(count)];
  if (mode === 'manual') for (const endpoint of endpoints) args.push('--destination', `aeron:udp?endpoint=${endpoint}`);
  const pub = startSkein(args);
  assert.equal((await pub.waitForExit(60_000)).code, 0, pub.describe());
  for (const sub of subs) {
    assert.equal((await sub.waitForExit(30_000)).code, 0, sub.describe());
    const s = sub.lastJson<{ received: number; gaps: number; duplicates: number; outOfOrder: number; verified: boolean }>();
    assert.deepEqual([s.received, s.gaps, s.duplicates, s.outOfOrder, s.verified], [count, 0, 0, 0, true], sub.describe());
  }
}

test('MDC, control-mode=dynamic: four subscribers found by their status messages, every message in order to each', { timeout: 90_000 }, () =>
  runFanOut('dynamic', 3101));

test('MDC, control-mode=manual: four destinations named with skein pub --destination, every message in order to each', { timeout: 90_000 }, () =>
  runFanOut('manual', 3102));
