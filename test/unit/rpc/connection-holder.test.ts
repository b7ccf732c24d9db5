/**
 * The connection holder's state machine, scenario by scenario, on a stepped clock with fake
 * links (test/support/fake-links.ts): A004's failures (a provider that moves without a registry
 * notice, one killed and restarted on its address, one frozen), draining, ejection, names that
 * stop resolving, the registry going away, and close.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SeededPrng } from '../../../src/env/prng.js';
import { ConnectionHolder } from '../../../src/rpc/connection-holder.js';
import { resolveHolderOptions, type HolderOptions } from '../../../src/rpc/holder-options.js';
import type { ProviderTransition } from '../../../src/rpc/provider-connection.js';
import { providerEntry, serviceSnapshot, StaticRegistry } from '../../../src/rpc/registry.js';
import { FakeLinks } from '../../support/fake-links.js';

const MS = 1_000_000;

function setup(options: HolderOptions = {}, seed = 1) {
  let now = 0;
  const prng = new SeededPrng(seed);
  const links = new FakeLinks(() => now, prng.fork());
  const transitions: ProviderTransition[] = [];
  const holder = new ConnectionHolder({ service: 'echo', links, prng, nanoTime: () => now, onTransition: (t) => transitions.push(t) }, options);
  let version = 0;
  const publish = (...providers: { address: string; incarnation: string; weight?: number }[]) =>
    holder.applySnapshot(serviceSnapshot('echo', ++version, providers.map((p) => providerEntry(p))));
  /** Steps 1 ms at a time for `ms` milliseconds. */
  const run = (ms: number) => {
    for (let i = 0; i < ms; i++) {
      now += MS;
      links.doWork(now);
      holder.doWork(now);
    }
  };
  const stateOf = (address: string) => holder.providerViews().find((p) => p.address === address)?.state;
  return { holder, links, transitions, publish, run, stateOf, now: () => now };
}

test('providers listed connect and become READY; the pick list is derived from their states', () => {
  const { holder, links, publish, run } = setup();
  links.start('127.0.0.1:20001', 'a');
  links.start('127.0.0.1:20002', 'b');
  assert.equal(holder.state, 'NO_PROVIDERS');
  assert.match(holder.describe(), /no snapshot yet/);
  publish({ address: '127.0.0.1:20001', incarnation: 'a' }, { address: '127.0.0.1:20002', incarnation: 'b' });
  assert.equal(holder.state, 'CONNECTING');
  assert.equal(holder.pickable().length, 0);
  run(2);
  assert.equal(holder.state, 'READY');
  assert.deepEqual(holder.pickable().map((p) => p.address).sort(), ['127.0.0.1:20001', '127.0.0.1:20002']);
  assert.equal(holder.countIn('READY'), 2);
  assert.equal(links.openCount, 2);
});

test('connects are paced: never more than maxConnecting CONNECTING at once, the rest wait in their state and every one gets READY', () => {
  const { holder, links, publish, run, transitions } = setup({ maxConnecting: 3, connectTimeoutMs: 50 });
  const entries = Array.from({ length: 20 }, (_, i) => ({ address: `127.0.0.1:${21000 + i}`, incarnation: 'a' }));
  // Frozen providers never answer: their connects time out, holding their slots for the whole connect timeout.
  for (const [i, e] of entries.entries()) {
    links.start(e.address, e.incarnation);
    if (i < 5) links.set(e.address, 'frozen');
  }
  publish(...entries);
  assert.match(holder.describe(), /providers IDLE=17 CONNECTING=3 \(17 waiting for a connect slot, maxConnecting=3\)/);
  let most = 0;
  for (let ms = 0; ms < 400; ms++) {
    most = Math.max(most, holder.countIn('CONNECTING'));
    run(1);
  }
  assert.equal(most, 3, 'CONNECTING at once');
  assert.equal(holder.countIn('READY'), 15);
  assert.ok(holder.providerObjects.filter((p) => p.waitingToConnect).length <= 5, 'only the frozen ones may still wait');
  // A connect that waited for a slot times out connectTimeoutMs after it started, not after it was asked for.
  const timeouts = transitions.filter((t) => t.from === 'CONNECTING' && t.to === 'BACKOFF');
  assert.ok(timeouts.length >= 5);
  for (const t of timeouts) {
    const started = transitions.filter((u) => u.id === t.id && u.to === 'CONNECTING' && u.atNs <= t.atNs).at(-1)!;
    assert.equal(t.atNs - started.atNs, 50 * MS, `${t.id}: timed out ${(t.atNs - started.atNs) / MS} ms after its connect started`);
  }
  // With the limit at its default of 64, the same 20 connect at once.
  const wide = setup({ connectTimeoutMs: 50 });
  for (const e of entries) wide.links.start(e.address, e.incarnation);
  wide.publish(...entries);
  assert.equal(wide.holder.countIn('CONNECTING'), 20);
});

