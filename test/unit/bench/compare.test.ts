import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { bestIndex, pairedRatio, rankAgainstBest } from '../../../bench/support/compare.js';
import { spreadOf } from '../../../bench/support/stats.js';

describe('pairedRatio', () => {
  it('divides repetition by repetition and reports the ratio of the medians', () => {
    const ratio = pairedRatio([10, 20, 30], [5, 5, 10]);
    assert.equal(ratio.value, 20 / 5);
    assert.deepEqual([ratio.paired.median, ratio.paired.min, ratio.paired.max, ratio.paired.count], [3, 2, 4, 3]);
  });

  it('skips repetitions where either side is missing or the denominator is zero', () => {
    const ratio = pairedRatio([10, Number.NaN, 30, 8], [5, 4, Number.NaN, 0]);
    assert.equal(ratio.paired.count, 1);
    assert.equal(ratio.paired.median, 2);
  });

  it('is NaN when nothing pairs up', () => {
    const ratio = pairedRatio([Number.NaN], [1]);
    assert.ok(Number.isNaN(ratio.value));
    assert.equal(ratio.paired.count, 0);
  });

  it('a system against itself is 1 in every repetition', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 1e-3, max: 1e9, noNaN: true }), { minLength: 1, maxLength: 9 }), (values) => {
        const ratio = pairedRatio(values, values);
        assert.equal(ratio.paired.min, 1);
        assert.equal(ratio.paired.max, 1);
        assert.equal(ratio.value, 1);
      }),
      { numRuns: 100 },
    );
  });
});

describe('bestIndex and rankAgainstBest', () => {
  it('picks the highest or the lowest finite value', () => {
    assert.equal(bestIndex([3, Number.NaN, 7, 7], 'higher'), 2);
    assert.equal(bestIndex([3, Number.NaN, 1, 7], 'lower'), 2);
    assert.equal(bestIndex([Number.NaN], 'higher'), -1);
  });

  it('chooses the best among competing entrants only and ranks everyone against it', () => {
    const ranked = rankAgainstBest(
      [
        { id: 'skein', competes: false, values: [200, 220, 180] },
        { id: 'ring', competes: false, values: [900, 900, 900] },
        { id: 'nats', competes: true, values: [100, 110, 90] },
        { id: 'redis', competes: true, values: [50, 55, 45] },
      ],
      'higher',
    );
    assert.equal(ranked.bestId, 'nats');
    const skein = ranked.rows.find((r) => r.id === 'skein')!;
    assert.equal(skein.spread.median, 200);
    assert.equal(skein.vsBest!.value, 2);
    assert.equal(skein.vsBest!.paired.min, 2);
    assert.equal(ranked.rows.find((r) => r.id === 'nats')!.vsBest!.value, 1);
    assert.equal(ranked.rows.find((r) => r.id === 'redis')!.vsBest!.value, 0.5);
  });

  it('has no best when no competing entrant has a value', () => {
    const ranked = rankAgainstBest([{ id: 'skein', competes: false, values: [1, 2, 3] }], 'lower');
    assert.equal(ranked.bestId, null);
    assert.equal(ranked.rows[0]!.vsBest, null);
  });

  it('for latency, the best is the lowest and slower systems rank above 1', () => {
    const ranked = rankAgainstBest(
      [
        { id: 'a', competes: true, values: [10, 12, 11] },
        { id: 'b', competes: true, values: [20, 24, 22] },
      ],
      'lower',
    );
    assert.equal(ranked.bestId, 'a');
    assert.equal(ranked.rows[1]!.vsBest!.value, 2);
  });
});

describe('spreadOf', () => {
  it('median of an even count is the mean of the middle two; NaN values are left out', () => {
    assert.deepEqual(spreadOf([4, 1, Number.NaN, 3, 2]), { median: 2.5, min: 1, max: 4, count: 4 });
  });
});
