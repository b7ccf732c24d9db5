/**
 * Bounded runs of `npm run jepsen`: four clients against three member processes while members
 * are killed and restarted or paused and resumed, one at a time; the history (indeterminate
 * operations as Jepsen's :info) is linearizable by the suite's checker, and the run did what it
 * is for: operations answered, faults injected. Where this process may make network namespaces
 * (root on Linux, as in CI), a second run goes through `npm run jepsen -- --partitions`: every
 * member in a namespace of its own behind a bridge, with isolations and cut links added to the
 * faults, and the lab removed afterwards.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { runJepsen } from '../../support/cluster-jepsen.js';
import { toPorcupineJson, fromPorcupineJson } from '../../../src/sim/linearizability.js';
import { startProcess, stopAll } from '../../support/processes.js';
import { canMakeLabs, labNamespaces, removeLabs } from '../../support/netlab.js';

const JEPSEN_SCRIPT = fileURLToPath(new URL('../../../../scripts/jepsen.mjs', import.meta.url));
const labPrefixes: string[] = [];

after(async () => {
  await stopAll();
  for (const prefix of labPrefixes) removeLabs(prefix);
});

test('jepsen (bounded): clients against three member processes under kills and pauses; the history is linearizable', { timeout: 180_000 }, async () => {
  const r = await runJepsen({ durationMs: 20_000, seed: 7, nemesisIntervalMs: 2500 });
  assert.equal(r.verdict.verdict, 'ok', JSON.stringify({ ...r.verdict, operations: r.operations }));
  assert.ok(r.answered > 100, `answered ${r.answered}`);
  assert.ok(r.kills + r.pauses >= 3, `faults ${r.kills} kills, ${r.pauses} pauses`);
  assert.equal(fromPorcupineJson(toPorcupineJson(r.history)).length, r.history.length, 'the history in Porcupine\'s JSON');
});

test(
  'jepsen --partitions (bounded): members in network namespaces, isolated and cut apart as well as killed and paused; linearizable, and the lab is gone after',
  { timeout: 240_000, skip: canMakeLabs() ? false : 'needs root and network namespaces (ip netns), as CI has' },
  async () => {
    const run = startProcess(process.execPath, [JEPSEN_SCRIPT, '--partitions', '--minutes', '0.5', '--seed', '11']);
    const prefix = `j${run.pid}-`;
    labPrefixes.push(prefix);
    const status = await run.waitForExit(200_000);
    const summaryLine = run.stdout.trim().split('\n').pop() ?? '';
    assert.equal(status.code, 0, `jepsen --partitions exited with ${status.code}: ${run.stderr.slice(-3000)}`);
    const summary = JSON.parse(summaryLine) as { verdict: string; answered: number; partitions: number; kills: number; pauses: number };
    assert.equal(summary.verdict, 'ok', summaryLine);
    assert.ok(summary.answered > 100, summaryLine);
    assert.ok(summary.partitions >= 2, `partitions: ${summaryLine}`);
    assert.deepEqual(labNamespaces(prefix), [], 'the lab\'s namespaces were removed');
  },
);
