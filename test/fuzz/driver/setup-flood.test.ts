/**
 * Bounded run of the setup-flood fuzz target (part of `npm test`): SETUP floods of every shape
 * while a genuine publication connects and delivers; `npm run fuzz -- --target setup-flood
 * --minutes N` runs the same for longer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setupFloodTarget } from '../targets/setup-flood-target.js';
import { replayCommand } from '../fuzz-target.js';
import { fuzzSeed } from '../fuzz-seed.js';

test('setup floods: 100k flood datagrams over rounds of every shape, every genuine publication connects and delivers', { timeout: 120_000 }, async (t) => {
  const runs = setupFloodTarget.defaultRuns;
  const seed = fuzzSeed();
  t.diagnostic(`seed ${seed}; replay: ${replayCommand(setupFloodTarget.name, seed, runs)}`);
  const report = await setupFloodTarget.run({ seed, runs });
  t.diagnostic(`${report.runs} flood datagrams in ${report.elapsedMs} ms: ${JSON.stringify(report.details)}`);
  assert.ok(report.runs >= runs);
  assert.ok((report.details['rounds'] as number) >= 5, 'every one of the five shapes ran');
});
