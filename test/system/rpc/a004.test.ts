/**
 * Scenario A004 with real provider processes (`skein rpc serve`) and a consumer in the test
 * process, on 127.0.0.1:
 *
 * - a provider that moves to a new port without a registry notice: the dead address is
 *   quarantined after its retry budget, no more connects go to it, and calls go to the new
 *   address as soon as the registry tells;
 * - a single provider SIGKILLed and restarted on the same address recovers without any
 *   registry event;
 * - three providers behind each balancer, one slow and one killed mid-run: every call succeeds
 *   within its deadline;
 * - deadlines and cancellation reach the provider process (its summary counts them).
 */
import { after, afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Skein } from '../../../src/skein.js';
import { RpcConsumer } from '../../../src/rpc/rpc-consumer.js';
import { StaticRegistry } from '../../../src/rpc/registry.js';
import { DemoService } from '../../../src/rpc/demo-service.js';
import { BALANCER_NAMES } from '../../../src/rpc/balancer.js';
import type { ProviderTransition } from '../../../src/rpc/provider-connection.js';
import { RpcError } from '../../../src/rpc/rpc-status.js';
import { startSkein, stopAll, type StartedProcess } from '../../support/processes.js';
import { freeUdpPortPair, waitFor } from '../../support/wait.js';

async function serve(address: string, incarnation: string, extra: string[] = []): Promise<StartedProcess> {
  const p = startSkein(['rpc', 'serve', '--registry', 'none', '--address', address, '--incarnation', incarnation, '--test-profile', ...extra]);
  await p.waitForLine(/"event":"serving"/, 15_000, 'stdout');
  return p;
}

/** Every Skein a test launched, closed after it even when it failed before its own close. */
const launched: Skein[] = [];

function launch(seed: number): Skein {
  const skein = Skein.launch({ testProfile: true, seed });
  launched.push(skein);
  return skein;
}

async function closeLaunched(): Promise<void> {
  for (const skein of launched.splice(0)) await skein.close();
}

async function freeAddress(): Promise<string> {
  return `127.0.0.1:${await freeUdpPortPair()}`;
}

