/**
 * One contract, three registries (docs/rpc.md, "Registries"): static, embedded (`RegistryServer`
 * over Skein) and etcd v3 (a real `etcd` started on 127.0.0.1 for the test, Debian's
 * etcd-server; the etcd cases are skipped, saying so, when no `etcd` is installed). Each passes
 * the same conformance checks: a full snapshot first, registrations and removals as new frozen
 * snapshots with growing versions, earlier snapshots untouched. The leased ones also drop a
 * provider whose owner vanished without deregistering, report UNREACHABLE while the registry is
 * down (consumers keep calling the providers they know), and resync when it is back.
 */
import { after, afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Skein } from '../../../src/skein.js';
import { systemEpochClock } from '../../../src/env/clock.js';
import { EtcdRegistry } from '../../../src/rpc/etcd-registry.js';
import { EmbeddedRegistry, RegistryServer } from '../../../src/rpc/embedded-registry.js';
import { StaticRegistry, providerEntry, type Registry, type RegistryState, type ServiceSnapshot } from '../../../src/rpc/registry.js';
import { RpcProvider } from '../../../src/rpc/rpc-provider.js';
import { RpcConsumer } from '../../../src/rpc/rpc-consumer.js';
import { DemoService, demoImplementation } from '../../../src/rpc/demo-service.js';
import { nodeTimers } from '../../../src/env/timers.js';
import { startProcess, stopAll, type StartedProcess } from '../../support/processes.js';
import { freeUdpPortPair, waitFor } from '../../support/wait.js';
import { freeTcpPort } from '../../../src/cli/free-port.js';

