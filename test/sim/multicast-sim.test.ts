/**
 * Multicast and its flow-control strategies, stepped by the simulator: one publication, several
 * drivers subscribed to the group, each link losing datagrams on its own. Replays from its seed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SimWorld } from '../../src/sim/sim-world.js';
import { counterValue, settle, simNode, type SimNode } from '../support/sim-node.js';
import { FragmentAssembler } from '../../src/logbuffer/fragment-assembler.js';
import type { Publication } from '../../src/client/publication.js';
import type { Subscription } from '../../src/client/subscription.js';

const GROUP = '224.0.1.1:40456';
const WINDOW = 32 * 1024; // the test profile's 64 KiB terms: the receiver window is termLength / 2

interface Receiver {
  readonly node: SimNode;
  readonly subscription: Subscription;
  readonly assembler: FragmentAssembler;
  received: number;
  /** Poll on one step in `every` (1: every step). */
  every: number;
  frozen: boolean;
}

interface Setup {
  readonly world: SimWorld;
  readonly publisher: SimNode;
  readonly publication: Publication;
  readonly receivers: Receiver[];
}

async function setUp(seed: number, publicationParams: string, receiverParams: readonly string[], lossRate = 0.05): Promise<Setup> {
  const world = new SimWorld({ seed, tickNs: 50_000, network: { faults: { lossRate } } });
  const publisher = simNode(world);
  const receivers: Receiver[] = [];
  for (const params of receiverParams) {
    const node = simNode(world);
    const subscription = await settle(world, node.client.addSubscription(`aeron:udp?endpoint=${GROUP}|interface=127.0.0.1${params}`, 7), 1000);
    const receiver: Receiver = { node, subscription, assembler: undefined as never, received: 0, every: 1, frozen: false };
    (receiver as { assembler: FragmentAssembler }).assembler = new FragmentAssembler((buffer, offset) => {
      const sequence = new DataView(buffer.buffer, buffer.byteOffset + offset, 4).getUint32(0, true);
      assert.equal(sequence, receiver.received, `receiver ${receivers.indexOf(receiver)}: in order, once (seed ${seed})`);
      receiver.received++;
    });
    receivers.push(receiver);
  }
  const publication = await settle(world, publisher.client.addPublication(`aeron:udp?endpoint=${GROUP}|interface=127.0.0.1${publicationParams}`, 7), 1000);
  return { world, publisher, publication, receivers };
}

/** Offers `count` numbered messages of `length` bytes as the window allows, polling each live receiver on its own cadence. */
function pump(s: Setup, count: number, length: number, until: () => boolean, maxSteps: number, onStep: () => void = () => {}): { sent: number; done: boolean } {
  const payload = new Uint8Array(length);
  let sent = 0;
  let step = 0;
  const done = s.world.runUntil(() => {
    while (sent < count) {
      new DataView(payload.buffer).setUint32(0, sent, true);
      if (s.publication.offer(payload) < 0) break;
      sent++;
    }
    step++;
    for (const r of s.receivers) if (!r.frozen && step % r.every === 0) r.subscription.poll(r.assembler.onFragment, 20);
    onStep();
    return until();
  }, maxSteps);
  return { sent, done };
}

function tearDown(s: Setup): void {
  for (const node of [s.publisher, ...s.receivers.map((r) => r.node)]) {
    node.client.close();
    node.driver.close();
  }
  s.world.close();
}

function senderPosition(node: SimNode, publication: Publication): number {
  let value = 0;
  node.driver.counters.forEach((_id, _typeId, v, label) => {
    if (label.startsWith(`snd-pos: ${publication.registrationId} `)) value = v;
  });
  return value;
}

test('multicast with fc=min: one publication reaches three drivers over lossy links, each gets every message in order; one send serves them all', { timeout: 60_000 }, async () => {
  // min: a receiver repairing a loss must not be left behind by the others (under max it may be).
  const s = await setUp(11, '|fc=min', ['', '', '']);
  try {
    const count = 3000;
    const { done } = pump(s, count, 200, () => s.receivers.every((r) => r.received === count), 400_000);
    assert.ok(done, `every receiver got ${count}: ${s.receivers.map((r) => r.received).join(', ')} (${s.world.describe()})`);
    assert.deepEqual(s.world.errors, []);
    const sentFrames = counterValue(s.publisher.driver, 'Frames sent');
    const receivedFrames = s.receivers.reduce((sum, r) => sum + counterValue(r.node.driver, 'Frames received'), 0);
    assert.ok(receivedFrames > 2 * sentFrames, `each datagram sent once reached the three receivers: sent ${sentFrames}, received ${receivedFrames}`);
    assert.ok(counterValue(s.publisher.driver, 'NAKs received') > 0, 'loss was repaired by NAKs sent to the control group');
  } finally {
    tearDown(s);
  }
});

