import { randomBytes } from 'node:crypto';
import { ErrorCode, SkeinError } from '../util/errors.js';

/**
 * A seeded pseudo-random number generator. Everything random in Skein (session ids, jitter, fault
 * injection, simulation) draws from one of these, so a seed replays a run exactly.
 */
export interface Prng {
  /** The seed this stream was created from. */
  readonly seed: number;
  /** Uniform in [0, 2^32). */
  nextUint32(): number;
  /** Uniform in [0, 1) with 53 bits of precision. */
  nextDouble(): number;
  /** Uniform integer in [0, boundExclusive); `boundExclusive` is an integer in [1, 2^32]. */
  nextInt(boundExclusive: number): number;
  /** True with the given probability; always consumes exactly one draw. */
  nextBoolean(probability: number): boolean;
  /** A new, independent stream whose seed is drawn from this one (deterministic). */
  fork(): Prng;
}

const TWO_POW_32 = 4_294_967_296;
const TWO_POW_53 = 9_007_199_254_740_992;
const TWO_POW_26 = 67_108_864;

/**
 * xoshiro128** (a 32-bit generator with 128 bits of state, period 2^128 - 1) whose state is filled
 * by splitmix32 from the seed. Only 32-bit integer operations (`Math.imul`, shifts) are used, so
 * the same seed gives the same sequence on every platform.
 */
export class SeededPrng implements Prng {
  readonly seed: number;
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  /** @param seed any safe integer (negative and values above 2^32 are allowed). */
  constructor(seed: number) {
    if (!Number.isSafeInteger(seed)) {
      throw new SkeinError(ErrorCode.ARG_INVALID, `prng seed must be a safe integer, got ${String(seed)}`);
    }
    this.seed = seed;
    const low = seed >>> 0;
    const high = Math.floor(seed / TWO_POW_32) >>> 0;
    const mixer = new SplitMix32((low ^ Math.imul(high, 0x85ebca6b)) >>> 0);
    this.s0 = mixer.next();
    this.s1 = mixer.next();
    this.s2 = mixer.next();
    this.s3 = mixer.next();
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) {
      this.s0 = 1; // the all-zero state is the one fixed point of xoshiro
    }
  }

  nextUint32(): number {
    const s1 = this.s1;
    const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    const t = s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  nextDouble(): number {
    const high = this.nextUint32() >>> 5; // 27 bits
    const low = this.nextUint32() >>> 6; // 26 bits
    return (high * TWO_POW_26 + low) / TWO_POW_53;
  }

  nextInt(boundExclusive: number): number {
    if (!(Number.isInteger(boundExclusive) && boundExclusive >= 1 && boundExclusive <= TWO_POW_32)) {
      throw new SkeinError(
        ErrorCode.ARG_INVALID,
        `nextInt bound must be an integer in [1, 2^32], got ${String(boundExclusive)}`,
      );
    }
    // Rejection sampling: accept only draws below the largest multiple of the bound, so every
    // result is equally likely.
    const limit = TWO_POW_32 - (TWO_POW_32 % boundExclusive);
    let r = this.nextUint32();
    while (r >= limit) {
      r = this.nextUint32();
    }
    return r % boundExclusive;
  }

  nextBoolean(probability: number): boolean {
    return this.nextDouble() < probability;
  }

  fork(): Prng {
    const high = this.nextUint32() & 0x1fffff; // 21 bits, keeps the seed a safe integer
    const low = this.nextUint32();
    return new SeededPrng(high * TWO_POW_32 + low);
  }
}

/** splitmix32: a counter-based mixer used to expand one 32-bit seed into generator state. */
class SplitMix32 {
  private state: number;

  constructor(seed: number) {
    this.state = seed | 0;
  }

  next(): number {
    this.state = (this.state + 0x9e3779b9) | 0;
    let z = this.state;
    z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
    z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
    return (z ^ (z >>> 15)) >>> 0;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** A fresh seed from the operating system's CSPRNG, in [0, 2^32); for production defaults. */
export function randomSeed(): number {
  return randomBytes(4).readUInt32LE(0);
}
