/**
 * Bounded run of the receive-path fuzz target over real UDP sockets on 127.0.0.1 (part of
 * `npm test`): 100,000 generated and mutated datagrams against an embedded driver while a healthy
 * stream runs on the same receive endpoint.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { receivePathUdpTarget } from '../targets/receive-path-udp-target.js';
import { replayCommand } from '../fuzz-target.js';
import { fuzzSeed } from '../fuzz-seed.js';

test('receive path over UDP: 100k hostile datagrams, healthy stream intact', { timeout: 240_000 }, async (t) => {
  const runs = 100_000;
  const seed = fuzzSeed();
  t.diagnostic(`seed ${seed}; replay: ${replayCommand(receivePathUdpTarget.name, seed, runs)}`);
  const report = await receivePathUdpTarget.run({ seed, runs });
  t.diagnostic(`${report.runs} datagrams in ${report.elapsedMs} ms: ${JSON.stringify(report.details)}`);
  assert.equal(report.runs, runs);
  assert.ok((report.details['healthyMessages'] as number) > 100, 'the healthy stream carried messages');
});
