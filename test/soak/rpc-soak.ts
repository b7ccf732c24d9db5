/**
 * The RPC soak (`npm run soak -- --rpc --minutes N`): for the whole run, in one process,
 *
 * - a connection holder over 1,000 providers that flap (killed, restarted with a new incarnation,
 *   moved without a registry notice, drained), on in-memory links (test/support/fake-links.ts),
 *   with registry snapshots following about half of the changes; and
 * - a real consumer on an embedded Skein calling providers on real sockets, `providers` of them,
 *   one of which is closed and started again (a new incarnation, the registry told) every
 *   `restartMs`.
 *
 * Heap in use (after a forced garbage collection when available) and active handles are sampled
 * every `sampleMs`; at the end the growth check of the stream soak (test/soak/soak-runner.ts)
 * judges them: the memory and handles of flapping providers must stay flat. Calls that fail
 * while their provider restarts are counted, not judged; every provider must be READY at the end.
 */
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import { Skein } from '../../src/skein.js';
import { SeededPrng } from '../../src/env/prng.js';
import { ConnectionHolder } from '../../src/rpc/connection-holder.js';
import { providerEntry, serviceSnapshot, StaticRegistry } from '../../src/rpc/registry.js';
import { RpcProvider } from '../../src/rpc/rpc-provider.js';
import { RpcConsumer } from '../../src/rpc/rpc-consumer.js';
import { DemoService, demoImplementation } from '../../src/rpc/demo-service.js';
import { nodeTimers } from '../../src/env/timers.js';
import { freeUdpPortPair } from '../../src/cli/free-port.js';
import { FakeLinks } from '../support/fake-links.js';
import { growthProblems, type SoakRow } from './soak-runner.js';

export interface RpcSoakOptions {
  readonly durationMs: number;
  /** Providers in the holder on in-memory links. @default 1000 */
  readonly simulatedProviders?: number;
  /** Real providers the consumer calls. @default 4 */
  readonly providers?: number;
  /** One real provider is restarted this often. @default 2000 */
  readonly restartMs?: number;
  /** @default 5000 */
  readonly sampleMs?: number;
  readonly seed?: number;
  readonly log?: (line: string) => void;
}

export interface RpcSoakResult {
  readonly ok: boolean;
  readonly problems: string[];
  readonly rows: SoakRow[];
  readonly figures: Record<string, number>;
}

/** The garbage collector as a function (exposed at run time), or a no-op where it cannot be. */
export function forceGc(): () => void {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as (() => void) | undefined;
  return typeof gc === 'function' ? gc : () => {};
}

