/**
 * Load balancers (docs/rpc.md, "Balancers"; docs/reference/rpc-design.md §6). A balancer picks one provider
 * from the READY ones the holder passes (never empty), honouring the ids a call has already
 * tried when another choice exists. Pure: time comes in as nanoseconds, randomness from the
 * injected PRNG, so a seeded run repeats. Picks allocate nothing except a consistent-hash ring
 * rebuild when the provider set changes.
 *
 * - `random`: weighted random (uniform when weights are equal).
 * - `round-robin`: from a random start, one step per pick.
 * - `weighted-round-robin`: smooth weighted round-robin (nginx): weights 5, 1, 1 give a a b a c a a.
 * - `least-active`: fewest calls in flight; ties by weighted random.
 * - `consistent-hash`: 160 virtual nodes per provider on a ring of unsigned 32-bit points from
 *   MD5 (Ketama), sorted numerically; a key maps to the first point at or after its hash.
 *   Weights are not used. Without a key it falls back to random.
 * - `p2c-peak-ewma` (default): two distinct providers drawn at random, the one with the lower
 *   load wins; load = cost × (active + 1), cost an EWMA of round-trip times that jumps to a peak
 *   at once and decays with time constant `decayMs`; a failed call counts as `failurePenaltyMs`.
 */
import { createHash } from 'node:crypto';
import type { Prng } from '../env/prng.js';
import { ErrorCode, SkeinError } from '../util/errors.js';

export interface BalancerTarget {
  readonly id: string;
  readonly address: string;
  readonly weight: number;
  readonly active: number;
}

export type BalancerName = 'random' | 'round-robin' | 'weighted-round-robin' | 'least-active' | 'consistent-hash' | 'p2c-peak-ewma';
export const BALANCER_NAMES: readonly BalancerName[] = ['random', 'round-robin', 'weighted-round-robin', 'least-active', 'consistent-hash', 'p2c-peak-ewma'];
export const DEFAULT_BALANCER: BalancerName = 'p2c-peak-ewma';

export interface BalancerOptions {
  /** p2c-peak-ewma: decay time constant of the latency average. @default 10000 */
  readonly decayMs?: number;
  /** p2c-peak-ewma: the cost of a provider with no history yet. @default 1 */
  readonly defaultRttMs?: number;
  /** p2c-peak-ewma: a failed call counts as a round trip this long. @default 1000 */
  readonly failurePenaltyMs?: number;
  /** consistent-hash: points per provider. @default 160 */
  readonly virtualNodes?: number;
}

export interface Balancer {
  readonly name: BalancerName;
  pick(ready: readonly BalancerTarget[], key: string | Uint8Array | undefined, exclude: ReadonlySet<string> | undefined, nowNs: number): BalancerTarget;
  onCallEnd(target: BalancerTarget, rttNs: number, ok: boolean, nowNs: number): void;
  onTargetsChanged(ids: ReadonlySet<string>): void;
}

export function createBalancer(name: BalancerName, prng: Prng, options: BalancerOptions = {}): Balancer {
  const problems: string[] = [];
  const decayMs = options.decayMs ?? 10_000;
  const defaultRttMs = options.defaultRttMs ?? 1;
  const failurePenaltyMs = options.failurePenaltyMs ?? 1000;
  const virtualNodes = options.virtualNodes ?? 160;
  if (!(decayMs > 0)) problems.push(`decayMs=${decayMs} (> 0)`);
  if (!(defaultRttMs > 0)) problems.push(`defaultRttMs=${defaultRttMs} (> 0)`);
  if (!(failurePenaltyMs >= 0)) problems.push(`failurePenaltyMs=${failurePenaltyMs} (>= 0)`);
  if (!(Number.isInteger(virtualNodes) && virtualNodes >= 4 && virtualNodes <= 4096 && virtualNodes % 4 === 0)) problems.push(`virtualNodes=${virtualNodes} (a multiple of 4 in 4..4096)`);
  if (problems.length > 0) throw new SkeinError(ErrorCode.CONFIG_INVALID, `invalid ${name} balancer options: ${problems.join('; ')}`);
  switch (name) {
    case 'random':
      return new RandomBalancer(prng);
    case 'round-robin':
      return new RoundRobinBalancer(prng);
    case 'weighted-round-robin':
      return new SmoothWeightedBalancer();
    case 'least-active':
      return new LeastActiveBalancer(prng);
    case 'consistent-hash':
      return new ConsistentHashBalancer(prng, virtualNodes);
    case 'p2c-peak-ewma':
      return new PeakEwmaBalancer(prng, decayMs * 1e6, defaultRttMs * 1e6, failurePenaltyMs * 1e6);
    default:
      throw new SkeinError(ErrorCode.CONFIG_INVALID, `balancer '${String(name)}' is unknown; expected one of ${BALANCER_NAMES.join(', ')}`);
  }
}

