/**
 * Whole clusters of 3 and 5 consensus members under the simulator (test/support/consensus-sim.ts):
 * message loss, duplication, delay and reordering, partitions both ways and one way, crashes and
 * restarts at any moment, disk faults (fail-stop) and wall-clock jumps; invariants checked after every event; after the faults stop the cluster
 * elects a leader and every member applies a last command. A failing seed is named in the error
 * and replays exactly.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runConsensusSim } from '../support/consensus-sim.js';

const SEEDS = Number(process.env['SKEIN_CONSENSUS_SIM_SEEDS'] ?? 200);

test('the same seed gives the same run; another seed another', () => {
  const a = runConsensusSim({ seed: 7, members: 3, durationMs: 20_000 });
  const b = runConsensusSim({ seed: 7, members: 3, durationMs: 20_000 });
  const c = runConsensusSim({ seed: 8, members: 3, durationMs: 20_000 });
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
});

for (const members of [3, 5]) {
  test(`${members} members, ${SEEDS} seeds of 300 simulated seconds with faults: invariants hold, and the cluster recovers`, () => {
    const totals = {
      crashes: 0, restarts: 0, partitions: 0, asymmetricPartitions: 0, messagesLost: 0, messagesDuplicated: 0, clockJumps: 0, diskFaults: 0, diskFaultStops: 0, leadersElected: 0, committedCommands: 0, logTruncations: 0, termsDropped: 0, crashLosses: 0, paddings: 0, fragmentedEntries: 0,
    };
    for (let seed = 1; seed <= SEEDS; seed++) {
      const r = runConsensusSim({ seed: seed * 1000 + members, members, durationMs: 300_000 });
      for (const key of Object.keys(totals) as (keyof typeof totals)[]) totals[key] += r[key];
    }
    // Every fault class was injected, and work got done through them; catch-up had to drop disagreeing entries and whole
    // terms; crashes took back entries not yet durable; logs were padded at term ends and held fragmented entries.
    for (const [key, value] of Object.entries(totals)) assert.ok(value > 0, `${key} = ${value}`);
    assert.ok(totals.leadersElected > SEEDS, `leaders elected ${totals.leadersElected}: elections happened beyond the first`);
  });
}

test('members that keep only 512 bytes of applied log in memory and read the rest back from disk: invariants hold, and the cluster recovers (20 seeds of 300 s, 3 and 5 members)', () => {
  let readBack = 0;
  let truncations = 0;
  for (const members of [3, 5]) {
    for (let seed = 1; seed <= 20; seed++) {
      const r = runConsensusSim({ seed: seed * 7919 + members, members, durationMs: 300_000, retainedLogBytes: 512 });
      readBack += r.entriesReadBack;
      truncations += r.logTruncations;
    }
  }
  // Catch-ups and restarts read from before what memory held, and catch-up still dropped disagreeing entries.
  assert.ok(readBack > 1000, `entries read back from disk: ${readBack}`);
  assert.ok(truncations > 0, `log truncations: ${truncations}`);
});

test('harsher: faults every second on average, 10% loss, short timeouts (100 seeds of 120 s, 3 and 5 members)', () => {
  for (const members of [3, 5]) {
    for (let seed = 1; seed <= 100; seed++) {
      runConsensusSim({ seed: seed * 7919 + members, members, durationMs: 120_000, faultIntervalMs: 1000, loss: 0.1, settings: { leaderHeartbeatTimeoutNs: 500e6, electionTimeoutNs: 300e6 } });
    }
  }
});

test('a single-member cluster leads at once and after every restart, in a newer term', () => {
  const r = runConsensusSim({ seed: 5, members: 1, durationMs: 60_000 });
  assert.ok(r.committedCommands > 100);
  assert.equal(r.leadersElected, 1 + r.restarts, "one new term per start");
});

