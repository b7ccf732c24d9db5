/**
 * A bounded run of `npm run jepsen`: four clients against three member processes while members
 * are killed and restarted or paused and resumed, one at a time; the history (indeterminate
 * operations as Jepsen's :info) is linearizable by the suite's checker, and the run did what it
 * is for: operations answered, faults injected.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { runJepsen } from '../../support/cluster-jepsen.js';
import { toPorcupineJson, fromPorcupineJson } from '../../../src/sim/linearizability.js';
import { stopAll } from '../../support/processes.js';

after(() => stopAll());

test('jepsen (bounded): clients against three member processes under kills and pauses; the history is linearizable', { timeout: 180_000 }, async () => {
  const r = await runJepsen({ durationMs: 20_000, seed: 7, nemesisIntervalMs: 2500 });
  assert.equal(r.verdict.verdict, 'ok', JSON.stringify({ ...r.verdict, operations: r.operations }));
  assert.ok(r.answered > 100, `answered ${r.answered}`);
  assert.ok(r.kills + r.pauses >= 3, `faults ${r.kills} kills, ${r.pauses} pauses`);
  assert.equal(fromPorcupineJson(toPorcupineJson(r.history)).length, r.history.length, 'the history in Porcupine\'s JSON');
});
