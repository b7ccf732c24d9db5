import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DatagramSocket } from '../../../src/env/datagram.js';
import type { FaultOptions } from '../../../src/env/fault-injection.js';
import { SeededPrng } from '../../../src/env/prng.js';
import { SimClock } from '../../../src/sim/sim-clock.js';
import { SimNetwork, type SimNetworkOptions } from '../../../src/sim/sim-network.js';
import { ErrorCode, SkeinError } from '../../../src/util/errors.js';

function newNetwork(options: Partial<SimNetworkOptions> = {}, seed = 1): { clock: SimClock; network: SimNetwork } {
  const clock = new SimClock();
  const network = new SimNetwork({ clock, prng: new SeededPrng(seed), ...options });
  return { clock, network };
}

function open(network: SimNetwork, bindAddress = '10.0.0.1', bindPort = 0): DatagramSocket {
  return network.open({ family: 4, bindAddress, bindPort });
}

test('sockets bind at once; port 0 gives deterministic ephemeral ports; taken ports fail', () => {
  const { network } = newNetwork();
  const a = open(network);
  const b = open(network);
  assert.equal(a.status, 'bound');
  assert.deepEqual([a.localPort, b.localPort], [40_000, 40_001]);
  const fixed = open(network, '10.0.0.1', 5000);
  assert.equal(fixed.localPort, 5000);
  const clash = open(network, '10.0.0.1', 5000);
  assert.equal(clash.status, 'failed');
  assert.ok(clash.error instanceof SkeinError && clash.error.code === ErrorCode.TRANSPORT_BIND_FAILED);
  assert.match(clash.error.message, /address 10\.0\.0\.1 port 5000: EADDRINUSE/);
  assert.equal(open(network, '0.0.0.0', 5000).status, 'failed', 'the wildcard overlaps 10.0.0.1:5000');
  assert.equal(open(network, '10.0.0.2', 5000).status, 'bound', 'another host may use the port');
  fixed.close();
  fixed.close();
  assert.equal(open(network, '10.0.0.1', 5000).status, 'bound', 'a closed socket frees its port');
  assert.equal(open(network, '10.0.0.1', 40_002).status, 'bound');
  assert.equal(open(network).localPort, 40_003, 'ephemeral ports skip ports in use');
});

test('datagrams arrive after the latency, as copies, with the sender as source', () => {
  const { clock, network } = newNetwork({ latencyNs: 50_000, jitterNs: 0 });
  const a = open(network, '10.0.0.1', 1000);
  const b = open(network, '10.0.0.2', 2000);
  const got: Array<[number[], number, string, number]> = [];
  b.onDatagram = (data, length, address, port) => got.push([[...data.subarray(0, length)], length, address, port]);
  const buffer = new Uint8Array([0, 1, 2, 3, 4]);
  assert.equal(a.send(buffer, 1, 3, '10.0.0.2', 2000), true);
  buffer.fill(9); // the sender may reuse its buffer at once
  clock.advance(49_999);
  assert.equal(network.deliver(), 0);
  assert.equal(network.nextDeliveryNs(), 50_000);
  clock.advance(1);
  assert.equal(network.deliver(), 1);
  assert.deepEqual(got, [[[1, 2, 3], 3, '10.0.0.1', 1000]]);
  assert.equal(network.pendingCount, 0);
  assert.equal(network.nextDeliveryNs(), Number.POSITIVE_INFINITY);
});

test('sends that cannot be handed over return false; datagrams to unbound ports are dropped and counted', () => {
  const { clock, network } = newNetwork();
  const a = open(network);
  assert.equal(a.send(new Uint8Array(4), 2, 4, '10.0.0.9', 1), false, 'range beyond the array');
  assert.equal(a.send(new Uint8Array(70_000), 0, 70_000, '10.0.0.9', 1), false, 'too long for UDP');
  assert.equal(a.send(new Uint8Array(4), 0, 4, '10.0.0.9', 0), false, 'port 0');
  assert.equal(a.send(new Uint8Array(4), 0, 4, '10.0.0.9', 1), true);
  clock.advance(1_000_000);
  assert.equal(network.deliver(), 0);
  assert.equal(network.stats.undeliverable, 1);
  a.close();
  assert.equal(a.send(new Uint8Array(4), 0, 4, '10.0.0.9', 1), false, 'closed');
});

test('a wildcard socket receives for any address on its port', () => {
  const { clock, network } = newNetwork();
  const server = open(network, '0.0.0.0', 7000);
  const client = open(network, '10.0.0.5', 0);
  let from = '';
  server.onDatagram = (_d, _l, address, port) => (from = `${address}:${port}`);
  client.send(new Uint8Array(1), 0, 1, '10.0.0.1', 7000);
  clock.advance(1_000_000);
  network.deliver();
  assert.equal(from, `10.0.0.5:${client.localPort}`);
});