function allowed(t: BalancerTarget, exclude: ReadonlySet<string> | undefined): boolean {
  return exclude === undefined || !exclude.has(t.id);
}

/** Whether any target is not excluded (then only those are picked). */
function anyAllowed(ready: readonly BalancerTarget[], exclude: ReadonlySet<string> | undefined): boolean {
  if (exclude === undefined || exclude.size === 0) return true;
  for (let i = 0; i < ready.length; i++) if (!exclude.has(ready[i]!.id)) return true;
  return false;
}

/** Weighted random among the targets that `ok` accepts (all when none is excluded). */
function weightedRandom(prng: Prng, ready: readonly BalancerTarget[], exclude: ReadonlySet<string> | undefined, filter?: (t: BalancerTarget) => boolean): BalancerTarget {
  const useExclude = anyAllowed(ready, exclude) ? exclude : undefined;
  let total = 0;
  let count = 0;
  let first: BalancerTarget | undefined;
  let equal = true;
  for (let i = 0; i < ready.length; i++) {
    const t = ready[i]!;
    if (!allowed(t, useExclude) || (filter !== undefined && !filter(t))) continue;
    if (first === undefined) first = t;
    else if (t.weight !== first.weight) equal = false;
    total += t.weight;
    count++;
  }
  if (first === undefined) return ready[prng.nextInt(ready.length)]!;
  if (equal) {
    let n = prng.nextInt(count);
    for (let i = 0; i < ready.length; i++) {
      const t = ready[i]!;
      if (!allowed(t, useExclude) || (filter !== undefined && !filter(t))) continue;
      if (n-- === 0) return t;
    }
  }
  let r = prng.nextDouble() * total;
  for (let i = 0; i < ready.length; i++) {
    const t = ready[i]!;
    if (!allowed(t, useExclude) || (filter !== undefined && !filter(t))) continue;
    r -= t.weight;
    if (r < 0) return t;
  }
  return first;
}

class RandomBalancer implements Balancer {
  readonly name = 'random';
  constructor(private readonly prng: Prng) {}
  pick(ready: readonly BalancerTarget[], _key: unknown, exclude: ReadonlySet<string> | undefined): BalancerTarget {
    return weightedRandom(this.prng, ready, exclude);
  }
  onCallEnd(): void {}
  onTargetsChanged(): void {}
}

class RoundRobinBalancer implements Balancer {
  readonly name = 'round-robin';
  private next = -1;
  constructor(private readonly prng: Prng) {}
  pick(ready: readonly BalancerTarget[], _key: unknown, exclude: ReadonlySet<string> | undefined): BalancerTarget {
    if (this.next < 0) this.next = this.prng.nextInt(ready.length);
    const useExclude = anyAllowed(ready, exclude) ? exclude : undefined;
    for (let i = 0; i < ready.length; i++) {
      const t = ready[(this.next + i) % ready.length]!;
      if (!allowed(t, useExclude)) continue;
      this.next = (this.next + i + 1) % ready.length;
      return t;
    }
    return ready[0]!;
  }
  onCallEnd(): void {}
  onTargetsChanged(): void {}
}

