/**
 * The balancers' rules, from a seeded PRNG: smooth weighted round-robin's exact interleaving,
 * weighted shares, least-active, peak-EWMA steering around a slow provider, and a consistent-hash
 * ring whose shares are even (sofa-rpc-node's string-sorted ring gave four providers
 * 54/26/19/1 %) and which moves only the keys of a provider that leaves. A property: every
 * balancer picks a member of the list, and not an excluded one when there is another.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { SeededPrng } from '../../../src/env/prng.js';
import { BALANCER_NAMES, createBalancer, type BalancerTarget } from '../../../src/rpc/balancer.js';

function target(id: string, weight = 100, active = 0): BalancerTarget {
  return { id, address: id, weight, active };
}

test('smooth weighted round-robin: weights 5, 1, 1 give a a b a c a a, every cycle', () => {
  const b = createBalancer('weighted-round-robin', new SeededPrng(1));
  const ready = [target('a', 5), target('b', 1), target('c', 1)];
  const picks = Array.from({ length: 21 }, () => b.pick(ready, undefined, undefined, 0).id).join('');
  assert.equal(picks, 'aabacaa'.repeat(3));
});

test('weighted random: shares follow the weights', () => {
  const b = createBalancer('random', new SeededPrng(2));
  const ready = [target('a', 1), target('b', 2), target('c', 7)];
  const counts: Record<string, number> = { a: 0, b: 0, c: 0 };
  for (let i = 0; i < 100_000; i++) counts[b.pick(ready, undefined, undefined, 0).id]!++;
  assert.ok(Math.abs(counts.a! / 100_000 - 0.1) < 0.01, JSON.stringify(counts));
  assert.ok(Math.abs(counts.b! / 100_000 - 0.2) < 0.01, JSON.stringify(counts));
  assert.ok(Math.abs(counts.c! / 100_000 - 0.7) < 0.01, JSON.stringify(counts));
});

test('round-robin visits each provider once per cycle; least-active picks the fewest calls in flight', () => {
  const rr = createBalancer('round-robin', new SeededPrng(3));
  const ready = [target('a'), target('b'), target('c')];
  const cycle = Array.from({ length: 6 }, () => rr.pick(ready, undefined, undefined, 0).id);
  assert.deepEqual(new Set(cycle.slice(0, 3)), new Set(['a', 'b', 'c']));
  assert.deepEqual(cycle.slice(3), cycle.slice(0, 3));
  const la = createBalancer('least-active', new SeededPrng(4));
  const busy = [target('a', 100, 5), target('b', 100, 1), target('c', 100, 1)];
  const counts: Record<string, number> = { a: 0, b: 0, c: 0 };
  for (let i = 0; i < 1000; i++) counts[la.pick(busy, undefined, undefined, 0).id]!++;
  assert.equal(counts.a, 0);
  assert.ok(counts.b! > 400 && counts.c! > 400, 'ties split between the least active');
});

test('consistent hashing: four providers share 100k keys evenly; a key keeps its provider; a provider leaving moves only its keys', () => {
  const b = createBalancer('consistent-hash', new SeededPrng(5));
  const ready = [20001, 20002, 20003, 20004].map((p) => target(`127.0.0.1:${p}`));
  const keyRng = new SeededPrng(6);
  const keys = Array.from({ length: 100_000 }, () => `user-${keyRng.nextInt(2 ** 31)}-${keyRng.nextInt(2 ** 31)}`);
  const owner = new Map<string, string>();
  const counts = new Map<string, number>();
  for (const key of keys) {
    const id = b.pick(ready, key, undefined, 0).id;
    owner.set(key, id);
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  for (const [id, n] of counts) assert.ok(Math.abs(n / keys.length - 0.25) <= 0.05, `${id} has ${(100 * n / keys.length).toFixed(1)} %`);
  for (const key of keys.slice(0, 1000)) assert.equal(b.pick(ready, key, undefined, 0).id, owner.get(key));
  const fewer = ready.filter((t) => t.id !== '127.0.0.1:20003');
  let moved = 0;
  for (const key of keys) {
    const now = b.pick(fewer, key, undefined, 0).id;
    if (owner.get(key) !== '127.0.0.1:20003') assert.equal(now, owner.get(key), 'keys of the others stay');
    else moved++;
  }
  assert.equal(moved, counts.get('127.0.0.1:20003'));
  const key = keys[0]!;
  const excluded = b.pick(ready, key, new Set([owner.get(key)!]), 0);
  assert.notEqual(excluded.id, owner.get(key), 'an excluded owner hands the key to the next on the ring');
});

test('p2c peak-EWMA steers around a slow provider, reacts to a peak at once and forgets it over time', () => {
  const b = createBalancer('p2c-peak-ewma', new SeededPrng(7), { decayMs: 1000 });
  const ready = [target('fast'), target('slow'), target('fast2')];
  let now = 0;
  for (let i = 0; i < 50; i++) {
    now += 1e6;
    b.onCallEnd(ready[0]!, 1e6, true, now);
    b.onCallEnd(ready[1]!, 10e6, true, now);
    b.onCallEnd(ready[2]!, 1e6, true, now);
  }
  const counts: Record<string, number> = { fast: 0, slow: 0, fast2: 0 };
  for (let i = 0; i < 10_000; i++) counts[b.pick(ready, undefined, undefined, now).id]!++;
  assert.ok(counts.slow! < 1000, `the slow provider got ${counts.slow} of 10000`);
  // A peak on "fast" counts at once.
  b.onCallEnd(ready[0]!, 50e6, true, now);
  const afterPeak: Record<string, number> = { fast: 0, slow: 0, fast2: 0 };
  for (let i = 0; i < 3000; i++) afterPeak[b.pick(ready, undefined, undefined, now).id]!++;
  assert.ok(afterPeak.fast! < 200, JSON.stringify(afterPeak));
  // Ten time constants of fast answers later the peak is forgotten.
  for (let i = 0; i < 100; i++) {
    now += 100e6;
    b.onCallEnd(ready[0]!, 1e6, true, now);
  }
  const later: Record<string, number> = { fast: 0, slow: 0, fast2: 0 };
  for (let i = 0; i < 3000; i++) later[b.pick(ready, undefined, undefined, now).id]!++;
  assert.ok(later.fast! > 800, JSON.stringify(later));
});

test('createBalancer refuses unknown names and bad options, naming them', () => {
  assert.throws(() => createBalancer('fastest' as never, new SeededPrng(1)), /balancer 'fastest' is unknown/);
  assert.throws(() => createBalancer('p2c-peak-ewma', new SeededPrng(1), { decayMs: 0 }), /decayMs=0/);
  assert.throws(() => createBalancer('consistent-hash', new SeededPrng(1), { virtualNodes: 7 }), /virtualNodes=7/);
});

test('property: every balancer picks from the list, and not an excluded provider when another is there', () => {
  for (const name of BALANCER_NAMES) {
    const b = createBalancer(name, new SeededPrng(9));
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.record({ id: fc.string({ minLength: 1, maxLength: 6 }), weight: fc.integer({ min: 1, max: 1000 }), active: fc.nat(20) }), { selector: (t) => t.id, minLength: 1, maxLength: 20 }),
        fc.array(fc.nat(19), { maxLength: 5 }),
        fc.option(fc.string(), { nil: undefined }),
        (list, excludedIndexes, key) => {
          const ready = list.map((t) => ({ ...t, address: `h-${t.id}:1` }));
          const exclude = new Set(excludedIndexes.filter((i) => i < ready.length).map((i) => ready[i]!.id));
          const picked = b.pick(ready, key, exclude, 0);
          assert.ok(ready.includes(picked), `${name} picked from the list`);
          if (ready.some((t) => !exclude.has(t.id))) assert.ok(!exclude.has(picked.id), `${name} avoided an excluded provider`);
        },
      ),
      { seed: 11, numRuns: 300 },
    );
  }
});