test('A004: a provider that moves to a new port without a registry notice is quarantined after its retry budget; the new address is used once the registry tells', () => {
  const { holder, links, transitions, publish, run, stateOf } = setup({ maxConnectAttempts: 10, minDeadTimeMs: 60_000 });
  links.start('127.0.0.1:20001', 'a');
  publish({ address: '127.0.0.1:20001', incarnation: 'a' });
  run(5);
  assert.equal(stateOf('127.0.0.1:20001'), 'READY');
  // It moves: the old address answers nothing, the registry still lists it.
  links.kill('127.0.0.1:20001');
  links.start('127.0.0.1:20009', 'a2');
  run(1);
  assert.equal(stateOf('127.0.0.1:20001'), 'CONNECTING', 'the first retry after a loss goes at once');
  run(120_000);
  assert.equal(stateOf('127.0.0.1:20001'), 'QUARANTINED', 'the retry budget is spent');
  const quarantined = transitions.find((t) => t.to === 'QUARANTINED')!;
  assert.match(quarantined.reason, /retry budget spent: \d+ connects failed over \d+ ms \(maxConnectAttempts=10 minDeadTimeMs=60000\)/);
  // The budget is checked at each failure: after minDeadTimeMs, at most one more backoff (30 s + 20 %) and connect.
  assert.ok(quarantined.atNs >= 60_000 * MS && quarantined.atNs <= (60_000 + 36_000 + 1000) * MS, `quarantined at ${quarantined.atNs / MS} ms`);
  const attempts = links.openedTo.get('127.0.0.1:20001')!;
  assert.ok(attempts >= 11 && attempts <= 20, `${attempts} connects to the dead address, not one per call or forever`);
  assert.equal(links.openCount, 0, 'a quarantined provider holds no link');
  run(600_000);
  assert.equal(links.openedTo.get('127.0.0.1:20001'), attempts, 'no more connects while quarantined');
  assert.equal(holder.state, 'TRANSIENT_FAILURE');
  // The registry tells: the old entry goes, the new one connects.
  publish({ address: '127.0.0.1:20009', incarnation: 'a2' });
  run(2);
  assert.equal(stateOf('127.0.0.1:20001'), undefined, 'the old provider is forgotten');
  assert.deepEqual(holder.pickable().map((p) => p.address), ['127.0.0.1:20009']);
  assert.equal(links.openCount, 1);
});

test('A004: a single provider killed and restarted on the same address recovers without a registry event', () => {
  const { holder, links, publish, run, stateOf } = setup();
  links.start('127.0.0.1:20001', 'a');
  publish({ address: '127.0.0.1:20001', incarnation: 'a' });
  run(5);
  links.kill('127.0.0.1:20001');
  run(3000);
  assert.notEqual(stateOf('127.0.0.1:20001'), 'READY');
  assert.equal(holder.state === 'CONNECTING' || holder.state === 'TRANSIENT_FAILURE', true);
  links.start('127.0.0.1:20001', 'a');
  run(5000);
  assert.equal(stateOf('127.0.0.1:20001'), 'READY', 'reconnected by its own backoff');
  assert.equal(holder.state, 'READY');
});

