import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { IntMap } from '../../../src/util/int-map.js';
import { ErrorCode, SkeinError } from '../../../src/util/errors.js';

/**
 * IntMap (src/util/int-map.ts) against a Map: any sequence of sets and deletes leaves the same
 * entries, whatever the keys (consecutive call ids, keys that share home slots, the largest key).
 */

type Op = { readonly kind: 'set'; readonly key: number; readonly value: number } | { readonly kind: 'delete'; readonly key: number };

function check(map: IntMap<number>, model: Map<number, number>, probes: readonly number[]): void {
  assert.equal(map.size, model.size);
  for (const key of probes) {
    assert.equal(map.get(key), model.get(key), `get(${key})`);
    assert.equal(map.has(key), model.has(key), `has(${key})`);
  }
  assert.deepEqual([...map.valuesArray()].sort((a, b) => a - b), [...model.values()].sort((a, b) => a - b));
}

function run(keyArbitrary: fc.Arbitrary<number>): void {
  fc.assert(
    fc.property(
      fc.array(
        fc.oneof(
          fc.record({ kind: fc.constant('set' as const), key: keyArbitrary, value: fc.integer() }),
          fc.record({ kind: fc.constant('delete' as const), key: keyArbitrary }),
        ),
        { maxLength: 400 },
      ),
      (ops: Op[]) => {
        const map = new IntMap<number>(4);
        const model = new Map<number, number>();
        const probes = [...new Set(ops.map((op) => op.key))];
        for (const op of ops) {
          if (op.kind === 'set') {
            map.set(op.key, op.value);
            model.set(op.key, op.value);
          } else {
            assert.equal(map.delete(op.key), model.get(op.key), `delete(${op.key}) returns the value it removed`);
            model.delete(op.key);
          }
          check(map, model, probes);
        }
      },
    ),
    { numRuns: 300 },
  );
}

test('IntMap holds what a Map holds after any sets and deletes of small keys (many share home slots)', () => {
  run(fc.integer({ min: 0, max: 40 }));
});

test('IntMap holds what a Map holds after any sets and deletes of keys anywhere in [0, 2^31)', () => {
  run(fc.oneof(fc.integer({ min: 0, max: 0x7fffffff }), fc.constantFrom(0, 1, 0x7fffffff, 0x7ffffffe)));
});

test('IntMap under call-id churn: 64 in flight over a million ids keeps its size, and its table once it holds them', () => {
  const map = new IntMap<number>();
  let capacity = 0;
  for (let id = 1; id <= 1_000_000; id++) {
    map.set(id, id);
    if (id > 64) assert.equal(map.delete(id - 64), id - 64);
    if (id === 100) capacity = map.capacity;
  }
  assert.equal(map.size, 64);
  assert.equal(map.capacity, capacity, 'deletes leave no tombstones, so churn never grows the table');
  for (let id = 1_000_000 - 63; id <= 1_000_000; id++) assert.equal(map.get(id), id);
  assert.equal(map.get(1_000_000 - 64), undefined);
});

test('IntMap refuses a key outside [0, 2^31) naming it; lookups of such keys find nothing', () => {
  const map = new IntMap<string>();
  for (const bad of [-1, 1.5, 2 ** 31, Number.NaN]) {
    assert.throws(
      () => map.set(bad, 'x'),
      (error: unknown) => error instanceof SkeinError && error.code === ErrorCode.ARG_INVALID && error.message.includes(`key ${String(bad)} is invalid`),
    );
    assert.equal(map.has(bad), false);
    assert.equal(map.get(bad), undefined);
    assert.equal(map.delete(bad), undefined);
  }
  assert.equal(map.size, 0);
  map.set(3, 'three');
  map.clear();
  assert.equal(map.size, 0);
  assert.equal(map.get(3), undefined);
});
