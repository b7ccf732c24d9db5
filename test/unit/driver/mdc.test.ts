/**
 * Multi-destination cast inside one process (three embedded drivers on loopback): destinations
 * added and removed by hand, learned and forgotten dynamically, and the errors of misuse.
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

function counting(subscription: Subscription): { count: number } {
  const state = { count: 0 };
  subscription.onFragment(() => state.count++);
  return state;
}

async function offer(publication: Publication, count: number): Promise<void> {
  const payload = new Uint8Array(100);
  for (let i = 0; i < count; i++) {
    const deadline = Date.now() + 5000;
    while (publication.offer(payload) < 0) {
      if (Date.now() > deadline) throw new Error(`offer ${i} kept failing`);
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
}

const code = (expected: string) => (error: unknown): boolean => error instanceof SkeinError && error.code === expected;

test('manual: destinations added and removed by the application; misuse names what is wrong', { timeout: 20_000 }, async () => {
  const [a, b, c] = [launch(601), launch(602), launch(603)];
  try {
    const [e1, e2] = [`127.0.0.1:${await freeUdpPort()}`, `127.0.0.1:${await freeUdpPort()}`];
    const subB = await b.addSubscription(`aeron:udp?endpoint=${e1}`, 1);
    const subC = await c.addSubscription(`aeron:udp?endpoint=${e2}`, 1);
    const pub = await a.addPublication('aeron:udp?control-mode=manual', 1);
    await assert.rejects(pub.connected({ timeoutMs: 200 }), code(ErrorCode.TIMEOUT), 'no destination yet');
    await pub.addDestination(`aeron:udp?endpoint=${e1}`);
    await pub.addDestination(`aeron:udp?endpoint=${e2}`);
    await assert.rejects(pub.addDestination(`aeron:udp?endpoint=${e2}`), (e: SkeinError) => e.code === ErrorCode.DRIVER_COMMAND_FAILED && /is there already/.test(e.message));
    await assert.rejects(pub.addDestination('aeron:ipc'), code(ErrorCode.URI_INVALID));
    await assert.rejects(pub.addDestination('aeron:udp?endpoint=127.0.0.1:99999'), code(ErrorCode.URI_PARAM_INVALID));
    const [gotB, gotC] = [counting(subB), counting(subC)];
    await pub.connected({ timeoutMs: 5000 });
    await waitFor(() => subB.isConnected && subC.isConnected, 5000, 'both images');
    await offer(pub, 500);
    await waitFor(() => gotB.count === 500 && gotC.count === 500, 5000, 'both destinations got 500');
    await pub.removeDestination(`aeron:udp?endpoint=${e2}`);
    await assert.rejects(pub.removeDestination(`aeron:udp?endpoint=${e2}`), (e: SkeinError) => /is not there/.test(e.message));
    await offer(pub, 500);
    await waitFor(() => gotB.count === 1000, 5000, 'the remaining destination got the next 500');
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(gotC.count, 500, 'the removed destination got nothing more');
    const unicast = await a.addPublication(`aeron:udp?endpoint=${e1}`, 2);
    await assert.rejects(unicast.addDestination(`aeron:udp?endpoint=${e2}`), (e: SkeinError) => e.code === ErrorCode.DRIVER_COMMAND_FAILED && /control-mode=manual/.test(e.message));
    unicast.close();
    await assert.rejects(unicast.addDestination(`aeron:udp?endpoint=${e2}`), code(ErrorCode.CLOSED));
  } finally {
    await Promise.all([a.close(), b.close(), c.close()]);
  }
});

test('dynamic: receivers become destinations through their status messages; one that dies is forgotten and the others go on', { timeout: 20_000 }, async () => {
  const [a, b, c] = [launch(611), launch(612), launch(613)];
  try {
    const control = `127.0.0.1:${await freeUdpPort()}`;
    const subB = await b.addSubscription(`aeron:udp?endpoint=127.0.0.1:${await freeUdpPort()}|control=${control}`, 3);
    const subC = await c.addSubscription(`aeron:udp?endpoint=127.0.0.1:${await freeUdpPort()}|control=${control}`, 3);
    const pub = await a.addPublication(`aeron:udp?control=${control}|control-mode=dynamic|fc=min,t:300ms`, 3);
    await Promise.all([pub.connected({ timeoutMs: 5000 }), subB.connected({ timeoutMs: 5000 }), subC.connected({ timeoutMs: 5000 })]);
    const [gotB, gotC] = [counting(subB), counting(subC)];
    await offer(pub, 500);
    await waitFor(() => gotB.count === 500 && gotC.count === 500, 5000, 'both receivers got 500');
    c.destroy(); // no end-of-stream status: the receiver just stops
    const before = gotB.count;
    await offer(pub, 2000);
    await waitFor(() => gotB.count === before + 2000, 10_000, 'the live receiver got the rest once the dead one stopped counting');
  } finally {
    await Promise.all([a.close(), b.close(), c.close()]);
  }
});