test('a frozen provider is declared lost by the link heartbeat, not after 45 s; killed provider at once', () => {
  const { links, transitions, publish, run } = setup();
  links.start('127.0.0.1:20001', 'a');
  links.start('127.0.0.1:20002', 'b');
  publish({ address: '127.0.0.1:20001', incarnation: 'a' }, { address: '127.0.0.1:20002', incarnation: 'b' });
  run(5);
  links.set('127.0.0.1:20001', 'frozen');
  const frozenAt = 5;
  run(4000);
  const lost = transitions.find((t) => t.address === '127.0.0.1:20001' && t.from === 'READY')!;
  assert.equal(lost.to, 'BACKOFF');
  assert.ok(lost.atNs / MS - frozenAt <= 3001, `lost ${lost.atNs / MS - frozenAt} ms after the freeze`);
  assert.match(lost.reason, /no heartbeat for 3000 ms/);
});

test('a provider removed from the registry with calls in flight drains: calls finish, no new picks, then it closes', () => {
  const { holder, links, publish, run, stateOf } = setup();
  links.start('127.0.0.1:20001', 'a');
  links.start('127.0.0.1:20002', 'b');
  publish({ address: '127.0.0.1:20001', incarnation: 'a' }, { address: '127.0.0.1:20002', incarnation: 'b' });
  run(5);
  const a = holder.pickable().find((p) => p.address === '127.0.0.1:20001')!;
  holder.callStarted(a);
  holder.callStarted(a);
  publish({ address: '127.0.0.1:20002', incarnation: 'b' });
  assert.equal(stateOf('127.0.0.1:20001'), 'DRAINING');
  assert.deepEqual(holder.pickable().map((p) => p.address), ['127.0.0.1:20002'], 'no new calls go to it');
  assert.equal(links.openCount, 2, 'its link stays for the calls in flight');
  holder.callEnded(a, true);
  assert.equal(stateOf('127.0.0.1:20001'), 'DRAINING');
  holder.callEnded(a, true);
  assert.equal(stateOf('127.0.0.1:20001'), undefined, 'closed and forgotten once its calls ended');
  assert.equal(links.openCount, 1);
});

test('draining ends at drainTimeoutMs with calls still in flight; a provider that announces shutdown drains and is retried while listed', () => {
  const { holder, links, transitions, publish, run, stateOf } = setup({ drainTimeoutMs: 500 });
  links.start('127.0.0.1:20001', 'a');
  publish({ address: '127.0.0.1:20001', incarnation: 'a' });
  run(5);
  const a = holder.pickable()[0]!;
  holder.callStarted(a);
  links.set('127.0.0.1:20001', 'draining');
  assert.equal(stateOf('127.0.0.1:20001'), 'DRAINING');
  run(499);
  assert.equal(stateOf('127.0.0.1:20001'), 'DRAINING');
  run(2);
  assert.equal(stateOf('127.0.0.1:20001'), 'BACKOFF', 'still listed: it is tried again later');
  assert.match(transitions.at(-1)!.reason, /drainTimeoutMs=500 passed with 1 calls in flight/);
  holder.callEnded(a, false);
  assert.equal(links.openCount, 0);
});

