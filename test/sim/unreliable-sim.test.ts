/**
 * `reliable=false`: an image does not NAK; a gap is filled with padding when its NAK would be due,
 * so the subscriber gets the messages that arrived, in order, and the stream never waits for a
 * repair. Beside it, a reliable subscription of the same stream gets everything.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SimWorld } from '../../src/sim/sim-world.js';
import { counterValue, settle, simNode } from '../support/sim-node.js';

test('reliable=false: lost messages are skipped, the rest arrive in order, no NAK is sent, gaps are counted as filled', { timeout: 60_000 }, async () => {
  for (const reliable of [false, true]) {
    const world = new SimWorld({ seed: 21, tickNs: 50_000, network: { faults: { lossRate: 0.05 } } });
    const publisher = simNode(world);
    const receiver = simNode(world);
    const channel = 'aeron:udp?endpoint=127.0.0.1:40500';
    const subscription = await settle(world, receiver.client.addSubscription(`${channel}${reliable ? '' : '|reliable=false'}`, 9), 1000);
    const publication = await settle(world, publisher.client.addPublication(channel, 9), 1000);
    const count = 4000;
    const seen: number[] = [];
    const payload = new Uint8Array(100);
    let sent = 0;
    world.runUntil(() => {
      while (sent < count) {
        new DataView(payload.buffer).setUint32(0, sent, true);
        if (publication.offer(payload) < 0) break;
        sent++;
      }
      subscription.poll((buffer, offset) => seen.push(new DataView(buffer.buffer, buffer.byteOffset + offset, 4).getUint32(0, true)), 50);
      return sent === count && (seen[seen.length - 1] === count - 1 || seen.length === count);
    }, 300_000);
    for (let i = 1; i < seen.length; i++) assert.ok(seen[i]! > seen[i - 1]!, `in order, once (at ${i})`);
    const naks = counterValue(receiver.driver, 'NAKs sent');
    const fills = counterValue(receiver.driver, 'Loss gap fills');
    if (reliable) {
      assert.equal(seen.length, count, 'reliable: everything');
      assert.ok(naks > 0, 'reliable: losses were NAKed');
      assert.equal(fills, 0);
    } else {
      assert.ok(seen.length < count && seen.length > count * 0.8, `unreliable: what arrived (${seen.length} of ${count})`);
      assert.equal(seen[seen.length - 1], count - 1, 'unreliable: the stream reached its end without waiting for repairs');
      assert.equal(naks, 0, 'unreliable: no NAK');
      assert.ok(fills > 0, `unreliable: gaps filled (${fills})`);
    }
    for (const node of [publisher, receiver]) {
      node.client.close();
      node.driver.close();
    }
    world.close();
  }
});