class SmoothWeightedBalancer implements Balancer {
  readonly name = 'weighted-round-robin';
  private readonly current = new Map<string, { current: number; weight: number }>();
  pick(ready: readonly BalancerTarget[], _key: unknown, exclude: ReadonlySet<string> | undefined): BalancerTarget {
    const useExclude = anyAllowed(ready, exclude) ? exclude : undefined;
    let total = 0;
    let best: BalancerTarget | undefined;
    let bestState: { current: number; weight: number } | undefined;
    for (let i = 0; i < ready.length; i++) {
      const t = ready[i]!;
      if (!allowed(t, useExclude)) continue;
      let state = this.current.get(t.id);
      if (state === undefined || state.weight !== t.weight) {
        state = { current: 0, weight: t.weight };
        this.current.set(t.id, state);
      }
      state.current += t.weight;
      total += t.weight;
      if (bestState === undefined || state.current > bestState.current) {
        best = t;
        bestState = state;
      }
    }
    bestState!.current -= total;
    return best!;
  }
  onCallEnd(): void {}
  onTargetsChanged(ids: ReadonlySet<string>): void {
    for (const id of this.current.keys()) if (!ids.has(id)) this.current.delete(id);
  }
}

class LeastActiveBalancer implements Balancer {
  readonly name = 'least-active';
  constructor(private readonly prng: Prng) {}
  pick(ready: readonly BalancerTarget[], _key: unknown, exclude: ReadonlySet<string> | undefined): BalancerTarget {
    const useExclude = anyAllowed(ready, exclude) ? exclude : undefined;
    let least = Number.POSITIVE_INFINITY;
    for (let i = 0; i < ready.length; i++) {
      const t = ready[i]!;
      if (allowed(t, useExclude) && t.active < least) least = t.active;
    }
    return weightedRandom(this.prng, ready, useExclude, (t) => t.active === least);
  }
  onCallEnd(): void {}
  onTargetsChanged(): void {}
}

/** The first four bytes of MD5(text), little-endian, unsigned. */
export function hashKey(key: string | Uint8Array): number {
  const digest = createHash('md5').update(key).digest();
  return digest.readUInt32LE(0);
}

class ConsistentHashBalancer implements Balancer {
  readonly name = 'consistent-hash';
  private ringKey = '';
  private points = new Uint32Array(0);
  private owners: BalancerTarget[] = [];
  private ownerIds: string[] = [];
  constructor(
    private readonly prng: Prng,
    private readonly virtualNodes: number,
  ) {}

  pick(ready: readonly BalancerTarget[], key: string | Uint8Array | undefined, exclude: ReadonlySet<string> | undefined): BalancerTarget {
    if (key === undefined) return weightedRandom(this.prng, ready, exclude);
    this.ensureRing(ready);
    const useExclude = anyAllowed(ready, exclude) ? exclude : undefined;
    const hash = hashKey(key);
    const points = this.points;
    let lo = 0;
    let hi = points.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (points[mid]! < hash) lo = mid + 1;
      else hi = mid;
    }
    // Walk forward (wrapping) past excluded providers.
    for (let i = 0; i < points.length; i++) {
      const owner = this.owners[(lo + i) % points.length]!;
      if (allowed(owner, useExclude)) return this.current(ready, owner);
    }
    return ready[0]!;
  }

  onCallEnd(): void {}
  onTargetsChanged(): void {}

  /** The ring holds the objects of the set it was built from; return today's object of that id. */
  private current(ready: readonly BalancerTarget[], owner: BalancerTarget): BalancerTarget {
    for (let i = 0; i < ready.length; i++) if (ready[i]!.id === owner.id) return ready[i]!;
    return owner;
  }

  private ensureRing(ready: readonly BalancerTarget[]): void {
    let same = ready.length === this.ownerIds.length;
    if (same) {
      for (let i = 0; i < ready.length && same; i++) if (!this.ownerIds.includes(ready[i]!.id)) same = false;
    }
    if (same && this.ringKey !== '') return;
    const ids = ready.map((t) => t.id).sort();
    this.ringKey = ids.join('\n');
    this.ownerIds = ids;
    const entries: { point: number; owner: BalancerTarget }[] = [];
    for (const t of ready) {
      for (let i = 0; i < this.virtualNodes / 4; i++) {
        const digest = createHash('md5').update(`${t.address}-${i}`).digest();
        for (let k = 0; k < 4; k++) entries.push({ point: digest.readUInt32LE(k * 4), owner: t });
      }
    }
    entries.sort((a, b) => a.point - b.point || (a.owner.id < b.owner.id ? -1 : 1));
    this.points = Uint32Array.from(entries, (e) => e.point);
    this.owners = entries.map((e) => e.owner);
  }
}