function etcdInstalled(): boolean {
  try {
    execFileSync('etcd', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

interface Etcd {
  process: StartedProcess;
  url: string;
  start(): Promise<void>;
  readonly dir: string;
}

/** A single-member etcd on loopback with its own data directory; `start()` again restarts it on the same ports and data. */
async function etcd(): Promise<Etcd> {
  const dir = mkdtempSync(join(tmpdir(), 'skein-etcd-'));
  const clientPort = await freeTcpPort();
  const peerPort = await freeTcpPort();
  const url = `http://127.0.0.1:${clientPort}`;
  const handle: Etcd = {
    process: null as unknown as StartedProcess,
    url,
    dir,
    start: async () => {
      handle.process = startProcess('etcd', [
        '--name', 'skein-test', '--data-dir', join(dir, 'data'),
        '--listen-client-urls', url, '--advertise-client-urls', url,
        '--listen-peer-urls', `http://127.0.0.1:${peerPort}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${peerPort}`,
        '--initial-cluster', `skein-test=http://127.0.0.1:${peerPort}`, '--log-level', 'error',
      ]);
      const probe = new EtcdRegistry({ hosts: [url], requestTimeoutMs: 1000 });
      try {
        await waitForAsync(async () => {
          try {
            const sub = probe.subscribe('probe', { onSnapshot: () => {} });
            await waitFor(() => sub.state === 'CONNECTED', 1000, 'etcd');
            sub.close();
            return true;
          } catch {
            return false;
          }
        }, 20_000, 'etcd to answer');
      } finally {
        await probe.close();
      }
    },
  };
  await handle.start();
  return handle;
}

async function waitForAsync(condition: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The checks every registry passes. */
async function conformance(name: string, registry: Registry): Promise<void> {
  const snapshots: ServiceSnapshot[] = [];
  const copies: string[] = [];
  const sub = registry.subscribe('conf', { onSnapshot: (s) => (snapshots.push(s), copies.push(JSON.stringify(s))) });
  await waitFor(() => snapshots.length >= 1, 10_000, `${name}: the first snapshot`);
  assert.deepEqual(snapshots[0]!.providers, [], `${name}: empty at first`);
  const a = await registry.register('conf', providerEntry({ address: '127.0.0.1:21001', incarnation: 'a', weight: 5, metadata: { zone: 'x' } }));
  const b = await registry.register('conf', providerEntry({ address: '127.0.0.1:21002', incarnation: 'b' }));
  const names = () => (snapshots.at(-1)?.providers ?? []).map((p) => p.incarnation).sort().join(',');
  await waitFor(() => names() === 'a,b', 10_000, `${name}: both registered`);
  const listed = snapshots.at(-1)!.providers.find((p) => p.incarnation === 'a')!;
  assert.equal(listed.weight, 5);
  assert.deepEqual({ ...listed.metadata }, { zone: 'x' });
  await a.close();
  await waitFor(() => names() === 'b', 10_000, `${name}: a deregistered`);
  await b.close();
  await waitFor(() => names() === '', 10_000, `${name}: b deregistered`);
  const versions = snapshots.map((s) => s.version);
  for (let i = 1; i < versions.length; i++) assert.ok(versions[i]! > versions[i - 1]!, `${name}: versions grow (${versions.join(', ')})`);
  snapshots.forEach((s, i) => {
    assert.ok(Object.isFrozen(s) && Object.isFrozen(s.providers), `${name}: snapshot ${i} frozen`);
    assert.equal(JSON.stringify(s), copies[i], `${name}: snapshot ${i} unchanged since delivery`);
  });
  sub.close();
  assert.equal(sub.state, 'CLOSED');
}

describe('registries: one contract', { timeout: 120_000 }, () => {
  afterEach(() => stopAll());
  after(() => stopAll());

  it('the static registry', async () => {
    const registry = new StaticRegistry();
    await conformance('static', registry);
    await registry.close();
  });

  it('the embedded registry', async () => {
    const skein = Skein.launch({ testProfile: true, seed: 601 });
    // Closed even when the server fails to start: an open Skein would keep this process alive.
    let server: RegistryServer | undefined;
    try {
      const address = `127.0.0.1:${await freeUdpPortPair()}`;
      server = await RegistryServer.start(skein.client, { address, epochClock: systemEpochClock });
      const registry = new EmbeddedRegistry(skein.client, { address, leaseMs: 1000 });
      try {
        await conformance('embedded', registry);
      } finally {
        await registry.close();
      }
    } finally {
      await server?.close();
      await skein.close();
    }
  });

  it('etcd v3: the contract, a lease that runs out, etcd down and back while a consumer calls its providers', { skip: etcdInstalled() ? false : 'etcd is not installed (Debian package etcd-server; .ci/run installs it)' }, async () => {
    const server = await etcd();
    const skein = Skein.launch({ testProfile: true, seed: 602 });
    const registry = new EtcdRegistry({ hosts: [server.url], leaseTtlSeconds: 2, requestTimeoutMs: 1000 });
    const crashing = new EtcdRegistry({ hosts: [server.url], leaseTtlSeconds: 2, requestTimeoutMs: 1000 });
    let provider: RpcProvider<typeof DemoService.methods> | null = null;
    let consumer: RpcConsumer<typeof DemoService.methods> | null = null;
    try {
      await conformance('etcd', registry);
      // A registration whose owner vanishes goes when its lease runs out.
      const states: RegistryState[] = [];
      const snapshots: ServiceSnapshot[] = [];
      const sub = registry.subscribe('demo', { onSnapshot: (s) => snapshots.push(s), onRegistryState: (s) => states.push(s) });
      await crashing.register('demo', providerEntry({ address: '127.0.0.1:21009', incarnation: 'ghost' }));
      await waitFor(() => snapshots.at(-1)?.providers.length === 1, 10_000, 'the ghost listed');
      crashing.abandon();
      const abandonedAt = Date.now();
      await waitFor(() => snapshots.at(-1)?.providers.length === 0, 10_000, 'the ghost gone with its lease');
      assert.ok(Date.now() - abandonedAt >= 1000, 'not before its lease ran out');
      // A real provider registered in etcd, called through a consumer subscribed to etcd.
      const address = `127.0.0.1:${await freeUdpPortPair()}`;
      provider = await RpcProvider.start(skein.client, { service: DemoService, implementation: demoImplementation('etcd-p', nodeTimers), address, registry, incarnation: 'etcd-p' });
      consumer = RpcConsumer.create(skein.client, DemoService, { registry: new EtcdRegistry({ hosts: [server.url], requestTimeoutMs: 1000 }), seed: 9 });
      assert.equal((await consumer.stub.echo({ text: 'via etcd' }, { timeoutMs: 10_000 })).provider, 'etcd-p');
      // etcd goes down: the consumer says so and keeps calling the provider it knows.
      server.process.signal('SIGKILL');
      await server.process.waitForExit(5000);
      await waitFor(() => consumer!.registryState === 'UNREACHABLE', 15_000, 'the consumer to see etcd unreachable');
      assert.equal((await consumer.stub.echo({ text: 'etcd is down' }, { timeoutMs: 3000 })).provider, 'etcd-p');
      // Back on the same data: CONNECTED again and resynced.
      await server.start();
      await waitFor(() => consumer!.registryState === 'CONNECTED', 20_000, 'the consumer to see etcd again');
      assert.equal(consumer.providers().length, 1);
      sub.close();
      void states;
    } finally {
      consumer?.close();
      await provider?.close();
      await registry.close().catch(() => {});
      await skein.close();
      server.process.signal('SIGKILL');
      rmSync(server.dir, { recursive: true, force: true });
    }
  });
});

