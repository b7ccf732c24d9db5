import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { LinkedQueue, type QueueLinks } from '../../../src/util/linked-queue.js';

/** LinkedQueue (src/util/linked-queue.ts) against an array: same entries, same order, after any adds and removes. */

interface Entry extends QueueLinks<Entry> {
  readonly id: number;
}

function entry(id: number): Entry {
  return { id, prev: null, next: null, queued: false };
}

test('LinkedQueue keeps what an ordered list keeps after any adds and removes, walked both ways; removed entries hold no links', () => {
  fc.assert(
    fc.property(fc.array(fc.record({ add: fc.boolean(), id: fc.integer({ min: 0, max: 15 }) }), { maxLength: 300 }), (ops) => {
      const entries = Array.from({ length: 16 }, (_, id) => entry(id));
      const queue = new LinkedQueue<Entry>();
      const model: number[] = [];
      for (const op of ops) {
        const e = entries[op.id]!;
        if (op.add) {
          queue.add(e);
          if (!model.includes(op.id)) model.push(op.id);
        } else {
          assert.equal(queue.remove(e), model.includes(op.id));
          const at = model.indexOf(op.id);
          if (at >= 0) model.splice(at, 1);
        }
        assert.equal(queue.size, model.length);
        assert.deepEqual(queue.toArray().map((x) => x.id), model);
        const backwards: number[] = [];
        for (let x = queue.toArray().at(-1) ?? null; x !== null; x = x.prev) backwards.push(x.id);
        assert.deepEqual(backwards, [...model].reverse());
        for (const x of entries) {
          assert.equal(x.queued, model.includes(x.id));
          if (!x.queued) assert.ok(x.prev === null && x.next === null, `entry ${x.id} is out of the queue and links nothing`);
        }
      }
      queue.clear();
      assert.equal(queue.size, 0);
      assert.equal(queue.first, null);
      assert.ok(entries.every((x) => !x.queued && x.prev === null && x.next === null));
    }),
    { numRuns: 300 },
  );
});

test('LinkedQueue: an entry removed while walking, its successor read first, leaves the walk whole', () => {
  const queue = new LinkedQueue<Entry>();
  for (let id = 0; id < 10; id++) queue.add(entry(id));
  const seen: number[] = [];
  for (let e = queue.first, next: Entry | null = null; e !== null; e = next) {
    next = e.next;
    seen.push(e.id);
    if (e.id % 3 === 0) queue.remove(e);
  }
  assert.deepEqual(seen, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.deepEqual(queue.toArray().map((e) => e.id), [1, 2, 4, 5, 7, 8]);
});