interface EwmaState {
  costNs: number;
  lastNs: number;
}

class PeakEwmaBalancer implements Balancer {
  readonly name = 'p2c-peak-ewma';
  private readonly state = new Map<string, EwmaState>();
  constructor(
    private readonly prng: Prng,
    private readonly decayNs: number,
    private readonly defaultRttNs: number,
    private readonly failurePenaltyNs: number,
  ) {}

  pick(ready: readonly BalancerTarget[], _key: unknown, exclude: ReadonlySet<string> | undefined, nowNs: number): BalancerTarget {
    if (ready.length === 1) return ready[0]!;
    const useExclude = anyAllowed(ready, exclude) ? exclude : undefined;
    let candidates = ready.length;
    if (useExclude !== undefined) {
      candidates = 0;
      for (let i = 0; i < ready.length; i++) if (allowed(ready[i]!, useExclude)) candidates++;
    }
    if (candidates === 1) {
      for (let i = 0; i < ready.length; i++) if (allowed(ready[i]!, useExclude)) return ready[i]!;
    }
    const aIndex = this.prng.nextInt(candidates);
    let bIndex = this.prng.nextInt(candidates - 1);
    if (bIndex >= aIndex) bIndex++;
    const a = this.nth(ready, useExclude, aIndex);
    const b = this.nth(ready, useExclude, bIndex);
    return this.load(b, nowNs) < this.load(a, nowNs) ? b : a;
  }

  onCallEnd(target: BalancerTarget, rttNs: number, ok: boolean, nowNs: number): void {
    const x = ok ? Math.max(0, rttNs) : Math.max(rttNs, this.failurePenaltyNs);
    const s = this.state.get(target.id);
    if (s === undefined) {
      this.state.set(target.id, { costNs: x, lastNs: nowNs });
      return;
    }
    if (x > s.costNs) s.costNs = x;
    else {
      const w = Math.exp(-Math.max(0, nowNs - s.lastNs) / this.decayNs);
      s.costNs = s.costNs * w + x * (1 - w);
    }
    s.lastNs = nowNs;
  }

  onTargetsChanged(ids: ReadonlySet<string>): void {
    for (const id of this.state.keys()) if (!ids.has(id)) this.state.delete(id);
  }

  /** The cost of a target: its latency average, or defaultRttMs before its first call ends. */
  costNs(id: string): number {
    return this.state.get(id)?.costNs ?? this.defaultRttNs;
  }

  private load(t: BalancerTarget, _nowNs: number): number {
    return this.costNs(t.id) * (t.active + 1);
  }

  private nth(ready: readonly BalancerTarget[], exclude: ReadonlySet<string> | undefined, n: number): BalancerTarget {
    for (let i = 0; i < ready.length; i++) {
      const t = ready[i]!;
      if (!allowed(t, exclude)) continue;
      if (n-- === 0) return t;
    }
    return ready[0]!;
  }
}