test('fc=min: the slowest receiver paces the publication; under max the fastest does', { timeout: 60_000 }, async () => {
  for (const [params, paced] of [['|fc=min', true], ['', false]] as const) {
    const s = await setUp(12, params, ['', '', ''], 0);
    try {
      const slow = s.receivers[2]!;
      slow.every = 40;
      let maxLead = 0;
      pump(s, 4000, 200, () => s.receivers.every((r) => r.received === 4000), 120_000, () => {
        const image = slow.subscription.images[0];
        if (image !== undefined) maxLead = Math.max(maxLead, senderPosition(s.publisher, s.publication) - image.position);
      });
      if (paced) {
        assert.ok(maxLead <= WINDOW + 32, `under min the sender stays within one window of the slow receiver: lead ${maxLead}`);
        assert.equal(slow.received, 4000);
      } else {
        assert.ok(maxLead > WINDOW + 32, `under max the fast receivers set the pace: lead ${maxLead}`);
      }
    } finally {
      tearDown(s);
    }
  }
});

test('fc=min: a receiver that stops answering is dropped after the timeout and the others go on', { timeout: 60_000 }, async () => {
  const s = await setUp(13, '|fc=min,t:500ms', ['', '', ''], 0.02);
  try {
    const frozen = s.receivers[2]!;
    const first = pump(s, 1000, 200, () => s.receivers.every((r) => r.received === 1000), 200_000);
    assert.ok(first.done, 'all three got the first 1000');
    // The third driver freezes: its agents stop, so it sends no more status messages.
    frozen.frozen = true;
    for (const agent of [...frozen.node.driver.agents, frozen.node.client]) s.world.removeAgent(agent);
    const frozenAtNs = s.world.clock.nanoTime();
    const payload = new Uint8Array(200);
    let sent = 0;
    let received = 0;
    const live = s.receivers.slice(0, 2);
    for (const r of live) r.received = 0;
    const moved = s.world.runUntil(() => {
      while (sent < 2000) {
        new DataView(payload.buffer).setUint32(0, 1000 + sent, true);
        if (s.publication.offer(payload) < 0) break;
        sent++;
      }
      for (const r of live) {
        r.subscription.poll((_b, _o, _l) => {
          received++;
        }, 20);
      }
      return received >= 2 * 2000;
    }, 400_000);
    assert.ok(moved, `the two live receivers got the rest: ${received} of ${2 * 2000} (${s.world.describe()})`);
    const elapsedMs = (s.world.clock.nanoTime() - frozenAtNs) / 1e6;
    assert.ok(elapsedMs >= 400, `it took the receiver timeout (${elapsedMs} ms): the frozen receiver held the publication until then`);
    assert.equal(s.publication.isConnected, true);
  } finally {
    tearDown(s);
  }
});

test('fc=tagged: only the tagged group paces the publication, and it connects only once the group is complete', { timeout: 60_000 }, async () => {
  const s = await setUp(14, '|fc=tagged,g:99/2', ['|gtag=99', '', '|gtag=99'], 0);
  try {
    const untagged = s.receivers[1]!;
    untagged.every = 50;
    // Only the first tagged receiver is polled before the group completes; the connection needs both.
    assert.ok(s.world.runUntil(() => s.publication.isConnected, 20_000), 'connected once both tagged receivers report');
    let maxLead = 0;
    const { done } = pump(s, 3000, 200, () => s.receivers[0]!.received === 3000 && s.receivers[2]!.received === 3000, 200_000, () => {
      const image = untagged.subscription.images[0];
      if (image !== undefined) maxLead = Math.max(maxLead, senderPosition(s.publisher, s.publication) - image.position);
    });
    assert.ok(done, 'the tagged receivers got everything');
    assert.ok(maxLead > WINDOW + 32, `the untagged slow receiver did not pace the publication: lead ${maxLead}`);
  } finally {
    tearDown(s);
  }
});

test('fc=tagged with a group of 2: one tagged receiver alone does not connect the publication', { timeout: 30_000 }, async () => {
  const s = await setUp(15, '|fc=tagged,g:99/2', ['|gtag=99', ''], 0);
  try {
    s.world.runUntil(() => false, 20_000);
    assert.equal(s.publication.isConnected, false, 'one of two required tagged receivers');
    assert.ok(s.publication.offer(new Uint8Array(8)) < 0, 'offers are refused while not connected');
  } finally {
    tearDown(s);
  }
});