test('outlier ejection: consecutive failures eject a READY provider for a while, never more than maxEjectionPercent, and it comes back', () => {
  const { holder, links, publish, run, stateOf } = setup({ ejectConsecutiveFailures: 3, ejectionBaseMs: 1000, maxEjectionPercent: 50 });
  for (const port of [20001, 20002, 20003, 20004]) links.start(`127.0.0.1:${port}`, 'x');
  publish(...[20001, 20002, 20003, 20004].map((port) => ({ address: `127.0.0.1:${port}`, incarnation: 'x' })));
  run(5);
  const fail = (address: string, times: number) => {
    const p = holder.providerObjects.find((x) => x.address === address)!;
    for (let i = 0; i < times; i++) {
      holder.callStarted(p);
      holder.callEnded(p, false);
    }
  };
  fail('127.0.0.1:20001', 2);
  assert.equal(stateOf('127.0.0.1:20001'), 'READY');
  fail('127.0.0.1:20001', 1);
  assert.equal(stateOf('127.0.0.1:20001'), 'DEGRADED');
  fail('127.0.0.1:20002', 3);
  assert.equal(stateOf('127.0.0.1:20002'), 'DEGRADED');
  fail('127.0.0.1:20003', 3);
  assert.equal(stateOf('127.0.0.1:20003'), 'READY', 'the cap: at most half ejected');
  assert.equal(holder.pickable().length, 2);
  run(1001);
  assert.equal(stateOf('127.0.0.1:20001'), 'READY', 're-admitted when its ejection ends');
  // Ejected again at once: the second ejection lasts twice as long.
  fail('127.0.0.1:20001', 3);
  assert.equal(stateOf('127.0.0.1:20001'), 'DEGRADED');
  run(1500);
  assert.equal(stateOf('127.0.0.1:20001'), 'DEGRADED');
  run(600);
  assert.equal(stateOf('127.0.0.1:20001'), 'READY');
});

test('a name that stops resolving is quarantined after maxUnresolved attempts; a newer snapshot re-admits it', () => {
  const { holder, links, transitions, publish, run, stateOf } = setup({ maxUnresolved: 3 });
  links.start('provider.invalid:20001', 'a');
  links.setResolvable('provider.invalid', false);
  publish({ address: 'provider.invalid:20001', incarnation: 'a' });
  run(10_000);
  assert.equal(stateOf('provider.invalid:20001'), 'QUARANTINED');
  assert.match(transitions.at(-1)!.reason, /did not resolve 3 times in a row/);
  assert.equal(links.openedTo.get('provider.invalid:20001'), 3);
  links.setResolvable('provider.invalid', true);
  publish({ address: 'provider.invalid:20001', incarnation: 'a' });
  run(5);
  assert.equal(stateOf('provider.invalid:20001'), 'READY');
  assert.equal(holder.state, 'READY');
});

test('the registry going away keeps the last providers and says so; an empty snapshot is applied and closes everything', () => {
  const { holder, links, publish, run } = setup();
  links.start('127.0.0.1:20001', 'a');
  publish({ address: '127.0.0.1:20001', incarnation: 'a' });
  run(5);
  holder.setRegistryState('UNREACHABLE', 'registry 127.0.0.1:7000 silent for 3000 ms');
  run(10_000);
  assert.equal(holder.state, 'READY');
  assert.equal(holder.registryState, 'UNREACHABLE');
  assert.ok(holder.snapshotAgeMs() >= 10_000);
  assert.match(holder.describe(), /registry UNREACHABLE/);
  publish();
  assert.equal(holder.state, 'NO_PROVIDERS');
  assert.equal(links.openCount, 0);
  assert.equal(holder.providerViews().length, 0);
  assert.match(holder.describe(), /snapshot version 2 lists 0/);
});

test('older or repeated snapshot versions are ignored; snapshots are frozen and the holder never edits them', () => {
  const { holder, links, run } = setup();
  links.start('127.0.0.1:20001', 'a');
  const v2 = serviceSnapshot('echo', 2, [providerEntry({ address: '127.0.0.1:20001', incarnation: 'a' })]);
  holder.applySnapshot(v2);
  holder.applySnapshot(serviceSnapshot('echo', 1, []));
  holder.applySnapshot(serviceSnapshot('echo', 2, []));
  run(5);
  assert.equal(holder.staleSnapshots, 2);
  assert.equal(holder.state, 'READY');
  assert.ok(Object.isFrozen(v2) && Object.isFrozen(v2.providers) && Object.isFrozen(v2.providers[0]));
  assert.throws(() => (v2.providers as unknown as unknown[]).push({}), TypeError);
  assert.throws(() => holder.applySnapshot(serviceSnapshot('other', 3, [])), /snapshot of service 'other' given to the holder of 'echo'/);
});

