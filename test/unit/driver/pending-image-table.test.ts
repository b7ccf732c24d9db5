/**
 * The unestablished images of a receive endpoint: bounded, expiring, and fair across sources.
 * These tests state exactly what the eviction rule guarantees (docs/robustness.md).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PendingImageTable, PutResult } from '../../../src/driver/pending-image-table.js';
import { SeededPrng } from '../../../src/env/prng.js';

const STREAM = 1001;

function setup(sessionId: number, streamId = STREAM) {
  return { sessionId, streamId, initialTermId: 0, activeTermId: 0, termOffset: 0, termLength: 65536, mtu: 1408, flags: 0 };
}

test('a new session is added; a repeat refreshes it with the latest fields, source and deadline', () => {
  const table = new PendingImageTable(4);
  assert.equal(table.put(setup(1), '10.0.0.1', 5000, 100), PutResult.ADDED);
  assert.equal(table.put({ ...setup(1), activeTermId: 3 }, '10.0.0.2', 5001, 200), PutResult.REFRESHED);
  assert.equal(table.size, 1);
  const entry = table.get(STREAM, 1)!;
  assert.equal(entry.activeTermId, 3);
  assert.equal(entry.srcAddress, '10.0.0.2');
  assert.equal(entry.deadlineNs, 200);
  assert.equal(table.countFrom('10.0.0.1', 5000), 0);
  assert.equal(table.countFrom('10.0.0.2', 5001), 1);
  assert.equal(table.get(STREAM + 1, 1), undefined, 'sessions are per stream');
});

test('entries expire at their deadline, oldest first, and refreshes move the deadline', () => {
  const table = new PendingImageTable(8);
  table.put(setup(1), 'a', 1, 100);
  table.put(setup(2), 'a', 1, 200);
  table.put(setup(3), 'b', 1, 300);
  table.put(setup(1), 'a', 1, 400);
  assert.equal(table.expire(199), 0);
  assert.equal(table.expire(300), 2);
  assert.deepEqual([1, 2, 3].map((s) => table.get(STREAM, s) !== undefined), [true, false, false]);
  assert.equal(table.expire(400), 1);
  assert.equal(table.size, 0);
  assert.equal(table.addressCount, 0, 'no empty source group is kept');
});

test('one source flooding at the bound evicts only its own entries: another source\'s entry stays', () => {
  const table = new PendingImageTable(16);
  table.put(setup(7), '192.0.2.1', 4000, Infinity);
  let evictions = 0;
  for (let i = 0; i < 100_000; i++) {
    if (table.put(setup(1000 + i), '198.51.100.9', 6000, Infinity) === PutResult.ADDED_AFTER_EVICTION) evictions++;
  }
  assert.equal(table.size, 16);
  assert.ok(table.get(STREAM, 7) !== undefined, 'the genuine entry survived 100 000 flood SETUPs');
  assert.equal(table.countFrom('198.51.100.9', 6000), 15);
  assert.equal(evictions, 100_000 - 15);
  // The flood's newest 15 are the ones held.
  for (let i = 100_000 - 15; i < 100_000; i++) assert.ok(table.get(STREAM, 1000 + i) !== undefined);
});

test('within one address, the port holding the most is evicted first (a flood and a publisher on one host)', () => {
  const table = new PendingImageTable(16);
  table.put(setup(7), '127.0.0.1', 4000, Infinity);
  for (let i = 0; i < 10_000; i++) table.put(setup(1000 + i), '127.0.0.1', 6000, Infinity);
  assert.ok(table.get(STREAM, 7) !== undefined);
  assert.equal(table.countFrom('127.0.0.1', 6000), 15);
});

test('one host flooding from many ports evicts only its own entries while another address holds fewer', () => {
  const table = new PendingImageTable(64);
  table.put(setup(7), '192.0.2.1', 4000, Infinity);
  for (let i = 0; i < 10_000; i++) table.put(setup(1000 + i), '198.51.100.9', 10_000 + (i % 500), Infinity);
  assert.ok(table.get(STREAM, 7) !== undefined);
  assert.equal(table.size, 64);
});

test('a flood from more addresses than the bound: an entry whose address holds only it survives bound − 1 newer entries', () => {
  const capacity = 32;
  const prng = new SeededPrng(5);
  for (let trial = 0; trial < 50; trial++) {
    const table = new PendingImageTable(capacity);
    // Fill with a random mix of sources, some holding several entries.
    let session = 0;
    const flood = (): PutResult => table.put(setup(++session + 10_000), `10.1.0.${prng.nextUint32() % 200}`, 9000, Infinity);
    const warmUp = prng.nextUint32() % 500;
    for (let i = 0; i < warmUp; i++) flood();
    table.put(setup(7), '192.0.2.1', 4000, Infinity);
    let survived = 0;
    while (table.get(STREAM, 7) !== undefined && survived < 10 * capacity) {
      flood();
      if (table.get(STREAM, 7) !== undefined) survived++;
    }
    assert.ok(survived >= capacity - 1, `trial ${trial}: survived ${survived} newer entries, at least ${capacity - 1} promised`);
  }
});

test('removing a stream drops its entries and keeps the others', () => {
  const table = new PendingImageTable(8);
  table.put(setup(1, 1), 'a', 1, Infinity);
  table.put(setup(2, 2), 'a', 1, Infinity);
  table.removeStream(1);
  assert.equal(table.size, 1);
  assert.equal(table.get(1, 1), undefined);
  assert.ok(table.get(2, 2) !== undefined);
  table.remove(table.get(2, 2)!);
  assert.equal(table.size, 0);
  assert.equal(table.addressCount, 0);
});
