/**
 * The connection holder under a seeded storm: providers appear, die, freeze, drain, restart on
 * their address or move to another one (with and without telling the registry), flap, names stop
 * resolving, the registry goes away and comes back, calls start and end. After every 1 ms step
 * the holder's invariants are checked:
 *
 * - every provider is in exactly one state, and the per-state counts match the providers (the
 *   count of CLOSED ones is 0: none is kept);
 * - the pick list is exactly the READY providers (DEGRADED ones only when none is READY);
 * - a provider holds a link exactly in CONNECTING, READY, DEGRADED and DRAINING, and the links
 *   open on the fake network are exactly those (nothing closed is still open);
 * - no CLOSED provider is kept; a provider the registry no longer lists is DRAINING;
 * - states with a timer have one (CONNECTING, BACKOFF, DEGRADED, DRAINING), READY none, IDLE
 *   only while it waits for a connect slot; a provider waits only in IDLE, BACKOFF or QUARANTINED,
 *   and never more than maxConnecting are CONNECTING;
 * - a QUARANTINED provider opens no link while quarantined (no eager retries).
 *
 * At the end `close()` leaves no link, provider or timer. The same seed replays the same run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { SeededPrng } from '../../src/env/prng.js';
import { ConnectionHolder } from '../../src/rpc/connection-holder.js';
import { holdsLink, type ProviderConnection } from '../../src/rpc/provider-connection.js';
import { providerEntry, serviceSnapshot, type ServiceSnapshot } from '../../src/rpc/registry.js';
import { FakeLinks } from '../support/fake-links.js';

const MS = 1_000_000;

interface Known {
  address: string;
  incarnation: number;
  listed: boolean;
}

function checkInvariants(holder: ConnectionHolder, links: FakeLinks, quarantinedOpens: Map<string, number>, step: number): void {
  const where = `step ${step}`;
  const providers = holder.providerObjects;
  const counts = new Map<string, number>();
  let withLink = 0;
  for (const p of providers) {
    counts.set(p.state, (counts.get(p.state) ?? 0) + 1);
    assert.notEqual(p.state, 'CLOSED', `${where}: a CLOSED provider is kept (${p.id})`);
    assert.equal(p.hasLink, holdsLink(p.state), `${where}: ${p.id} in ${p.state} ${p.hasLink ? 'holds' : 'lacks'} a link`);
    if (p.hasLink) withLink++;
    if (!p.listed) assert.equal(p.state, 'DRAINING', `${where}: unlisted ${p.id} is ${p.state}`);
    const timed = p.state === 'CONNECTING' || p.state === 'BACKOFF' || p.state === 'DEGRADED' || p.state === 'DRAINING';
    if (timed) assert.ok(p.timerDeadlineNs >= 0, `${where}: ${p.id} in ${p.state} without a timer`);
    if (p.state === 'READY' || (p.state === 'IDLE' && !p.waitingToConnect)) assert.equal(p.timerDeadlineNs, -1, `${where}: ${p.id} in ${p.state} with a timer`);
    if (p.waitingToConnect) {
      assert.ok(p.state === 'IDLE' || p.state === 'BACKOFF' || p.state === 'QUARANTINED', `${where}: ${p.id} waits for a connect slot in ${p.state}`);
      assert.ok(p.timerDeadlineNs >= 0, `${where}: ${p.id} waits for a connect slot without a timer`);
    }
    if (p.state === 'QUARANTINED') {
      const opens = links.openedTo.get(p.address) ?? 0;
      const before = quarantinedOpens.get(p.id);
      if (before === undefined) quarantinedOpens.set(p.id, opens);
      else assert.equal(opens, before, `${where}: quarantined ${p.id} opened a link`);
    } else quarantinedOpens.delete(p.id);
  }
  for (const state of ['IDLE', 'CONNECTING', 'READY', 'DEGRADED', 'BACKOFF', 'DRAINING', 'QUARANTINED', 'CLOSED'] as const) {
    assert.equal(holder.countIn(state), counts.get(state) ?? 0, `${where}: count of ${state}`);
  }
  assert.equal(links.openCount, withLink, `${where}: links open on the network vs held by providers`);
  assert.ok(holder.countIn('CONNECTING') <= MAX_CONNECTING, `${where}: ${holder.countIn('CONNECTING')} CONNECTING at once (maxConnecting=${MAX_CONNECTING})`);
  const ready = providers.filter((p) => p.state === 'READY');
  const expected = ready.length > 0 ? ready : providers.filter((p) => p.state === 'DEGRADED');
  assert.deepEqual(new Set(holder.pickable()), new Set(expected), `${where}: the pick list`);
}

/** Low enough that the storm's connects queue for slots. */
const MAX_CONNECTING = 8;

