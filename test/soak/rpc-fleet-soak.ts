/**
 * The RPC fleet soak (`npm run soak -- --rpc-fleet --minutes N`): `providers` real demo providers
 * (1,000 by default) on loopback UDP, spread over `hosts` processes with an embedded Skein each
 * (test/fixtures/rpc-fleet-host.ts), and one consumer in this process that holds a link to every
 * one of them and calls them all the time.
 *
 * Once every provider is READY, the hosts flap their providers for the run (restarted with a new
 * incarnation, moved to a new port pair, killed and brought back), about `flapsPerSecond` changes
 * a second in all; this process tells the consumer's registry what a host marks as told and leaves
 * the rest (a provider that moved or died without a registry notice) for the connection holder to
 * find out, until the host announces it. Every `freezeEveryMs` one host is stopped with SIGSTOP for
 * `freezeMs` (all its providers frozen at once) and continued.
 *
 * Judged at the end:
 * - heap (after a forced garbage collection) and handles of the consumer and of every host stay
 *   flat, as in the stream soak (test/soak/soak-runner.ts, growthProblems);
 * - once the hosts have settled and the registry lists every provider where it is, the consumer
 *   sees exactly those providers, every one READY (everything stale evicted and released);
 * - the counters allocated in the consumer's driver and in each host's driver come back to what
 *   they were when every provider was first READY (no publication, image or subscription leaked);
 * - SIGTERM closes every host cleanly (exit code 0).
 * Calls that fail while their provider flaps are counted, not judged.
 */
import { Skein } from '../../src/skein.js';
import { StaticRegistry } from '../../src/rpc/registry.js';
import { RpcConsumer } from '../../src/rpc/rpc-consumer.js';
import { DemoService } from '../../src/rpc/demo-service.js';
import { startFixture, type FixtureEvent, type FixtureProcess } from '../support/system-processes.js';
import { growthProblems, type ResourceSample, type SoakRow } from './soak-runner.js';
import { forceGc } from './rpc-soak.js';

export interface RpcFleetSoakOptions {
  /** How long the providers flap. */
  readonly durationMs: number;
  /** @default 1000 */
  readonly providers?: number;
  /** Processes the providers are spread over. @default 4 */
  readonly hosts?: number;
  /** Changes a second over all hosts. @default 20 */
  readonly flapsPerSecond?: number;
  /** @default 5000 */
  readonly sampleMs?: number;
  /** One host is frozen this often; 0: never. @default 15000 */
  readonly freezeEveryMs?: number;
  /** @default 2000 */
  readonly freezeMs?: number;
  /** Calls kept in flight. @default 16 */
  readonly concurrency?: number;
  readonly seed?: number;
  readonly log?: (line: string) => void;
}

export interface RpcFleetSoakResult {
  readonly ok: boolean;
  readonly problems: string[];
  readonly rows: SoakRow[];
  readonly figures: Record<string, number>;
}

interface HostEntry {
  address: string;
  incarnation: string;
}