test('jitter varies latency but keeps each path in order; partitions drop until healed', () => {
  const { clock, network } = newNetwork({ latencyNs: 50_000, jitterNs: 40_000 });
  const a = open(network, '10.0.0.1', 1000);
  const b = open(network, '10.0.0.2', 2000);
  const order: number[] = [];
  b.onDatagram = (data) => order.push(data[0] as number);
  for (let i = 0; i < 200; i++) {
    a.send(new Uint8Array([i & 0xff]), 0, 1, '10.0.0.2', 2000);
    clock.advance(1_000);
    network.deliver();
  }
  clock.advance(1_000_000);
  network.deliver();
  assert.deepEqual(order, Array.from({ length: 200 }, (_, i) => i & 0xff));

  network.partition('10.0.0.1', '10.0.0.2');
  a.send(new Uint8Array([1]), 0, 1, '10.0.0.2', 2000);
  network.heal();
  a.send(new Uint8Array([2]), 0, 1, '10.0.0.2', 2000);
  clock.advance(1_000_000);
  network.deliver();
  assert.equal(network.stats.partitioned, 1);
  assert.deepEqual(order.slice(200), [2]);
});

interface ScenarioResult {
  hash: string;
  trace: string[];
  stats: SimNetwork['stats'];
  received: number;
  pending: number;
}

/** Two hosts: one sends bursts, the other echoes every datagram. */
function pingPong(seed: number, faults: FaultOptions): ScenarioResult {
  const { clock, network } = newNetwork({ faults, trace: true }, seed);
  const a = open(network, '10.0.0.1', 1000);
  const b = open(network, '10.0.0.2', 2000);
  let received = 0;
  b.onDatagram = (data, length, address, port) => void b.send(data, 0, length, address, port);
  a.onDatagram = () => void received++;
  const payload = new Uint8Array(64);
  for (let step = 0; step < 1000; step++) {
    clock.advance(100_000);
    network.deliver();
    for (let i = 0; i < 3; i++) {
      payload[0] = i;
      a.send(payload, 0, 16 + i, '10.0.0.2', 2000);
    }
  }
  clock.advance(100_000_000);
  network.deliver();
  return { hash: network.traceHash(), trace: network.trace, stats: { ...network.stats }, received, pending: network.pendingCount };
}

const FAULTS: FaultOptions = { lossRate: 0.05, duplicateRate: 0.05, reorderRate: 0.1, delayRate: 0.02, delayMinMs: 0.1, delayMaxMs: 2 };

test('the same seed gives the identical trace hash; a different seed a different one', () => {
  const first = pingPong(42, FAULTS);
  const second = pingPong(42, FAULTS);
  const other = pingPong(43, FAULTS);
  assert.match(first.hash, /^[0-9a-f]{64}$/);
  assert.equal(first.hash, second.hash);
  assert.deepEqual(first.stats, second.stats);
  assert.notEqual(first.hash, other.hash);
  assert.match(first.trace[0] ?? '', /^t=\d+ 10\.0\.0\.\d:\d+->10\.0\.0\.\d:\d+ len=\d+ (deliver|drop|dup)$/);
});

test('fault rates show up in the statistics', () => {
  const { stats, received, pending } = pingPong(7, FAULTS);
  // 3000 datagrams out; every one that arrives (duplicates included) is echoed back.
  assert.ok(stats.sent > 5500 && stats.sent < 6500, `sent ${stats.sent}`);
  const near = (value: number, rate: number, base: number, what: string): void => {
    const expected = rate * base;
    assert.ok(Math.abs(value - expected) < 5 * Math.sqrt(expected) + 5, `${what}=${value}, expected about ${expected}`);
  };
  near(stats.dropped, 0.05, stats.sent, 'dropped');
  near(stats.duplicated, 0.05, stats.sent - stats.dropped, 'duplicated');
  near(stats.delayed, 0.02, stats.sent - stats.dropped, 'delayed');
  near(stats.reordered, 0.1 * 0.98, stats.sent - stats.dropped, 'reordered');
  assert.equal(stats.delivered + pending, stats.sent - stats.dropped + stats.duplicated, 'echoes of the last deliveries are still in flight');
  assert.equal(stats.undeliverable, 0);
  assert.ok(received > 0);
});

test('reorder faults really reorder a path', () => {
  const { clock, network } = newNetwork({ faults: { reorderRate: 0.3 }, jitterNs: 0 }, 5);
  const a = open(network, '10.0.0.1', 1000);
  const b = open(network, '10.0.0.2', 2000);
  const order: number[] = [];
  b.onDatagram = (data) => order.push(data[0] as number);
  for (let i = 0; i < 100; i++) {
    a.send(new Uint8Array([i]), 0, 1, '10.0.0.2', 2000);
    clock.advance(10_000);
    network.deliver();
  }
  clock.advance(10_000_000);
  network.deliver();
  assert.equal(order.length, 100);
  assert.notDeepEqual(order, [...order].sort((x, y) => x - y));
  assert.deepEqual([...order].sort((x, y) => x - y), Array.from({ length: 100 }, (_, i) => i));
});

test('options are validated; traceHash needs tracing', () => {
  const isConfigInvalid = (e: unknown): boolean => e instanceof SkeinError && e.code === ErrorCode.CONFIG_INVALID;
  assert.throws(() => newNetwork({ latencyNs: 0 }), isConfigInvalid);
  assert.throws(() => newNetwork({ jitterNs: -1 }), isConfigInvalid);
  assert.throws(() => newNetwork({ faults: { lossRate: 1.5 } }), isConfigInvalid);
  assert.throws(() => newNetwork().network.traceHash(), (e: unknown) => e instanceof SkeinError && /trace: true/.test(e.message));
});
