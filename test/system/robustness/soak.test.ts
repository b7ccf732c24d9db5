import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runSoak } from '../../soak/soak-runner.js';

/**
 * A short soak (about 25 s; `npm run soak -- --minutes N` runs the long one): two streams, six
 * processes, 5% loss and 5% reordering on every path, each stream's second publisher restarted
 * every 6 s. Every publisher session must arrive complete with its end of stream, and no
 * long-lived process may grow its heap floor or handle count beyond the soak's tolerance.
 */
test('short soak: every stream complete under loss, reordering and restarts; heap and handles stable', { timeout: 120_000 }, async (t) => {
  const result = await runSoak({ durationMs: 24_000, streams: 2, restartIntervalMs: 6000, sampleIntervalMs: 2000, ratePerSecond: 1000, seed: 11 });
  for (const line of result.table.split('\n')) t.diagnostic(line);
  t.diagnostic(`${result.sessions.length} sessions, ${result.messages} messages, ${result.restarts} publisher restarts`);
  assert.deepEqual(result.problems, []);
  assert.ok(result.ok);
  assert.ok(result.restarts >= 4, `publishers were restarted (${result.restarts})`);
  assert.ok(result.sessions.length >= 2 * 2 + result.restarts, 'every publisher session was checked');
  assert.ok(result.sessions.every((s) => s.sent > 0 && s.received === s.sent && s.endOfStream));
});
