/**
 * A short run of the RPC soak (`npm run soak -- --rpc` runs it for as long as asked): 1,000
 * flapping providers in a connection holder and real providers restarted every second under a
 * consumer's calls; heap and handles stay flat, every real provider is READY at the end, nothing
 * is left open.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runRpcSoak } from '../../soak/rpc-soak.js';

test('RPC soak, 12 s: flapping providers leave heap and handles flat', { timeout: 60_000 }, async (t) => {
  const result = await runRpcSoak({ durationMs: 12_000, sampleMs: 1000, restartMs: 1000, seed: 3, log: (line) => t.diagnostic(line) });
  assert.deepEqual(result.problems, []);
  assert.ok(result.figures.restarts! >= 10, `real providers restarted: ${JSON.stringify(result.figures)}`);
  assert.ok(result.figures.quarantineTransitions! > 0 && result.figures.readyTransitions! > 1000, JSON.stringify(result.figures));
  assert.ok(result.figures.calls! > 1000, JSON.stringify(result.figures));
});
