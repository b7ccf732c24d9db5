import { ErrorCode, SkeinError } from './errors.js';

const EMPTY = -1;
const MIN_CAPACITY = 16;
const MAX_KEY = 0x7fffffff;

/**
 * A map from integers in [0, 2^31) to values, for entries added and removed at a high rate (calls
 * in flight keyed by call id). Open addressing with linear probing in typed arrays, deletion by
 * shifting the entries behind back (no tombstones), so churn allocates nothing and never rehashes;
 * the table only grows, doubling when it is half full.
 *
 * Why not a Map: V8 rehashes a Map or Set that entries keep being added to and deleted from, and
 * the table it leaves behind points to its successor and keeps its old entries. Once a table has
 * been promoted to the old generation, each of those dead tables keeps the next one, and the
 * entries in it, alive through every scavenge until a full collection: a consumer that added and
 * deleted one entry per call promoted about a third of everything it allocated.
 */
export class IntMap<V> {
  private keys: Int32Array;
  private values: (V | undefined)[];
  private mask: number;
  private shift: number;
  private count = 0;

  constructor(initialCapacity = MIN_CAPACITY) {
    let capacity = MIN_CAPACITY;
    while (capacity < initialCapacity * 2) capacity *= 2;
    this.keys = new Int32Array(capacity).fill(EMPTY);
    this.values = new Array<V | undefined>(capacity).fill(undefined);
    this.mask = capacity - 1;
    this.shift = 32 - Math.log2(capacity);
  }

  get size(): number {
    return this.count;
  }

  /** Slots in the table (twice the entries it holds before it grows, at least). */
  get capacity(): number {
    return this.keys.length;
  }

  get(key: number): V | undefined {
    const keys = this.keys;
    const mask = this.mask;
    for (let i = this.home(key); ; i = (i + 1) & mask) {
      const k = keys[i]!;
      if (k === EMPTY) return undefined;
      if (k === key) return this.values[i];
    }
  }

  has(key: number): boolean {
    const keys = this.keys;
    const mask = this.mask;
    for (let i = this.home(key); ; i = (i + 1) & mask) {
      const k = keys[i]!;
      if (k === EMPTY) return false;
      if (k === key) return true;
    }
  }

  /** Adds or replaces; throws ARG_INVALID for a key that is not an integer in [0, 2^31). */
  set(key: number, value: V): void {
    if (!(Number.isInteger(key) && key >= 0 && key <= MAX_KEY)) {
      throw new SkeinError(ErrorCode.ARG_INVALID, `IntMap key ${String(key)} is invalid; expected an integer in [0, ${MAX_KEY}]`);
    }
    const keys = this.keys;
    const mask = this.mask;
    for (let i = this.home(key); ; i = (i + 1) & mask) {
      const k = keys[i]!;
      if (k === key) {
        this.values[i] = value;
        return;
      }
      if (k === EMPTY) {
        keys[i] = key;
        this.values[i] = value;
        if (++this.count * 2 > keys.length) this.grow();
        return;
      }
    }
  }

  /** Removes the entry; returns its value, undefined when there was none. */
  delete(key: number): V | undefined {
    const keys = this.keys;
    const values = this.values;
    const mask = this.mask;
    let i = this.home(key);
    for (; ; i = (i + 1) & mask) {
      const k = keys[i]!;
      if (k === EMPTY) return undefined;
      if (k === key) break;
    }
    const removed = values[i];
    // Shift back each following entry of the run that the hole now separates from its home slot.
    let hole = i;
    for (let j = (i + 1) & mask; keys[j] !== EMPTY; j = (j + 1) & mask) {
      const home = this.home(keys[j]!);
      // The entry at j may fill the hole unless its home lies cyclically in (hole, j].
      const homeAfterHole = hole <= j ? home > hole && home <= j : home > hole || home <= j;
      if (homeAfterHole) continue;
      keys[hole] = keys[j]!;
      values[hole] = values[j];
      hole = j;
    }
    keys[hole] = EMPTY;
    values[hole] = undefined;
    this.count--;
    return removed;
  }

  /** Every value, in table order (a new array: for closing paths, not per message). */
  valuesArray(): V[] {
    const out: V[] = [];
    const keys = this.keys;
    for (let i = 0; i < keys.length; i++) if (keys[i] !== EMPTY) out.push(this.values[i] as V);
    return out;
  }

  clear(): void {
    if (this.count === 0) return;
    this.keys.fill(EMPTY);
    this.values.fill(undefined);
    this.count = 0;
  }

  /** The key's home slot: Fibonacci hashing (the top bits of the key times 2^32 / phi), which spreads consecutive ids. */
  private home(key: number): number {
    return Math.imul(key, 0x9e3779b1) >>> this.shift;
  }

  private grow(): void {
    const oldKeys = this.keys;
    const oldValues = this.values;
    const capacity = oldKeys.length * 2;
    this.keys = new Int32Array(capacity).fill(EMPTY);
    this.values = new Array<V | undefined>(capacity).fill(undefined);
    this.mask = capacity - 1;
    this.shift = 32 - Math.log2(capacity);
    const keys = this.keys;
    const mask = this.mask;
    for (let s = 0; s < oldKeys.length; s++) {
      const key = oldKeys[s]!;
      if (key === EMPTY) continue;
      let i = this.home(key);
      while (keys[i] !== EMPTY) i = (i + 1) & mask;
      keys[i] = key;
      this.values[i] = oldValues[s];
    }
  }
}