interface HostState {
  readonly process: FixtureProcess;
  /** Events handled so far. */
  cursor: number;
  /** What the registry lists for this host, by provider index. */
  readonly listed: Map<number, HostEntry>;
  lastSample: (ResourceSample & { counters: number }) | null;
  firstCounters: number | null;
  settled: FixtureEvent | null;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function activeHandles(): number {
  return process.getActiveResourcesInfo().length;
}

/** Waits until `done()` or `timeoutMs` passed; true when done. */
async function waitUntil(done: () => boolean, timeoutMs: number, stepMs = 50): Promise<boolean> {
  const until = performance.now() + timeoutMs;
  while (!done()) {
    if (performance.now() >= until) return false;
    await sleep(stepMs);
  }
  return true;
}

/** Driver options sized for a thousand links: small terms, counters for every publication and image. */
const FLEET_DRIVER = { publishSnapshots: false, termBufferLength: 65536, countersCapacity: 32768 } as const;

/** Runs the soak; every host it started is stopped by pid before it returns, whatever happened. */
export async function runRpcFleetSoak(options: RpcFleetSoakOptions): Promise<RpcFleetSoakResult> {
  const log = options.log ?? (() => {});
  const providerCount = options.providers ?? 1000;
  const hostCount = Math.min(options.hosts ?? 4, providerCount);
  const flapsPerSecond = options.flapsPerSecond ?? 20;
  const sampleMs = options.sampleMs ?? 5000;
  const freezeEveryMs = options.freezeEveryMs ?? 15_000;
  const freezeMs = options.freezeMs ?? 2000;
  const concurrency = options.concurrency ?? 16;
  const seed = options.seed ?? 1;
  const gc = forceGc();
  const problems: string[] = [];
  const figures: Record<string, number> = { providers: providerCount, hosts: hostCount, calls: 0, callFailures: 0, changes: 0, untold: 0, announcements: 0, snapshots: 0, freezes: 0 };
  const rows: SoakRow[] = [];
  const hosts: HostState[] = [];
  let skein: Skein | null = null;
  let consumer: RpcConsumer<typeof DemoService.methods> | null = null;
  let frozen: HostState | null = null;
  const start = performance.now();
  const history = new Map<string, string[]>();
  const elapsed = (): string => `${((performance.now() - start) / 1000).toFixed(1)} s`;
  try {
    for (let h = 0; h < hostCount; h++) {
      const share = Math.floor(providerCount / hostCount) + (h < providerCount % hostCount ? 1 : 0);
      const child = startFixture('rpc-fleet-host', {
        host: h, providers: share, seed: seed * 131 + h, flapMs: options.durationMs, flapsPerSecond: flapsPerSecond / hostCount, sampleMs, driver: FLEET_DRIVER,
      });
      hosts.push({ process: child, cursor: 0, listed: new Map(), lastSample: null, firstCounters: null, settled: null });
    }
    for (const host of hosts) {
      const up = await host.process.waitForEvent('up', 180_000);
      for (const p of up.providers as { index: number; address: string; incarnation: string }[]) host.listed.set(p.index, { address: p.address, incarnation: p.incarnation });
    }
    log(`${elapsed()}  ${providerCount} providers up in ${hostCount} processes`);

    const registry = new StaticRegistry();
    const publish = (): void => {
      const list: HostEntry[] = [];
      for (const host of hosts) for (const entry of host.listed.values()) list.push(entry);
      registry.set('demo', list);
      figures.snapshots!++;
    };
    publish();
    skein = Skein.launch({ driver: FLEET_DRIVER, env: {} });
    consumer = RpcConsumer.create(skein.client, DemoService, {
      registry,
      seed,
      link: { heartbeatIntervalMs: 500, heartbeatTimeoutMs: 1500 },
      holder: { connectTimeoutMs: 1000, backoffInitialMs: 100, backoffMaxMs: 2000, maxConnectAttempts: 4, minDeadTimeMs: 2000 },
      onProviderTransition: (t) => {
        // The last few transitions of each provider, for the report of one that ends wrong.
        const list = history.get(t.id) ?? [];
        list.push(`${elapsed()} ${t.from}->${t.to}: ${t.reason}`);
        if (list.length > 12) list.shift();
        history.set(t.id, list);
      },
    });
    const c = consumer;
    const readyCount = (): number => c.providers().filter((p) => p.state === 'READY').length;
    const stateSummary = (): string => {
      const states = new Map<string, number>();
      for (const p of c.providers()) states.set(p.state, (states.get(p.state) ?? 0) + 1);
      return [...states].map(([state, n]) => `${state} ${n}`).join(' ');
    };
    let nextProgress = performance.now() + 5000;
    const allReady = await waitUntil(() => {
      if (performance.now() >= nextProgress) {
        nextProgress += 5000;
        log(`${elapsed()}  consumer connecting: ${stateSummary()}; e.g. ${JSON.stringify(c.providers().find((p) => p.state !== 'READY'))}`);
      }
      return readyCount() === providerCount;
    }, 180_000, 100);
    if (!allReady) {
      problems.push(`only ${readyCount()} of ${providerCount} providers READY 180 s after the start: ${stateSummary()}`);
      return { ok: false, problems, rows, figures };
    }
    log(`${elapsed()}  consumer: all ${providerCount} providers READY`);
    gc();
    // The baselines: counters once every link is up and nothing connecting lingers, and each host's next sample.
    await sleep(2000);
    const firstConsumerCounters = skein.driver.counters.allocatedCount;
    const sampledBefore = hosts.map((h) => h.process.all('sample').length);
    await waitUntil(() => hosts.every((h, i) => h.process.all('sample').length > sampledBefore[i]!), sampleMs * 3);

    // Reads each host's new events: registry changes, samples, the settled list.
    const readEvents = (): void => {
      let changed = false;
      for (const host of hosts) {
        while (host.cursor < host.process.events.length) {
          const e = host.process.events[host.cursor++]!;
          if (e.event === 'change') {
            figures.changes!++;
            if (e.told !== true) {
              figures.untold!++;
              continue;
            }
            if (e.address === null) host.listed.delete(e.index as number);
            else host.listed.set(e.index as number, { address: e.address as string, incarnation: e.incarnation as string });
            changed = true;
          } else if (e.event === 'announce' && e.address !== null) {
            figures.announcements!++;
            host.listed.set(e.index as number, { address: e.address as string, incarnation: e.incarnation as string });
            changed = true;
          } else if (e.event === 'sample') {
            host.lastSample = { heapUsed: e.heapUsed as number, handles: e.handles as number, counters: e.counters as number };
          } else if (e.event === 'settled') {
            host.settled = e;
            host.listed.clear();
            for (const p of e.providers as { index: number; address: string; incarnation: string }[]) host.listed.set(p.index, { address: p.address, incarnation: p.incarnation });
            changed = true;
          } else if (e.event === 'error' || e.event === 'provider-error' || e.event === 'driver-error') {
            problems.push(`host ${hosts.indexOf(host)}: ${e.event}: ${String(e.message)}`);
          }
        }
      }
      if (changed) publish();
    };
    readEvents();
    for (const host of hosts) host.firstCounters = host.lastSample?.counters ?? null;

    let calling = true;
    const callers = Array.from({ length: concurrency }, async (_, i) => {
      while (calling) {
        try {
          await c.stub.echo({ text: `fleet ${i}` }, { timeoutMs: 1000 });
        } catch {
          figures.callFailures!++;
        }
        figures.calls!++;
      }
    });

    for (const host of hosts) host.process.signal('SIGUSR1');
    const endAt = performance.now() + options.durationMs;
    let nextSample = performance.now() + sampleMs;
    let nextFreeze = freezeEveryMs > 0 ? performance.now() + freezeEveryMs / 2 : Infinity;
    let thawAt = Infinity;
    let freezeIndex = 0;
    while (performance.now() < endAt) {
      readEvents();
      const now = performance.now();
      if (frozen === null && now >= nextFreeze && now + freezeMs < endAt) {
        frozen = hosts[freezeIndex++ % hosts.length]!;
        frozen.process.signal('SIGSTOP');
        figures.freezes!++;
        thawAt = now + freezeMs;
        nextFreeze += freezeEveryMs;
      }
      if (frozen !== null && now >= thawAt) {
        frozen.process.signal('SIGCONT');
        frozen = null;
      }
      if (now >= nextSample) {
        nextSample += sampleMs;
        gc();
        const atMs = Math.round(now - start);
        rows.push({ atMs, cells: [{ heapUsed: process.memoryUsage().heapUsed, handles: activeHandles() }, ...hosts.map((h) => h.lastSample)] });
        log(`${elapsed()}  consumer heap ${(process.memoryUsage().heapUsed / 2 ** 20).toFixed(1)} MiB handles ${activeHandles()} counters ${skein.driver.counters.allocatedCount}  providers ${stateSummary()}  calls ${figures.calls} failed ${figures.callFailures}  changes ${figures.changes} (untold ${figures.untold})`);
      }
      await sleep(20);
    }
    if (frozen !== null) {
      frozen.process.signal('SIGCONT');
      frozen = null;
    }

    // Settle: every host brings its providers up and lists them; the consumer must see exactly those, READY.
    const settledInTime = await waitUntil(() => {
      readEvents();
      return hosts.every((h) => h.settled !== null);
    }, 60_000);
    if (!settledInTime) problems.push(`hosts ${hosts.filter((h) => h.settled === null).map((h) => hosts.indexOf(h)).join(', ')} did not settle within 60 s of the end of the run`);
    const expected = new Set<string>();
    for (const host of hosts) for (const e of host.listed.values()) expected.add(`${e.address}/${e.incarnation}`);
    const matches = (): boolean => {
      const seen = c.providers();
      return seen.length === expected.size && seen.every((p) => p.state === 'READY' && expected.has(`${p.address}/${p.incarnation}`));
    };
    const t0 = performance.now();
    if (!(await waitUntil(matches, 60_000, 100))) {
      const seen = c.providers();
      const wrong = seen.filter((p) => p.state !== 'READY' || !expected.has(`${p.address}/${p.incarnation}`)).slice(0, 5);
      problems.push(`60 s after the hosts settled the consumer holds ${seen.length} providers (expected ${expected.size}), ${seen.filter((p) => p.state === 'READY').length} READY; e.g. ${JSON.stringify(wrong)}; their last transitions: ${wrong.map((p) => `\n${p.id}:\n  ${(history.get(p.id) ?? []).join('\n  ')}`).join('')}`);
    } else {
      figures.settleMs = Math.round(performance.now() - t0);
      log(`${elapsed()}  consumer: exactly the ${expected.size} listed providers, all READY, ${figures.settleMs} ms after the hosts settled`);
    }
    calling = false;
    await Promise.all(callers);

    // Counters back where they were when everything was first READY (lingering resources go within seconds).
    const s = skein;
    if (!(await waitUntil(() => s.driver.counters.allocatedCount === firstConsumerCounters, 30_000, 200))) {
      problems.push(`the consumer's driver has ${s.driver.counters.allocatedCount} counters allocated, ${firstConsumerCounters} when every provider was first READY`);
    }
    figures.consumerCounters = s.driver.counters.allocatedCount;
    const hostsSettledCounters = await waitUntil(() => {
      readEvents();
      return hosts.every((h) => h.lastSample !== null && h.lastSample.counters === h.firstCounters);
    }, 30_000, 200);
    if (!hostsSettledCounters) {
      for (const h of hosts) if (h.lastSample?.counters !== h.firstCounters) problems.push(`host ${hosts.indexOf(h)}'s driver has ${h.lastSample?.counters} counters allocated, ${h.firstCounters} at the start`);
    }

    problems.push(...growthProblems(['consumer', ...hosts.map((_, i) => `host ${i}`)], rows, { durationMs: rows.at(-1)?.atMs ?? options.durationMs, warmUpFraction: 0.2, heapGrowthRatioMax: 0.1, heapGrowthBytesMax: 8 * 2 ** 20, handleGrowthMax: 16 }));

    for (const host of hosts) host.process.signal('SIGTERM');
    for (const [i, host] of hosts.entries()) {
      try {
        const status = await host.process.waitForExit(30_000);
        if (status.code !== 0 || host.process.find('closed') === undefined) problems.push(`host ${i} did not close cleanly on SIGTERM: ${host.process.describe()}`);
      } catch (error) {
        problems.push(`host ${i}: ${String(error)}`);
      }
    }
    return { ok: problems.length === 0, problems, rows, figures };
  } finally {
    if (frozen !== null) frozen.process.signal('SIGCONT');
    consumer?.close();
    await skein?.close();
    await Promise.allSettled(hosts.map((h) => h.process.kill()));
  }
}