function run(seed: number, steps: number): { trace: string; stats: Record<string, number> } {
  let now = 0;
  const world = new SeededPrng(seed);
  const links = new FakeLinks(() => now, world.fork(), 300_000, 2_000_000_000);
  const transitions: string[] = [];
  const holder = new ConnectionHolder(
    { service: 'kv', links, prng: world.fork(), nanoTime: () => now, onTransition: (t) => transitions.push(`${t.atNs} ${t.id} ${t.from}>${t.to}`) },
    { connectTimeoutMs: 300, backoffInitialMs: 50, backoffMaxMs: 2000, maxConnectAttempts: 6, minDeadTimeMs: 3000, ejectConsecutiveFailures: 3, ejectionBaseMs: 500, drainTimeoutMs: 400, maxConnecting: MAX_CONNECTING },
  );
  const rng = world.fork();
  const known: Known[] = [];
  let version = 0;
  let nextPort = 21000;
  let registryUp = true;
  const inFlight: { provider: ProviderConnection; endsNs: number; ok: boolean }[] = [];
  const quarantinedOpens = new Map<string, number>();
  const publish = () => {
    if (!registryUp) return;
    holder.applySnapshot(serviceSnapshot('kv', ++version, known.filter((k) => k.listed).map((k) => providerEntry({ address: k.address, incarnation: String(k.incarnation) }))));
  };
  const stats: Record<string, number> = {};
  const count = (what: string) => (stats[what] = (stats[what] ?? 0) + 1);

  for (let step = 0; step < steps; step++) {
    now += MS;
    if (rng.nextBoolean(0.01)) {
      const event = rng.nextInt(10);
      const k = known.length > 0 ? known[rng.nextInt(known.length)]! : undefined;
      switch (event) {
        case 0: { // a provider appears and registers
          const entry = { address: `127.0.0.${1 + rng.nextInt(3)}:${nextPort++}`, incarnation: 1, listed: true };
          known.push(entry);
          links.start(entry.address, '1');
          publish();
          count('appear');
          break;
        }
        case 1: // killed (the registry is not told)
          if (k !== undefined) links.kill(k.address), count('kill');
          break;
        case 2: // frozen, or thawed
          if (k !== undefined) links.set(k.address, links.isUp(k.address) ? 'frozen' : 'up'), count('freeze');
          break;
        case 3: // restarts on its address: a new incarnation, told to the registry
          if (k !== undefined) {
            k.incarnation++;
            links.start(k.address, String(k.incarnation));
            publish();
            count('restart');
          }
          break;
        case 4: // moves without a notice
          if (k !== undefined) {
            links.kill(k.address);
            const moved = { address: `127.0.0.1:${nextPort++}`, incarnation: k.incarnation + 1, listed: false };
            known.push(moved);
            links.start(moved.address, String(moved.incarnation));
            count('move-silent');
          }
          break;
        case 5: // the registry catches up: unlists what is dead, lists what moved
          for (const x of known) x.listed = links.isUp(x.address) || rng.nextBoolean(0.3);
          publish();
          count('resync');
          break;
        case 6: // graceful shutdown: drain, then deregister
          if (k !== undefined) {
            links.set(k.address, 'draining');
            k.listed = false;
            publish();
            count('drain');
          }
          break;
        case 7: // the registry goes away or comes back
          registryUp = !registryUp;
          holder.setRegistryState(registryUp ? 'CONNECTED' : 'UNREACHABLE', registryUp ? 'back' : 'silent');
          if (registryUp) publish();
          count('registry');
          break;
        case 8: // a host's name stops or starts resolving
          links.setResolvable(`127.0.0.${1 + rng.nextInt(3)}`, rng.nextBoolean(0.5));
          count('dns');
          break;
        default: // flapping: kill and restart the same incarnation
          if (k !== undefined) {
            links.kill(k.address);
            links.start(k.address, String(k.incarnation));
            count('flap');
          }
      }
    }
    // Calls: start on a pickable provider, end after a while; failures where the provider is not up.
    const pickable = holder.pickable();
    if (pickable.length > 0 && rng.nextBoolean(0.3)) {
      const p = pickable[rng.nextInt(pickable.length)]!;
      holder.callStarted(p);
      inFlight.push({ provider: p, endsNs: now + (1 + rng.nextInt(50)) * MS, ok: links.isUp(p.address) && rng.nextBoolean(0.97) });
    }
    for (let i = inFlight.length - 1; i >= 0; i--) {
      const c = inFlight[i]!;
      if (c.endsNs > now) continue;
      inFlight.splice(i, 1);
      holder.callEnded(c.provider, c.ok);
    }
    links.doWork(now);
    holder.doWork(now);
    checkInvariants(holder, links, quarantinedOpens, step);
    if (holder.providerObjects.some((p) => p.waitingToConnect)) count('steps with a connect waiting for a slot');
  }
  for (const c of inFlight) holder.callEnded(c.provider, true);
  holder.close();
  assert.equal(links.openCount, 0, 'nothing open after close');
  assert.equal(holder.providerObjects.length, 0, 'no provider kept after close');
  for (const s of ['IDLE', 'CONNECTING', 'READY', 'DEGRADED', 'BACKOFF', 'DRAINING', 'QUARANTINED'] as const) assert.equal(holder.countIn(s), 0);
  for (const [to, n] of holder.transitionsTo) stats[`to ${to}`] = n;
  return { trace: createHash('sha256').update(transitions.join('\n')).digest('hex'), stats };
}