test('close releases every link and timer, whatever state each provider is in; it is idempotent', () => {
  const { holder, links, publish, run } = setup();
  links.start('127.0.0.1:20001', 'a');
  links.start('127.0.0.1:20002', 'b');
  publish({ address: '127.0.0.1:20001', incarnation: 'a' }, { address: '127.0.0.1:20002', incarnation: 'b' }, { address: '127.0.0.1:20003', incarnation: 'c' });
  run(1);
  holder.callStarted(holder.providerObjects[0]!);
  holder.close();
  holder.close();
  assert.equal(holder.state, 'CLOSED');
  assert.equal(links.openCount, 0);
  assert.equal(holder.providerViews().length, 0);
  assert.equal(holder.doWork(1e12), 0);
  assert.throws(() => publish(), /closed/);
});

test('connect backoff grows by the multiplier with jitter within its bounds', () => {
  const { holder, links, transitions, publish, run } = setup({ backoffInitialMs: 100, backoffMultiplier: 2, backoffMaxMs: 1000, backoffJitter: 0.2, maxConnectAttempts: 1000 });
  publish({ address: '127.0.0.1:20001', incarnation: 'a' });
  run(20_000);
  const starts = transitions.filter((t) => t.to === 'CONNECTING').map((t) => t.atNs / MS);
  const fails = transitions.filter((t) => t.to === 'BACKOFF').map((t) => t.atNs / MS);
  const waits = starts.slice(1).map((s, i) => s - fails[i]!);
  for (let i = 0; i < 8; i++) {
    const base = Math.min(1000, 100 * 2 ** i);
    assert.ok(waits[i]! >= base * 0.8 - 1 && waits[i]! <= base * 1.2 + 1, `wait ${i}: ${waits[i]} ms, base ${base}`);
  }
  assert.ok(holder.state === 'CONNECTING' || holder.state === 'TRANSIENT_FAILURE', holder.state);
  assert.equal(links.openCount, holder.countIn('CONNECTING'));
});

test('a provider that accepts and drops at once keeps backing off; after a stable READY period the first retry goes at once again', () => {
  const { links, transitions, publish, run, stateOf } = setup({ backoffInitialMs: 100, backoffMultiplier: 2, backoffMaxMs: 5000, backoffJitter: 0, stableAfterMs: 5000 });
  const address = '127.0.0.1:20001';
  links.start(address, 'a');
  publish({ address, incarnation: 'a' });
  const retryWaits: number[] = [];
  for (let i = 0; i < 5; i++) {
    for (let k = 0; k < 10_000 && stateOf(address) !== 'READY'; k++) run(1);
    links.kill(address);
    links.start(address, 'a');
    const lostAt = transitions.at(-1)!.atNs;
    for (let k = 0; k < 10_000 && stateOf(address) !== 'CONNECTING'; k++) run(1);
    retryWaits.push((transitions.at(-1)!.atNs - lostAt) / MS);
  }
  // At once = on the next duty cycle (1 ms steps here).
  assert.deepEqual(retryWaits, [1, 200, 400, 800, 1600], 'the first retry at once, then growing: no reset without a stable period');
  for (let k = 0; k < 10_000 && stateOf(address) !== 'READY'; k++) run(1);
  run(5000);
  links.kill(address);
  links.start(address, 'a');
  const lostAt = transitions.at(-1)!.atNs;
  run(1);
  assert.equal(stateOf(address), 'CONNECTING');
  assert.equal((transitions.at(-1)!.atNs - lostAt) / MS, 1, 'READY for stableAfterMs: the backoff started over');
});

test('options are validated once, every problem named', () => {
  assert.throws(() => resolveHolderOptions({ connectTimeoutMs: 0, backoffMultipler: 2 } as never), (e: Error) =>
    /connectTimeoutMs=0 is invalid/.test(e.message) && /unknown option 'backoffMultipler' \(did you mean 'backoffMultiplier'\?\)/.test(e.message));
  assert.throws(() => resolveHolderOptions({ backoffInitialMs: 500, backoffMaxMs: 100 }), /backoffMaxMs=100 is below backoffInitialMs=500/);
  assert.equal(resolveHolderOptions().connectTimeoutMs, 1000);
});

