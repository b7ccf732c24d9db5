/**
 * A short run of the RPC fleet soak (`npm run soak -- --rpc-fleet` runs 1,000 providers for as
 * long as asked): 200 real providers in two processes flap for 15 s, one process frozen with
 * SIGSTOP once, under one consumer's calls. Heap and handles of all three processes stay flat,
 * the consumer ends with exactly the listed providers READY, every driver's counters come back to
 * where they started, and both hosts close cleanly.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runRpcFleetSoak } from '../../soak/rpc-fleet-soak.js';

test('RPC fleet soak, 200 providers on real sockets for 15 s: flat, converged, nothing leaked', { timeout: 150_000 }, async (t) => {
  const result = await runRpcFleetSoak({ durationMs: 15_000, providers: 200, hosts: 2, flapsPerSecond: 10, sampleMs: 1000, freezeEveryMs: 10_000, freezeMs: 1500, seed: 5, log: (line) => t.diagnostic(line) });
  assert.deepEqual(result.problems, []);
  assert.ok(result.figures.changes! >= 100 && result.figures.untold! > 0 && result.figures.announcements! > 0, JSON.stringify(result.figures));
  assert.equal(result.figures.freezes, 1, JSON.stringify(result.figures));
  assert.ok(result.figures.calls! > 1000, JSON.stringify(result.figures));
});
