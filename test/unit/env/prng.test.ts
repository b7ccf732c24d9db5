import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { SeededPrng, randomSeed } from '../../../src/env/prng.js';
import { ErrorCode, SkeinError } from '../../../src/util/errors.js';

/** An independent BigInt model of splitmix32 seeding + xoshiro128**, to cross-check the 32-bit code. */
function referenceSequence(seed: number, count: number): number[] {
  const M = 0xffffffffn;
  const mul = (a: bigint, b: bigint): bigint => (a * b) & M;
  const rotl = (x: bigint, k: bigint): bigint => ((x << k) | (x >> (32n - k))) & M;
  const low = BigInt(seed >>> 0);
  const high = BigInt(Math.floor(seed / 2 ** 32) >>> 0);
  let sm = (low ^ mul(high, 0x85ebca6bn)) & M;
  const splitmix = (): bigint => {
    sm = (sm + 0x9e3779b9n) & M;
    let z = sm;
    z = mul(z ^ (z >> 16n), 0x21f0aaadn);
    z = mul(z ^ (z >> 15n), 0x735a2d97n);
    return z ^ (z >> 15n);
  };
  let [s0, s1, s2, s3] = [splitmix(), splitmix(), splitmix(), splitmix()];
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    out.push(Number(mul(rotl(mul(s1, 5n), 7n), 9n)));
    const t = (s1 << 9n) & M;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = rotl(s3, 11n);
  }
  return out;
}

function take(prng: SeededPrng, count: number): number[] {
  return Array.from({ length: count }, () => prng.nextUint32());
}

test('the same seed gives the same sequence; known values pin it across platforms', () => {
  assert.deepEqual(take(new SeededPrng(42), 4), [660444221, 3652823732, 77672526, 910233633]);
  assert.deepEqual(take(new SeededPrng(0), 4), [1789933344, 44971166, 2521387044, 3848737593]);
  assert.deepEqual(take(new SeededPrng(7), 1000), take(new SeededPrng(7), 1000));
  assert.notDeepEqual(take(new SeededPrng(7), 16), take(new SeededPrng(8), 16));
});

test('matches an independent BigInt model for small, negative and >32-bit seeds', () => {
  for (const seed of [0, 1, 42, -1, -123456789, 2 ** 32, 2 ** 40 + 7, Number.MAX_SAFE_INTEGER]) {
    assert.deepEqual(take(new SeededPrng(seed), 64), referenceSequence(seed, 64), `seed ${seed}`);
  }
});

test('seeds that differ only above bit 32 give different streams', () => {
  assert.notDeepEqual(take(new SeededPrng(5), 8), take(new SeededPrng(5 + 2 ** 32), 8));
});

test('nextDouble is in [0, 1) with mean near 1/2', () => {
  const prng = new SeededPrng(1234);
  let sum = 0;
  const n = 100_000;
  for (let i = 0; i < n; i++) {
    const d = prng.nextDouble();
    assert.ok(d >= 0 && d < 1);
    sum += d;
  }
  assert.ok(Math.abs(sum / n - 0.5) < 0.005, `mean ${sum / n}`);
});

test('nextInt is uniform over its bound (chi-square, 9 degrees of freedom)', () => {
  const prng = new SeededPrng(99);
  const buckets = new Array<number>(10).fill(0);
  const n = 100_000;
  for (let i = 0; i < n; i++) buckets[prng.nextInt(10)]!++;
  const expected = n / 10;
  const chi2 = buckets.reduce((acc, b) => acc + (b - expected) ** 2 / expected, 0);
  assert.ok(chi2 < 27.88, `chi-square ${chi2} above the 0.1% critical value; buckets ${buckets.join(',')}`);
});

test('nextBoolean honours its probability and always consumes one draw', () => {
  const prng = new SeededPrng(5);
  let hits = 0;
  for (let i = 0; i < 100_000; i++) if (prng.nextBoolean(0.3)) hits++;
  assert.ok(Math.abs(hits / 100_000 - 0.3) < 0.01, `rate ${hits / 100_000}`);
  const a = new SeededPrng(11);
  const b = new SeededPrng(11);
  assert.equal(a.nextBoolean(0), false);
  assert.equal(a.nextBoolean(1), true);
  b.nextDouble();
  b.nextDouble();
  assert.equal(a.nextUint32(), b.nextUint32());
});

test('nextInt stays in range for any bound and seed', () => {
  fc.assert(
    fc.property(fc.integer(), fc.integer({ min: 1, max: 2 ** 32 }), (seed, bound) => {
      const prng = new SeededPrng(seed);
      for (let i = 0; i < 20; i++) {
        const v = prng.nextInt(bound);
        if (!(Number.isInteger(v) && v >= 0 && v < bound)) return false;
      }
      return true;
    }),
    { numRuns: 200 },
  );
});

test('nextInt and the constructor reject bad arguments with ARG_INVALID', () => {
  const prng = new SeededPrng(1);
  for (const bad of [0, -1, 1.5, 2 ** 32 + 1, Number.NaN]) {
    assert.throws(() => prng.nextInt(bad), (e: unknown) => e instanceof SkeinError && e.code === ErrorCode.ARG_INVALID);
  }
  assert.equal(prng.nextInt(1), 0);
  for (const bad of [1.5, Number.NaN, 2 ** 60]) {
    assert.throws(() => new SeededPrng(bad), (e: unknown) => e instanceof SkeinError && e.code === ErrorCode.ARG_INVALID);
  }
});

test('fork gives a deterministic, independent stream', () => {
  const parentA = new SeededPrng(77);
  const parentB = new SeededPrng(77);
  const childA = parentA.fork();
  const childB = parentB.fork();
  assert.equal(childA.seed, childB.seed);
  assert.deepEqual(take(childA as SeededPrng, 32), take(childB as SeededPrng, 32));
  assert.deepEqual(take(parentA, 32), take(parentB, 32));
  assert.notDeepEqual(take(parentA.fork() as SeededPrng, 8), take(parentA, 8));
});

test('randomSeed gives 32-bit unsigned seeds', () => {
  const seeds = new Set<number>();
  for (let i = 0; i < 20; i++) {
    const s = randomSeed();
    assert.ok(Number.isInteger(s) && s >= 0 && s < 2 ** 32);
    seeds.add(s);
  }
  assert.ok(seeds.size > 15);
});