describe('A004: the connection holder against real provider processes', { timeout: 180_000 }, () => {
  afterEach(async () => {
    await stopAll();
    await closeLaunched();
  });
  after(() => stopAll());

  it('a provider that moves without a registry notice is quarantined after its retry budget; calls go to the new address once the registry tells', async () => {
    const skein = launch(501);
    const oldAddress = await freeAddress();
    const newAddress = await freeAddress();
    const registry = new StaticRegistry({ demo: [{ address: oldAddress, incarnation: '' }] });
    const transitions: ProviderTransition[] = [];
    const consumer = RpcConsumer.create(skein.client, DemoService, {
      registry, seed: 5, onProviderTransition: (t) => transitions.push(t),
      holder: { maxConnectAttempts: 5, minDeadTimeMs: 3000, backoffInitialMs: 100, backoffMaxMs: 1000, connectTimeoutMs: 500 },
      link: { heartbeatIntervalMs: 200, heartbeatTimeoutMs: 1000 },
    });
    try {
      const first = await serve(oldAddress, 'a');
      assert.equal((await consumer.stub.echo({ text: 'one' }, { timeoutMs: 5000 })).provider, 'a');
      // The provider moves: killed here, started on another port; the registry is not told.
      first.signal('SIGKILL');
      await serve(newAddress, 'b');
      const movedAt = Date.now();
      await waitFor(() => transitions.some((t) => t.address === oldAddress && t.to === 'QUARANTINED'), 20_000, 'the old address to be quarantined');
      const quarantinedAfterMs = Date.now() - movedAt;
      assert.ok(quarantinedAfterMs >= 3000 && quarantinedAfterMs <= 3000 + 1200 + 500 + 2000, `quarantined ${quarantinedAfterMs} ms after the move`);
      const connects = () => transitions.filter((t) => t.address === oldAddress && t.to === 'CONNECTING').length;
      const attempts = connects();
      assert.ok(attempts <= 12, `${attempts} connects to the dead address`);
      const failed = await consumer.stub.echo({ text: 'nobody' }, { timeoutMs: 300 }).then(() => null, (e: RpcError) => e);
      assert.equal(failed?.code, 'ERR_SKEIN_RPC_UNAVAILABLE');
      assert.match(failed!.message, /QUARANTINED=1/);
      await new Promise((r) => setTimeout(r, 2000));
      assert.equal(connects(), attempts, 'no connects while quarantined');
      // The registry tells: calls go to the new address.
      registry.set('demo', [{ address: newAddress, incarnation: '' }]);
      assert.equal((await consumer.stub.echo({ text: 'two' }, { timeoutMs: 5000 })).provider, 'b');
      assert.equal(consumer.providers().length, 1, 'the old provider is forgotten');
    } finally {
      consumer.close();
      await skein.close();
    }
  });

  it('a single provider SIGKILLed and restarted on the same address recovers without a registry event', async () => {
    const skein = launch(502);
    const address = await freeAddress();
    const registry = new StaticRegistry({ demo: [{ address, incarnation: '' }] });
    const consumer = RpcConsumer.create(skein.client, DemoService, { registry, seed: 6, holder: { backoffInitialMs: 100, backoffMaxMs: 1000 }, link: { heartbeatIntervalMs: 200, heartbeatTimeoutMs: 1000 } });
    try {
      const first = await serve(address, 'first');
      assert.equal((await consumer.stub.echo({ text: 'x' }, { timeoutMs: 5000 })).provider, 'first');
      first.signal('SIGKILL');
      await waitFor(() => consumer.state !== 'READY', 5000, 'the loss to be noticed');
      await new Promise((r) => setTimeout(r, 1000));
      await serve(address, 'second');
      const restartedAt = Date.now();
      let answer: string | null = null;
      while (answer === null && Date.now() - restartedAt < 10_000) {
        answer = await consumer.stub.echo({ text: 'y' }, { timeoutMs: 1000 }).then((a) => a.provider, () => null);
      }
      assert.equal(answer, 'second');
      const recoveredMs = Date.now() - restartedAt;
      assert.ok(recoveredMs <= 1000 + 1200 + 1000, `recovered ${recoveredMs} ms after the restart (backoff max 1 s + jitter, connect)`);
      assert.equal(registry.snapshot('demo')!.version, 1, 'no registry event was needed');
    } finally {
      consumer.close();
      await skein.close();
    }
  });

  it('three providers, one slow and one killed mid-run: calls succeed within their deadlines behind every balancer; deadlines and cancels reach the provider', async () => {
    for (const balancer of BALANCER_NAMES) {
      const skein = launch(503);
      const addresses = [await freeAddress(), await freeAddress(), await freeAddress()];
      const providers = [await serve(addresses[0]!, 'fast'), await serve(addresses[1]!, 'slow', ['--delay-ms', '150']), await serve(addresses[2]!, 'doomed')];
      const registry = new StaticRegistry({ demo: addresses.map((address) => ({ address, incarnation: '' })) });
      const consumer = RpcConsumer.create(skein.client, DemoService, { registry, balancer, seed: 7, link: { heartbeatIntervalMs: 200, heartbeatTimeoutMs: 1000 } });
      try {
        await waitFor(() => consumer.providers().filter((p) => p.state === 'READY').length === 3, 10_000, `three READY providers (${balancer})`);
        let done = 0;
        const failures: string[] = [];
        const worker = async (w: number): Promise<void> => {
          for (let i = 0; i < 40; i++) {
            const started = Date.now();
            try {
              await consumer.stub.echo({ text: `${w}-${i}` }, { timeoutMs: 3000, key: `k${i}` });
              assert.ok(Date.now() - started <= 3100);
            } catch (error) {
              failures.push(`${(error as Error).message}`);
            }
            if (++done === 40) providers[2]!.signal('SIGKILL');
          }
        };
        await Promise.all([0, 1, 2, 3].map((w) => worker(w)));
        assert.deepEqual(failures, [], `every call succeeded behind ${balancer}`);
      } finally {
        consumer.close();
        await skein.close();
        for (const p of providers) p.signal('SIGKILL');
      }
    }
    // Deadlines and cancellation reach a provider process: its summary counts them.
    const skein = launch(504);
    const address = await freeAddress();
    const provider = await serve(address, 'p');
    const consumer = RpcConsumer.create(skein.client, DemoService, { registry: new StaticRegistry({ demo: [{ address, incarnation: '' }] }), seed: 8 });
    try {
      const late = await consumer.stub.sleep({ ms: 5000 }, { timeoutMs: 300 }).then(() => null, (e: RpcError) => e);
      assert.equal(late?.code, 'ERR_SKEIN_RPC_DEADLINE_EXCEEDED');
      const controller = new AbortController();
      const pending = consumer.stub.sleep({ ms: 5000 }, { signal: controller.signal, timeoutMs: 10_000 }).then(() => null, (e: RpcError) => e);
      setTimeout(() => controller.abort(new Error('enough')), 200);
      assert.equal((await pending)?.code, 'ERR_SKEIN_RPC_CANCELLED');
      await new Promise((r) => setTimeout(r, 300));
      provider.signal('SIGINT');
      const summaryLine = await provider.waitForLine(/"calls":/, 15_000, 'stdout');
      const summary = JSON.parse(summaryLine) as { deadlineExceeded: number; cancelled: number };
      assert.equal(summary.deadlineExceeded + summary.cancelled, 2, `the provider stopped both calls: ${summaryLine}`);
      assert.ok(summary.cancelled >= 1, summaryLine);
    } finally {
      consumer.close();
      await skein.close();
    }
  });
});
