import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Agent } from '../../../src/agent/agent.js';
import type { DatagramSocket, DatagramTransport } from '../../../src/env/datagram.js';
import { SimWorld } from '../../../src/sim/sim-world.js';
import { AssertionFailure } from '../../../src/util/assert.js';

/** Sends a ping every intervalNs until it has `count` pongs. */
class PingAgent implements Agent {
  readonly roleName = 'ping';
  pongs = 0;
  private socket!: DatagramSocket;
  private nextSendNs = 0;
  private readonly buffer = new Uint8Array(8);
  constructor(
    private readonly transport: DatagramTransport,
    private readonly target: number,
    private readonly intervalNs: number,
  ) {}
  onStart(): void {
    this.socket = this.transport.open({ family: 4, bindAddress: '10.0.0.1', bindPort: 0 });
    this.socket.onDatagram = () => void this.pongs++;
  }
  doWork(nowNs: number): number {
    if (nowNs < this.nextSendNs) return 0;
    this.nextSendNs = nowNs + this.intervalNs;
    this.socket.send(this.buffer, 0, 8, '10.0.0.2', this.target);
    return 1;
  }
  onClose(): void {
    this.socket.close();
  }
}

class PongAgent implements Agent {
  readonly roleName = 'pong';
  private socket!: DatagramSocket;
  private readonly replies: Array<[string, number]> = [];
  constructor(private readonly transport: DatagramTransport) {}
  onStart(): void {
    this.socket = this.transport.open({ family: 4, bindAddress: '10.0.0.2', bindPort: 9000 });
    this.socket.onDatagram = (_data, _length, address, port) => void this.replies.push([address, port]);
  }
  doWork(): number {
    const work = this.replies.length;
    for (const [address, port] of this.replies.splice(0)) this.socket.send(new Uint8Array(8), 0, 8, address, port);
    return work;
  }
  onClose(): void {
    this.socket.close();
  }
}

test('step advances the clock, delivers due datagrams and runs agents in order', () => {
  const world = new SimWorld({ seed: 1, tickNs: 1_000 });
  const log: string[] = [];
  const agent = (name: string): Agent => ({ roleName: name, doWork: (nowNs) => {
      log.push(`${name}@${nowNs}`);
      return 0;
    },
  });
  world.addAgent(agent('a'));
  world.addAgent(agent('b'));
  world.step();
  world.step();
  assert.deepEqual(log, ['a@1000', 'b@1000', 'a@2000', 'b@2000']);
  assert.equal(world.stepCount, 2);
  assert.equal(world.clock.nanoTime(), 2_000);
});

test('a paused agent is not stepped nor closed until it is resumed; removing it ends the pause', () => {
  const world = new SimWorld({ seed: 1, tickNs: 1_000 });
  const log: string[] = [];
  const agent = (name: string): Agent => ({
    roleName: name,
    doWork: (nowNs) => {
      log.push(`${name}@${nowNs}`);
      return 0;
    },
    onClose: () => void log.push(`${name} closed`),
  });
  const a = agent('a');
  const b = agent('b');
  world.addAgent(a);
  world.addAgent(b);
  assert.equal(world.pauseAgent(agent('stranger')), false, 'an agent never added cannot be paused');
  assert.equal(world.pauseAgent(a), true);
  world.step();
  assert.equal(world.resumeAgent(a), true);
  assert.equal(world.resumeAgent(a), false, 'not paused any more');
  world.step();
  assert.deepEqual(log, ['b@1000', 'a@2000', 'b@2000']);
  world.pauseAgent(b);
  assert.equal(world.removeAgent(b), true);
  assert.equal(world.resumeAgent(b), false, 'removal ends the pause');
  assert.deepEqual(log.slice(3), ['b closed']);
});

test('ping and pong agents talk over the simulated network until a condition holds', () => {
  const world = new SimWorld({ seed: 3, network: { latencyNs: 200_000, jitterNs: 0 } });
  const pong = new PongAgent(world.network);
  world.addAgent(pong);
  const ping = new PingAgent(world.network, 9000, 1_000_000);
  world.addAgent(ping);
  assert.equal(world.runUntil(() => ping.pongs >= 5, 10_000), true);
  // Pings go out at 0.1 ms + k ms; each round trip takes 0.4 ms plus up to a tick of waiting.
  const nowNs = world.clock.nanoTime();
  assert.ok(nowNs >= 4_500_000 && nowNs <= 5_000_000, `fifth pong at ${nowNs} ns`);
  assert.equal(world.runUntil(() => false, 10), false);
  assert.equal(world.removeAgent(ping), true);
  assert.equal(world.removeAgent(ping), false);
  world.close();
  assert.equal(world.network.stats.undeliverable >= 0, true);
});

function lossyRun(seed: number): { hash: string; pongs: number; steps: number } {
  const world = new SimWorld({ seed, network: { trace: true, faults: { lossRate: 0.2, duplicateRate: 0.1, reorderRate: 0.1 } } });
  world.addAgent(new PongAgent(world.network));
  const ping = new PingAgent(world.network, 9000, 300_000);
  world.addAgent(ping);
  world.runUntil(() => ping.pongs >= 50, 100_000);
  world.close();
  return { hash: world.network.traceHash(), pongs: ping.pongs, steps: world.stepCount };
}

test('a world replays exactly from its seed', () => {
  const first = lossyRun(2024);
  assert.deepEqual(lossyRun(2024), first);
  assert.notEqual(lossyRun(2025).hash, first.hash);
  assert.ok(first.pongs >= 50);
});

test('agent errors are collected; an AssertionFailure names the seed to replay', () => {
  const world = new SimWorld({ seed: 99 });
  let calls = 0;
  world.addAgent({
    roleName: 'faulty',
    doWork: () => {
      calls++;
      if (calls === 1) throw new Error('recoverable');
      if (calls === 3) throw new AssertionFailure('invariant broken');
      return 0;
    },
  });
  world.step();
  world.step();
  assert.deepEqual(world.errors.map((e) => (e as Error).message), ['recoverable']);
  assert.throws(
    () => world.step(),
    (e: unknown) => e instanceof AssertionFailure && /invariant broken \[sim seed=99 t=300000ns step=3\]/.test(e.message),
  );
});
