/**
 * A replicated key-value service (KvService in a ServiceContainer on every member) under the
 * consensus simulator, with clients that send commands one at a time with their session id and
 * sequence, resend on timeouts and redirects, and give up (indeterminate) after 10 s: the clients'
 * history must be linearizable (checked by src/sim/linearizability.ts) and no member may give a
 * command to its service twice. Now and then a client stalls for 12 s (longer than the session
 * timeout) between commands or right after sending one, reading nothing meanwhile: the leader
 * closes its session; its last command is still answered from the closed session's record, a newer
 * one is rejected (certain not to have applied) and the client opens a new session. The leader asks for a snapshot every 15 s; every member takes it
 * at the same position (identical bytes), records it in its recording log, and a restarted member
 * recovers from the latest one and replays the log after it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runConsensusSim } from '../support/consensus-sim.js';

test('a replicated key-value service with 5 clients, 3 and 5 members (30 seeds of 60 s each, and 20 harsh): every history is linearizable, no command applies twice, and members restart from snapshots', () => {
  let operations = 0;
  let indeterminate = 0;
  let answeredAgain = 0;
  let snapshots = 0;
  let recoveries = 0;
  let rejected = 0;
  let pauses = 0;
  const runs = [
    ...Array.from({ length: 30 }, (_, i) => ({ seed: 50_000 + i, members: i % 2 === 0 ? 3 : 5, durationMs: 60_000, clients: 5 })),
    ...Array.from({ length: 20 }, (_, i) => ({
      seed: 60_000 + i, members: 3, durationMs: 60_000, clients: 5, faultIntervalMs: 1000, loss: 0.1, settings: { leaderHeartbeatTimeoutNs: 500e6, electionTimeoutNs: 300e6 },
    })),
  ];
  for (const options of runs) {
    const r = runConsensusSim(options);
    assert.equal(r.linearizability?.verdict, 'ok', `seed ${options.seed}: ${r.linearizability?.verdict}`);
    operations += r.history!.length;
    indeterminate += r.indeterminate!;
    answeredAgain += r.commandsAnsweredAgain!;
    snapshots += r.snapshotsTaken!;
    recoveries += r.recoveriesFromSnapshot!;
    rejected += r.commandsRejected!;
    pauses += r.clientPauses!;
  }
  // The runs did what they are for: many operations, some whose outcome the client never learnt,
  // and resent commands answered from the session table instead of applied again.
  assert.ok(operations > 10_000, `operations ${operations}`);
  assert.ok(indeterminate > 0, `indeterminate ${indeterminate}`);
  assert.ok(answeredAgain > 0, `answered again ${answeredAgain}`);
  // Snapshots every 15 s on every member, and members restarted from them rather than from the log's start.
  assert.ok(snapshots > 100, `snapshots ${snapshots}`);
  assert.ok(recoveries > 10, `recoveries from a snapshot ${recoveries}`);
  // Clients stalled past the session timeout: their sessions were closed and later commands rejected.
  assert.ok(pauses > 0 && rejected > 0, `pauses ${pauses}, rejected ${rejected}`);
});

for (const kind of ['shutdown', 'abort'] as const) {
  test(`${kind} (A003 under simulation): every member terminates at the same position despite 20% message loss, then the cluster starts again from it (10 seeds each of 3 and 5 members)`, () => {
    let recovered = 0;
    for (let i = 0; i < 20; i++) {
      const r = runConsensusSim({ seed: (kind === 'shutdown' ? 70_000 : 80_000) + i, members: i % 2 === 0 ? 3 : 5, durationMs: 30_000, clients: 3, terminate: kind });
      assert.equal(r.termination?.kind, kind);
      assert.ok(r.termination!.position > 0);
      // Bounded by resends, not by the 10 s termination timeout.
      assert.ok(r.termination!.stoppedAfterMs < 5000, `seed ${r.seed}: stopping took ${r.termination!.stoppedAfterMs} ms`);
      recovered += r.termination!.recoveredFromSnapshot;
    }
    // After a shutdown every member restarts from the snapshot taken at the termination position.
    if (kind === 'shutdown') assert.equal(recovered, 10 * 3 + 10 * 5);
  });
}
