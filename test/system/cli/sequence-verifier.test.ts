/** The checker behind `skein sub --verify` tells gaps, duplicates and late arrivals apart. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { SequencePayload, readSequence } from '../../../src/cli/sequence-payload.js';
import { SequenceVerifier } from '../../../src/cli/sequence-verifier.js';

function feed(verifier: SequenceVerifier, sessionId: number, sequences: number[], size = 32): void {
  const payload = new SequencePayload(size);
  for (const s of sequences) {
    payload.setSequence(s);
    verifier.onMessage(sessionId, payload.buffer, 0, size);
  }
}

describe('SequenceVerifier', () => {
  it('accepts consecutive numbers per session, starting where each session starts', () => {
    const v = new SequenceVerifier();
    feed(v, 1, [0, 1, 2, 3]);
    feed(v, 2, [10, 11, 12]);
    feed(v, 1, [4, 5]);
    assert.deepEqual(v.report(), { sessions: 2, gaps: 0, missing: 0, duplicates: 0, outOfOrder: 0, malformed: 0 });
    assert.equal(v.hasProblems, false);
  });

  it('counts a gap, its missing numbers, a late arrival and a duplicate', () => {
    const v = new SequenceVerifier();
    feed(v, 7, [0, 1, 4, 5, 2, 2, 5]);
    assert.deepEqual(v.report(), { sessions: 1, gaps: 1, missing: 1, duplicates: 2, outOfOrder: 1, malformed: 0 });
    assert.equal(v.hasProblems, true);
  });

  it('flags short messages and wrong pattern bytes as malformed', () => {
    const v = new SequenceVerifier();
    v.onMessage(1, new Uint8Array(4), 0, 4);
    const payload = new SequencePayload(16);
    payload.buffer[12] = 0;
    v.onMessage(1, payload.buffer, 0, 16);
    assert.equal(v.report().malformed, 2);
  });

  it('round-trips sequence numbers up to 2^53 - 1', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), (n) => {
        const payload = new SequencePayload(8);
        payload.setSequence(n);
        return readSequence(payload.buffer, 0) === n;
      }),
      { numRuns: 200 },
    );
  });

  it('any order of 0..n-1 leaves nothing missing or duplicated, and every gap is filled late', () => {
    fc.assert(
      fc.property(fc.shuffledSubarray([...Array(40).keys()], { minLength: 40, maxLength: 40 }), (order) => {
        const v = new SequenceVerifier();
        feed(v, 1, [0, ...order.filter((s) => s !== 0)]);
        const r = v.report();
        return r.missing === 0 && r.duplicates === 0 && r.malformed === 0 && r.outOfOrder >= r.gaps;
      }),
      { numRuns: 200 },
    );
  });
});
