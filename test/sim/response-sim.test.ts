import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { SimWorld } from '../../src/sim/sim-world.js';
import { simNode, type SimNode } from '../support/sim-node.js';
import { ResponseClient } from '../../src/response/response-client.js';
import { ResponseServer } from '../../src/response/response-server.js';

/**
 * Request/response sessions through a server crash and restart, stepped by the simulator over a
 * lossy, duplicating, reordering network: the real driver, client and response agents on a
 * simulated clock. The client resumes by itself; the same seed replays the same run exactly.
 */
const REQUEST = 'aeron:udp?endpoint=127.0.0.1:20125';
const CONTROL = 'aeron:udp?control=127.0.0.1:20126';
const decoder = new TextDecoder();

/** The node stops dead: its agents are no longer stepped and its sockets close, with no goodbye. */
function crash(world: SimWorld, n: SimNode): void {
  world.removeAgent(n.client);
  for (const agent of n.driver.agents) world.removeAgent(agent);
  n.driver.close();
}

/** Steps the world (letting promise callbacks run between steps) until `done()` or the budget is spent. */
async function stepUntil(world: SimWorld, done: () => boolean, maxSteps: number, what: string): Promise<void> {
  for (let i = 0; i < maxSteps; i++) {
    if (done()) return;
    world.step();
    for (let j = 0; j < 4; j++) await Promise.resolve();
  }
  if (!done()) throw new Error(`${what} not reached after ${maxSteps} steps (seed ${world.seed}, t=${world.clock.nanoTime() / 1e6} ms)`);
}

async function startServer(world: SimWorld, n: SimNode): Promise<ResponseServer> {
  let server: ResponseServer | null = null;
  void ResponseServer.start(n.client, {
    requestChannel: REQUEST,
    responseControlChannel: CONTROL,
    errorHandler: () => {},
    onRequest: (session, correlationId, buffer, offset, length) => session.respond(correlationId, buffer, offset, length),
  }).then((s) => (server = s));
  await stepUntil(world, () => server !== null, 10_000, 'server start');
  return server!;
}

/** Sends `count` requests one after another; returns how many were answered with their own bytes. */
async function exchange(world: SimWorld, client: ResponseClient, count: number, label: string, log: string[]): Promise<number> {
  let answered = 0;
  for (let i = 0; i < count; i++) {
    const text = `${label} ${i}`;
    let outcome: string | null = null;
    client.request(text, { timeoutMs: 300 }).then(
      (answer) => (outcome = decoder.decode(answer) === text ? 'ok' : `mismatch ${decoder.decode(answer)}`),
      (error: unknown) => (outcome = (error as { code?: string }).code ?? 'error'),
    );
    await stepUntil(world, () => outcome !== null, 20_000, `answer to ${text}`);
    log.push(`${world.clock.nanoTime()} ${text}: ${outcome}`);
    if (outcome === 'ok') answered++;
  }
  return answered;
}

async function scenario(seed: number, downtimeMs: number): Promise<{ trace: string; networkHash: string; log: string[] }> {
  const world = new SimWorld({
    seed,
    tickNs: 100_000,
    network: { trace: true, faults: { lossRate: 0.05, duplicateRate: 0.02, reorderRate: 0.02, delayRate: 0.02, delayMinMs: 1, delayMaxMs: 3 } },
  });
  const log: string[] = [];
  const server1 = simNode(world);
  const clientNode = simNode(world);
  await startServer(world, server1);
  const client = new ResponseClient(clientNode.client, {
    requestChannel: REQUEST,
    responseControlChannel: CONTROL,
    heartbeatIntervalMs: 50,
    peerTimeoutMs: 400,
    connectTimeoutMs: 600,
    reconnectInitialDelayMs: 20,
    reconnectMaxDelayMs: 200,
    seed,
    onStateChange: (c) => log.push(`${c.atNs} ${c.from}->${c.to}: ${c.reason}`),
  });
  await stepUntil(world, () => client.state === 'CONNECTED', 50_000, 'first connection');
  assert.equal(await exchange(world, client, 30, 'before', log), 30, `all answered before the crash (seed ${seed})\n${log.join('\n')}`);

  crash(world, server1);
  const crashedNs = world.clock.nanoTime();
  await stepUntil(world, () => world.clock.nanoTime() - crashedNs >= downtimeMs * 1e6, 1_000_000, 'downtime');
  const server2 = simNode(world);
  await startServer(world, server2);
  const restartedNs = world.clock.nanoTime();
  // Requests caught by the crash fail (retryably); the client retries until one is answered.
  for (let attempt = 0; (await exchange(world, client, 1, `retry ${attempt}`, log)) === 0; attempt++) {
    assert.ok(/ERR_SKEIN_(REQUEST_TIMEOUT|PEER_LOST|NOT_CONNECTED)$/.test(log[log.length - 1]!), `a retryable failure: ${log[log.length - 1]}`);
    if (client.state !== 'CONNECTED') await stepUntil(world, () => client.state === 'CONNECTED', 200_000, 'reconnection');
  }
  const resumeMs = (world.clock.nanoTime() - restartedNs) / 1e6;
  // peerTimeoutMs + connectTimeoutMs + reconnectMaxDelayMs + 1 s (docs/response-channels.md)
  assert.ok(resumeMs <= 400 + 600 + 200 + 1000, `resumed ${resumeMs} ms after the restart (seed ${seed})\n${log.join('\n')}`);
  assert.equal(await exchange(world, client, 30, 'after', log), 30, `all answered after the restart (seed ${seed})\n${log.join('\n')}`);
  if (downtimeMs > 400) assert.ok(log.some((l) => /CONNECTED->RECONNECTING/.test(l)), 'a downtime longer than the peer timeout is noticed');
  client.close();
  clientNode.client.close();
  server2.client.close();
  clientNode.driver.close();
  server2.driver.close();
  const result = { trace: createHash('sha256').update(log.join('\n')).digest('hex'), networkHash: world.network.traceHash(), log };
  world.close();
  return result;
}

for (const [when, downtimeMs] of [['inside', 300], ['after', 3000]] as const) {
  test(`a server crash and restart ${when} the image liveness timeout, over a lossy network, replays exactly`, { timeout: 120_000 }, async () => {
    const first = await scenario(7, downtimeMs);
    const second = await scenario(7, downtimeMs);
    assert.equal(second.trace, first.trace, 'same seed, same session events and answers');
    assert.equal(second.networkHash, first.networkHash, 'same seed, same datagrams');
    for (const seed of [1, 2, 3, 4, 5]) {
      const other = await scenario(seed, downtimeMs);
      assert.notEqual(other.networkHash, first.networkHash, 'another seed, another run');
    }
  });
}
