import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { SimWorld } from '../../src/sim/sim-world.js';
import { settle, simNode } from '../support/sim-node.js';
import { FragmentAssembler } from '../../src/logbuffer/fragment-assembler.js';
import type { Publication } from '../../src/client/publication.js';
import type { Subscription } from '../../src/client/subscription.js';

/**
 * The real driver and client agents stepped by the simulator over a simulated network with loss,
 * duplication, reordering and delay drawn from a seed. Same seed, same trace.
 */
interface RunResult {
  readonly delivered: number;
  readonly networkHash: string;
  readonly deliveryHash: string;
  readonly dropped: number;
  readonly duplicated: number;
  readonly reordered: number;
  readonly steps: number;
}

async function run(seed: number, messageCount: number): Promise<RunResult> {
  const world = new SimWorld({
    seed,
    tickNs: 50_000,
    network: { trace: true, faults: { lossRate: 0.1, duplicateRate: 0.05, reorderRate: 0.05, delayRate: 0.05, delayMinMs: 1, delayMaxMs: 3 } },
  });
  const a = simNode(world);
  const b = simNode(world);
  const channel = 'aeron:udp?endpoint=127.0.0.1:20121';
  const subscription: Subscription = await settle(world, b.client.addSubscription(channel, 1001), 1000);
  const publication: Publication = await settle(world, a.client.addPublication(channel, 1001), 1000);
  const digest = createHash('sha256');
  let delivered = 0;
  const assembler = new FragmentAssembler((buffer, offset, length, header) => {
    const sequence = new DataView(buffer.buffer, buffer.byteOffset + offset, 4).getUint32(0, true);
    assert.equal(sequence, delivered, `in order, once (seed ${seed})`);
    assert.equal(length, 20 + (sequence % 7) * 300, `length of message ${sequence} (seed ${seed})`);
    digest.update(`${sequence}@${header.position}@${world.clock.nanoTime()};`);
    delivered++;
  });
  const payload = new Uint8Array(20 + 6 * 300);
  let sent = 0;
  const ok = world.runUntil(() => {
    while (sent < messageCount) {
      new DataView(payload.buffer).setUint32(0, sent, true);
      if (publication.offer(payload, 0, 20 + (sent % 7) * 300) < 0) break;
      sent++;
    }
    subscription.poll(assembler.onFragment, 50);
    return delivered === messageCount;
  }, 400_000);
  assert.ok(ok, `delivered ${delivered} of ${messageCount} (sent ${sent}) in the step budget (seed ${seed})`);
  assert.deepEqual(world.errors, [], `no agent errors (seed ${seed})`);
  const stats = world.network.stats;
  const result = {
    delivered,
    networkHash: world.network.traceHash(),
    deliveryHash: digest.digest('hex'),
    dropped: stats.dropped,
    duplicated: stats.duplicated,
    reordered: stats.reordered,
    steps: world.stepCount,
  };
  a.client.close();
  b.client.close();
  a.driver.close();
  b.driver.close();
  world.close();
  return result;
}

test('a stream crosses a lossy, duplicating, reordering network intact, and a seed replays it exactly', { timeout: 60_000 }, async () => {
  const first = await run(42, 2000);
  const second = await run(42, 2000);
  assert.equal(first.delivered, 2000);
  assert.ok(first.dropped > 0 && first.duplicated > 0 && first.reordered > 0, `faults were injected: ${JSON.stringify(first)}`);
  assert.deepEqual(second, first, 'same seed, same trace');
  const other = await run(43, 2000);
  assert.equal(other.delivered, 2000);
  assert.notEqual(other.networkHash, first.networkHash, 'another seed, another trace');
});
