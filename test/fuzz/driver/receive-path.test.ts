/**
 * Bounded run of the receive-path fuzz target (part of `npm test`): 100,000 generated and mutated
 * datagrams against a live driver pair in the simulator while a healthy stream runs on the same
 * receive endpoint. The target fails (naming seed and replay command) if anything throws, the
 * healthy stream is not delivered whole and in order, or a resource passes its limit.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { receivePathTarget } from '../targets/receive-path-target.js';
import { replayCommand } from '../fuzz-target.js';
import { fuzzSeed } from '../fuzz-seed.js';

const DATAGRAMS = 100_000;

test('receive path: 100k hostile datagrams, healthy stream intact, resources bounded', { timeout: 300_000 }, async (t) => {
  const seed = fuzzSeed();
  t.diagnostic(`seed ${seed}; replay: ${replayCommand(receivePathTarget.name, seed, DATAGRAMS)}`);
  const report = await receivePathTarget.run({ seed, runs: DATAGRAMS });
  const details = report.details as {
    healthyMessages: number;
    poison: number;
    invalidCounters: Record<string, number>;
    publisherInvalidCounters: Record<string, number>;
  };
  t.diagnostic(`${report.runs} datagrams in ${report.elapsedMs} ms: ${JSON.stringify(report.details)}`);
  assert.equal(report.runs, DATAGRAMS, 'every datagram was sent');
  assert.ok(details.healthyMessages > 1000, `the healthy stream carried ${details.healthyMessages} messages`);
  assert.ok(details.poison > 0, 'poison aimed at the healthy stream was sent');
  for (const counters of [details.invalidCounters, details.publisherInvalidCounters]) {
    const total = counters['Invalid packets'] ?? 0;
    const byReason = Object.entries(counters).filter(([k]) => k.startsWith('Invalid frames: ')).reduce((sum, [, v]) => sum + v, 0);
    assert.ok(total > 0, 'invalid packets were counted');
    assert.equal(byReason, total, 'every invalid packet was counted under a reason');
  }
});