test('the holder keeps its invariants at every step through a seeded storm; the same seed replays it', { timeout: 120_000 }, () => {
  const first = run(7, 120_000);
  const again = run(7, 120_000);
  assert.equal(again.trace, first.trace, 'same seed, same transitions');
  // The storm reached every state the holder has.
  for (const state of ['CONNECTING', 'READY', 'DEGRADED', 'BACKOFF', 'DRAINING', 'QUARANTINED', 'CLOSED']) {
    assert.ok((first.stats[`to ${state}`] ?? 0) > 0, `the run reached ${state}: ${JSON.stringify(first.stats)}`);
  }
  assert.ok((first.stats['steps with a connect waiting for a slot'] ?? 0) > 0, `connects queued for a slot: ${JSON.stringify(first.stats)}`);
  for (const seed of [1, 2, 3]) {
    const other = run(seed, 60_000);
    assert.notEqual(other.trace, first.trace);
  }
});

test('property: applying snapshots never changes an earlier snapshot, and every snapshot stays frozen', () => {
  fc.assert(
    fc.property(
      fc.array(fc.uniqueArray(fc.record({ port: fc.integer({ min: 20000, max: 20010 }), incarnation: fc.constantFrom('a', 'b'), weight: fc.integer({ min: 1, max: 500 }) }), { selector: (p) => `${p.port}#${p.incarnation}`, maxLength: 8 }), { maxLength: 12 }),
      (lists) => {
        let now = 0;
        const prng = new SeededPrng(3);
        const links = new FakeLinks(() => now, prng.fork());
        const holder = new ConnectionHolder({ service: 's', links, prng, nanoTime: () => now });
        const applied: { snapshot: ServiceSnapshot; copy: unknown }[] = [];
        lists.forEach((list, i) => {
          for (const p of list) links.start(`127.0.0.1:${p.port}`, p.incarnation);
          const snapshot = serviceSnapshot('s', i + 1, list.map((p) => providerEntry({ address: `127.0.0.1:${p.port}`, incarnation: p.incarnation, weight: p.weight })));
          applied.push({ snapshot, copy: structuredClone(snapshot) });
          holder.applySnapshot(snapshot);
          for (let t = 0; t < 3; t++) {
            now += MS;
            links.doWork(now);
            holder.doWork(now);
          }
          for (const a of applied) {
            assert.deepEqual(a.snapshot, a.copy);
            assert.ok(Object.isFrozen(a.snapshot) && Object.isFrozen(a.snapshot.providers) && a.snapshot.providers.every((p) => Object.isFrozen(p) && Object.isFrozen(p.metadata)));
          }
          // The holder's picture is the latest snapshot's, with no provider of an older one left (none is in flight).
          const listed = new Set(list.map((p) => `127.0.0.1:${p.port}#${p.incarnation}`));
          assert.deepEqual(new Set(holder.providerViews().map((v) => v.id)), listed);
          for (const v of holder.providerViews()) assert.equal(v.weight, list.find((p) => `127.0.0.1:${p.port}#${p.incarnation}` === v.id)!.weight);
        });
        holder.close();
        assert.equal(links.openCount, 0);
      },
    ),
    { seed: 42, numRuns: 200 },
  );
});