function activeHandles(): number {
  return (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles().length;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function runRpcSoak(options: RpcSoakOptions): Promise<RpcSoakResult> {
  const log = options.log ?? (() => {});
  const simulated = options.simulatedProviders ?? 1000;
  const realCount = options.providers ?? 4;
  const restartMs = options.restartMs ?? 2000;
  const sampleMs = options.sampleMs ?? 5000;
  const rng = new SeededPrng(options.seed ?? 1);
  const gc = forceGc();
  const problems: string[] = [];

  // The simulated holder: 1,000 flapping providers, stepped by the wall clock.
  const start = performance.now();
  const nowNs = (): number => Math.round((performance.now() - start) * 1e6);
  const links = new FakeLinks(nowNs, rng.fork(), 200_000, 1_000_000_000);
  const holder = new ConnectionHolder({ service: 'soak', links, prng: rng.fork(), nanoTime: nowNs }, { maxConnectAttempts: 4, minDeadTimeMs: 2000, backoffInitialMs: 20, backoffMaxMs: 500, connectTimeoutMs: 200, drainTimeoutMs: 100 });
  const entries: { address: string; incarnation: number }[] = [];
  for (let i = 0; i < simulated; i++) {
    const address = `10.0.${i >> 8}.${i & 0xff}:20000`;
    entries.push({ address, incarnation: 1 });
    links.start(address, '1');
  }
  let version = 0;
  const publish = (): void => holder.applySnapshot(serviceSnapshot('soak', ++version, entries.map((e) => providerEntry({ address: e.address, incarnation: String(e.incarnation) }))));
  publish();

  // The real consumer and providers.
  const skein = Skein.launch({ driver: { publishSnapshots: false } });
  const registry = new StaticRegistry();
  const real: { provider: RpcProvider<typeof DemoService.methods>; address: string; incarnation: number }[] = [];
  const listReal = (): void => void registry.set('demo', real.map((r) => ({ address: r.address, incarnation: String(r.incarnation) })));
  for (let i = 0; i < realCount; i++) {
    const address = `127.0.0.1:${await freeUdpPortPair()}`;
    real.push({ address, incarnation: 1, provider: await RpcProvider.start(skein.client, { service: DemoService, implementation: demoImplementation(`p${i}`, nodeTimers), address, incarnation: '1' }) });
  }
  listReal();
  const consumer = RpcConsumer.create(skein.client, DemoService, { registry, seed: options.seed ?? 1, link: { heartbeatIntervalMs: 200, heartbeatTimeoutMs: 1000 }, holder: { backoffInitialMs: 50, backoffMaxMs: 500 } });

  const figures: Record<string, number> = { calls: 0, callFailures: 0, restarts: 0, simulatedChanges: 0, snapshots: 0 };
  const rows: SoakRow[] = [];
  let running = true;
  const caller = (async () => {
    while (running) {
      const results = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => consumer.stub.echo({ text: `soak ${i}` }, { timeoutMs: 1000 })));
      for (const r of results) {
        figures.calls!++;
        if (r.status === 'rejected') figures.callFailures!++;
      }
      await sleep(5);
    }
  })();

  const endAt = performance.now() + options.durationMs;
  let nextRestart = performance.now() + restartMs;
  let nextSample = performance.now();
  let restartIndex = 0;
  while (performance.now() < endAt) {
    // Flap about 1 % of the simulated providers every 10 ms.
    for (let k = 0; k < simulated / 100; k++) {
      const e = entries[rng.nextInt(entries.length)]!;
      switch (rng.nextInt(4)) {
        case 0:
          links.kill(e.address);
          break;
        case 1:
          e.incarnation++;
          links.start(e.address, String(e.incarnation));
          break;
        case 2:
          links.set(e.address, links.isUp(e.address) ? 'frozen' : 'up');
          break;
        default:
          links.start(e.address, String(e.incarnation));
      }
      figures.simulatedChanges!++;
    }
    if (rng.nextBoolean(0.5)) {
      publish();
      figures.snapshots!++;
    }
    for (let t = 0; t < 10; t++) {
      const n = nowNs();
      links.doWork(n);
      holder.doWork(n);
    }
    if (performance.now() >= nextRestart) {
      nextRestart += restartMs;
      const r = real[restartIndex++ % real.length]!;
      r.provider.closeNow();
      r.incarnation++;
      r.provider = await RpcProvider.start(skein.client, { service: DemoService, implementation: demoImplementation(`p${restartIndex}`, nodeTimers), address: r.address, incarnation: String(r.incarnation) });
      listReal();
      figures.restarts!++;
    }
    if (performance.now() >= nextSample) {
      nextSample += sampleMs;
      gc();
      const sample = { heapUsed: process.memoryUsage().heapUsed, handles: activeHandles() };
      const atMs = Math.round(performance.now() - start);
      rows.push({ atMs, cells: [sample] });
      log(`${String(Math.round(atMs / 1000)).padStart(5)} s  heap ${(sample.heapUsed / 2 ** 20).toFixed(1)} MiB  handles ${sample.handles}  holder links ${links.openCount}  READY ${holder.countIn('READY')} QUARANTINED ${holder.countIn('QUARANTINED')}  calls ${figures.calls} failed ${figures.callFailures}`);
    }
    await sleep(10);
  }
  running = false;
  await caller;

  // Everything real recovers: each provider READY within a few seconds of the last restart.
  const settleBy = performance.now() + 5000;
  while (performance.now() < settleBy && consumer.providers().filter((p) => p.state === 'READY').length < realCount) await sleep(20);
  const ready = consumer.providers().filter((p) => p.state === 'READY').length;
  if (ready !== realCount) problems.push(`${ready} of ${realCount} real providers READY at the end: ${consumer.describe()}`);
  const viewOpen = holder.providerObjects.filter((p) => p.hasLink).length;
  if (links.openCount !== viewOpen) problems.push(`the simulated holder has ${links.openCount} links open but ${viewOpen} providers holding one`);
  problems.push(...growthProblems(['rpc soak process'], rows, { durationMs: options.durationMs, handleGrowthMax: 8 }));
  figures.quarantineTransitions = holder.transitionsTo.get('QUARANTINED') ?? 0;
  figures.readyTransitions = holder.transitionsTo.get('READY') ?? 0;

  consumer.close();
  holder.close();
  if (links.openCount !== 0) problems.push(`${links.openCount} simulated links left open after close`);
  for (const r of real) await r.provider.close();
  await skein.close();
  return { ok: problems.length === 0, problems, rows, figures };
}
