/**
 * Bounded run of every decoder fuzz target (part of `npm test`): hostile bytes never make the
 * acceptance gate or a flyweight throw, and valid frames round trip. The seed is printed; replay a
 * failure with `npm run fuzz -- --target NAME --seed S` or SKEIN_FUZZ_SEED=S.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DECODER_TARGETS } from '../targets/all-targets.js';
import { replayCommand } from '../fuzz-target.js';
import { fuzzSeed } from '../fuzz-seed.js';

const seed = fuzzSeed();

for (const target of DECODER_TARGETS) {
  test(`fuzz ${target.name}: ${target.description}`, { timeout: 60_000 }, async (t) => {
    t.diagnostic(`seed ${seed}; replay: ${replayCommand(target.name, seed)}`);
    const report = await target.run({ seed });
    assert.equal(report.runs, target.defaultRuns);
  });
}
