/**
 * The embedded registry on real sockets: providers register with leases and are pushed to
 * consumers as snapshots; a provider that deregisters goes at once, one that stops renewing goes
 * when its lease expires; while the registry is down consumers keep their providers and say the
 * registry is UNREACHABLE; when it comes back, providers register again by themselves and
 * consumers resync from a full snapshot.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Skein } from '../../../src/skein.js';
import { systemEpochClock } from '../../../src/env/clock.js';
import { EmbeddedRegistry, RegistryServer } from '../../../src/rpc/embedded-registry.js';
import { RpcProvider } from '../../../src/rpc/rpc-provider.js';
import { RpcConsumer } from '../../../src/rpc/rpc-consumer.js';
import { defineService, unary } from '../../../src/rpc/service.js';
import type { ServiceSnapshot } from '../../../src/rpc/registry.js';
import { freeUdpPortPair, waitFor } from '../../support/wait.js';

const Echo = defineService('echo', { say: unary<string, string>({ idempotent: true }) });

test('providers register with leases, consumers follow them; the registry going away and coming back', { timeout: 60_000 }, async () => {
  const registrySkein = Skein.launch({ testProfile: true, seed: 401 });
  const skein = Skein.launch({ testProfile: true, seed: 402 });
  const doomed = Skein.launch({ testProfile: true, seed: 403 });
  const registryAddress = `127.0.0.1:${await freeUdpPortPair()}`;
  let server = await RegistryServer.start(registrySkein.client, { address: registryAddress, epochClock: systemEpochClock });
  const providerRegistry = new EmbeddedRegistry(skein.client, { address: registryAddress, leaseMs: 600, seed: 1 });
  const doomedRegistry = new EmbeddedRegistry(doomed.client, { address: registryAddress, leaseMs: 600, seed: 2 });
  const consumerRegistry = new EmbeddedRegistry(skein.client, { address: registryAddress, seed: 3, retryMs: 100 });
  const snapshots: ServiceSnapshot[] = [];
  const states: string[] = [];
  const watch = consumerRegistry.subscribe('echo', { onSnapshot: (s) => snapshots.push(s), onRegistryState: (state) => states.push(state) });
  const start = async (registry: EmbeddedRegistry, on: Skein, name: string) =>
    RpcProvider.start(on.client, { service: Echo, implementation: { say: (text: string) => `${name}: ${text}` }, address: `127.0.0.1:${await freeUdpPortPair()}`, registry, incarnation: name });
  const a = await start(providerRegistry, skein, 'a');
  const b = await start(providerRegistry, skein, 'b');
  const c = await start(doomedRegistry, doomed, 'c');
  const consumer = RpcConsumer.create(skein.client, Echo, { registry: consumerRegistry, seed: 4 });
  const names = () => (snapshots.at(-1)?.providers ?? []).map((p) => p.incarnation).sort().join(',');
  try {
    await waitFor(() => names() === 'a,b,c', 10_000, 'three providers in the snapshot');
    assert.equal(watch.state, 'CONNECTED');
    assert.match(await consumer.stub.say('hi'), /^[abc]: hi$/);
    const versions = snapshots.map((s) => s.version);
    assert.deepEqual(versions, [...versions].sort((x, y) => x - y), 'versions only grow');
    // Deregistration is pushed at once.
    await b.close();
    await waitFor(() => names() === 'a,c', 5000, 'b gone after it deregistered');
    // A provider whose process stops renewing goes when its lease expires.
    doomed.destroy();
    const stoppedAt = Date.now();
    await waitFor(() => names() === 'a', 5000, 'c gone when its lease expired');
    assert.ok(Date.now() - stoppedAt >= 300, 'not before most of its 600 ms lease');
    // The registry goes away: the consumer keeps its providers and says so.
    await server.close();
    await waitFor(() => states.includes('UNREACHABLE'), 10_000, 'the subscription to notice');
    await waitFor(() => consumer.registryState === 'UNREACHABLE', 5000, 'the consumer to say the registry is unreachable');
    assert.equal(await consumer.stub.say('still here'), 'a: still here');
    // Back on the same address, empty: providers register again, the consumer resyncs.
    const before = snapshots.at(-1)!.version;
    server = await RegistryServer.start(registrySkein.client, { address: registryAddress, epochClock: systemEpochClock });
    await waitFor(() => server.leaseCount === 1, 10_000, 'a to register again');
    await waitFor(() => watch.state === 'CONNECTED' && snapshots.at(-1)!.version > before && names() === 'a', 10_000, 'the consumer to resync');
    assert.equal(consumer.registryState, 'CONNECTED');
  } finally {
    consumer.close();
    await a.close();
    c.closeNow();
    watch.close();
    await consumerRegistry.close();
    await providerRegistry.close();
    await server.close();
    await skein.close();
    await registrySkein.close();
  }
});
