/**
 * A short run of the cluster soak (`npm run soak -- --cluster` runs it for as long as asked): three
 * member processes take 5,000 puts a second for 45 s with a 1 MiB in-memory log window; every put
 * is answered and no member's resident memory grows once the window has filled (a member that
 * kept every entry grew 30-50 MiB over the same run, checked by hand with
 * `--retained-log-bytes 1073741824`).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runClusterSoak } from '../../soak/cluster-soak.js';

test('cluster soak, 45 s at 5,000 puts/s: every put answered, members\' resident memory flat', { timeout: 120_000 }, async (t) => {
  const result = await runClusterSoak({ durationMs: 45_000, ratePerSecond: 5000, sampleIntervalMs: 2000, retainedLogBytes: 1024 * 1024, seed: 4, log: (line) => t.diagnostic(line) });
  assert.deepEqual(result.problems, []);
  assert.ok(result.figures.answered > 200_000 && result.figures.answered === result.figures.sent, JSON.stringify(result.figures));
  assert.equal(result.figures.rssFloorsMiB.length, 3);
});