test('the static registry: a full snapshot first, a new frozen version on each change; the old one is untouched', async () => {
  const registry = new StaticRegistry({ echo: ['127.0.0.1:20001'] });
  const seen: { version: number; addresses: string[] }[] = [];
  const kept: ReturnType<StaticRegistry['snapshot']>[] = [];
  const sub = registry.subscribe('echo', { onSnapshot: (s) => (kept.push(s), seen.push({ version: s.version, addresses: s.providers.map((p) => p.address) })) });
  const reg = await registry.register('echo', providerEntry({ address: '127.0.0.1:20002', incarnation: 'i' }));
  await reg.close();
  await reg.close();
  assert.deepEqual(seen, [
    { version: 1, addresses: ['127.0.0.1:20001'] },
    { version: 2, addresses: ['127.0.0.1:20001', '127.0.0.1:20002'] },
    { version: 3, addresses: ['127.0.0.1:20001'] },
  ]);
  assert.equal(kept[1]!.providers.length, 2, 'version 2 still lists what it listed');
  sub.close();
  assert.equal(sub.state, 'CLOSED');
  assert.throws(() => providerEntry({ address: 'nohost' }), /provider address 'nohost' is invalid/);
  assert.throws(() => providerEntry({ address: '127.0.0.1:1', weight: 0 }), /weight=0 is invalid/);
  await registry.close();
});

test('A004: cleanup does not depend on who listens: no listener, a listener, a listener that throws, all release the same', () => {
  const outcomes: string[] = [];
  for (const mode of ['none', 'listening', 'throwing'] as const) {
    let now = 0;
    const prng = new SeededPrng(9);
    const links = new FakeLinks(() => now, prng.fork());
    const errors: unknown[] = [];
    const heard: string[] = [];
    const holder = new ConnectionHolder({
      service: 'echo', links, prng, nanoTime: () => now, onError: (e) => errors.push(e),
      ...(mode === 'none' ? {} : { onTransition: (t: ProviderTransition) => { heard.push(t.to); if (mode === 'throwing') throw new Error('logger broke'); } }),
    }, { maxConnectAttempts: 3, minDeadTimeMs: 1000 });
    links.start('127.0.0.1:20001', 'a');
    links.start('127.0.0.1:20002', 'b');
    holder.applySnapshot(serviceSnapshot('echo', 1, [providerEntry({ address: '127.0.0.1:20001', incarnation: 'a' }), providerEntry({ address: '127.0.0.1:20002', incarnation: 'b' })]));
    for (let i = 0; i < 5; i++) { now += MS; links.doWork(now); holder.doWork(now); }
    links.kill('127.0.0.1:20001');
    for (let i = 0; i < 10_000; i++) { now += MS; links.doWork(now); holder.doWork(now); }
    holder.applySnapshot(serviceSnapshot('echo', 2, [providerEntry({ address: '127.0.0.1:20001', incarnation: 'a' })]));
    const states = holder.providerViews().map((p) => `${p.address}=${p.state}`).join(' ');
    outcomes.push(`${states} links=${links.openCount}`);
    if (mode === 'throwing') assert.equal(errors.length, heard.length, 'every listener failure was reported');
    if (mode !== 'none') assert.ok(heard.includes('QUARANTINED') && heard.includes('CLOSED'));
    holder.close();
    assert.equal(links.openCount, 0, `${mode}: nothing left open after close`);
  }
  assert.equal(new Set(outcomes).size, 1, `the same outcome each way: ${outcomes.join(' | ')}`);
  assert.match(outcomes[0]!, /127\.0\.0\.1:20001=(QUARANTINED|CONNECTING|BACKOFF) links=[01]/);
});
