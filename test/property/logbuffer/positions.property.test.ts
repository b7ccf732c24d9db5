/** Position arithmetic: round trips, wrap-around of term ids, exactness up to the maximum position. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  computeFragmentedFrameLength,
  computePosition,
  computeTermBeginPosition,
  computeTermIdFromPosition,
  computeTermOffsetFromPosition,
  indexByPosition,
  indexByTerm,
  indexByTermCount,
  maxPossiblePosition,
} from '../../../src/logbuffer/log-buffer-descriptor.js';

const RUNS = { numRuns: 200 };
const int32 = fc.integer({ min: -0x80000000, max: 0x7fffffff });
const nearLimits = fc.constantFrom(0x7fffffff, 0x7ffffffe, 0x7fffff00, -0x80000000, -0x7fffffff, -1, 0);
const initialTermId = fc.oneof(int32, nearLimits);
const shift = fc.integer({ min: 16, max: 30 });

/** (initialTermId, shift, termCount, termOffset) with the position below the maximum. */
const location = fc
  .tuple(initialTermId, shift, fc.double({ min: 0, max: 1, noNaN: true }), fc.integer({ min: 0, max: 2 ** 30 - 1 }))
  .map(([init, bits, fraction, rawOffset]) => {
    const termLength = 2 ** bits;
    const termCountMax = maxPossiblePosition(termLength) / termLength - 1;
    const termCount = Math.min(termCountMax, Math.floor(fraction * (termCountMax + 1)));
    return { init, bits, termLength, termCount, termOffset: rawOffset % termLength };
  });

test('position ↔ (termId, termOffset) round trips for every initial term id, wrapping as int32', () => {
  fc.assert(
    fc.property(location, ({ init, bits, termLength, termCount, termOffset }) => {
      const termId = (init + termCount) | 0;
      const position = computePosition(termId, termOffset, bits, init);
      assert.equal(position, termCount * termLength + termOffset);
      assert.ok(Number.isSafeInteger(position));
      assert.ok(position < maxPossiblePosition(termLength));
      assert.equal(computeTermIdFromPosition(position, bits, init), termId);
      assert.equal(computeTermOffsetFromPosition(position, bits), termOffset);
      assert.equal(computeTermBeginPosition(termId, bits, init) + termOffset, position);
      assert.equal(indexByPosition(position, bits), termCount % 3);
      assert.equal(indexByTerm(init, termId), indexByTermCount(termCount));
    }),
    RUNS,
  );
});

test('positions grow by one term length per term id, across the int32 wrap', () => {
  fc.assert(
    fc.property(initialTermId, shift, fc.integer({ min: 0, max: 2 ** 22 }), (init, bits, termCount) => {
      const termId = (init + termCount) | 0;
      const next = (termId + 1) | 0;
      assert.equal(
        computeTermBeginPosition(next, bits, init) - computeTermBeginPosition(termId, bits, init),
        2 ** bits,
      );
      assert.ok(computePosition(termId, 2 ** bits - 32, bits, init) < computePosition(next, 0, bits, init));
    }),
    RUNS,
  );
});

test('the maximum position is a whole number of terms, ≤ 2^53 - 1, with an int32 term count', () => {
  fc.assert(
    fc.property(shift, initialTermId, (bits, init) => {
      const termLength = 2 ** bits;
      const max = maxPossiblePosition(termLength);
      assert.ok(max <= Number.MAX_SAFE_INTEGER);
      assert.equal(max % termLength, 0);
      assert.ok(max / termLength <= 2 ** 31);
      const lastTermId = computeTermIdFromPosition(max - 1, bits, init);
      assert.equal(computePosition(lastTermId, termLength - 1, bits, init), max - 1);
    }),
    RUNS,
  );
});

test('fragmented length is the sum of aligned frames of at most maxPayload bytes each', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 16 * 1024 * 1024 }), fc.integer({ min: 1, max: 2046 }), (length, units) => {
      const maxPayload = units * 32;
      let sum = 0;
      for (let remaining = length; remaining > 0; remaining -= Math.min(remaining, maxPayload)) {
        sum += Math.ceil((Math.min(remaining, maxPayload) + 32) / 32) * 32;
      }
      assert.equal(computeFragmentedFrameLength(length, maxPayload), sum);
    }),
    RUNS,
  );
});
