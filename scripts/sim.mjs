#!/usr/bin/env node
// Whole-cluster consensus simulation over many seeds (dist must be built; `npm run sim` builds first):
//   npm run sim -- [--seeds N] [--first-seed S] [--members 3|5] [--seconds T] [--harsh]
//                  [--clients C [--history-out FILE]]
// Each seed runs a cluster of consensus members for T simulated seconds under message loss,
// duplication, delay and reordering, partitions both ways and one way, crashes and restarts, disk
// faults (the member stops and restarts later) and wall-clock jumps, checking the invariants after
// every event (see test/support/consensus-sim.ts); then the faults stop and the cluster must elect a leader and apply a last command on every member. --harsh
// makes faults more frequent, loses 10% of messages and shortens the timeouts. Prints each failing
// seed with what broke (replay it with --first-seed S --seeds 1) and exits 1 if any failed, 2 on
// bad usage. With --clients, every member runs the replicated key-value service and C clients
// send it commands; each seed's history must be linearizable (a history the checker cannot decide
// within its step budget is reported as undecided, not failed), and --history-out writes the last
// seed's history as Porcupine's JSON (replay a failing seed alone to get its history).
import { writeFileSync } from 'node:fs';
import { runConsensusSim } from '../dist/test/support/consensus-sim.js';
import { toPorcupineJson } from '../dist/src/sim/linearizability.js';

const USAGE = 'usage: npm run sim -- [--seeds N] [--first-seed S] [--members 3|5] [--seconds T] [--harsh] [--clients C [--history-out FILE]]';
const args = process.argv.slice(2);
const options = { seeds: 200, firstSeed: 1, members: [3, 5], seconds: 300, harsh: false, clients: 0, historyOut: null };
for (let i = 0; i < args.length; i++) {
  const arg = args[i];
  const number = (min, max) => {
    const value = Number(args[++i]);
    if (!Number.isInteger(value) || value < min || value > max) {
      process.stderr.write(`sim: ${arg} needs an integer in [${min}, ${max}], got ${JSON.stringify(args[i])}\n${USAGE}\n`);
      process.exit(2);
    }
    return value;
  };
  if (arg === '--seeds') options.seeds = number(1, 1_000_000);
  else if (arg === '--first-seed') options.firstSeed = number(-(2 ** 31), 2 ** 31 - 1);
  else if (arg === '--members') {
    const m = number(1, 9);
    options.members = [m];
  } else if (arg === '--seconds') options.seconds = number(1, 86_400);
  else if (arg === '--harsh') options.harsh = true;
  else if (arg === '--clients') options.clients = number(0, 64);
  else if (arg === '--history-out') {
    options.historyOut = args[++i];
    if (options.historyOut === undefined || options.historyOut.startsWith('--')) {
      process.stderr.write(`sim: --history-out needs a file name\n${USAGE}\n`);
      process.exit(2);
    }
  }
  else {
    process.stderr.write(`sim: unknown argument ${JSON.stringify(arg)}\n${USAGE}\n`);
    process.exit(2);
  }
}
const harsh = options.harsh ? { faultIntervalMs: 1000, loss: 0.1, settings: { leaderHeartbeatTimeoutNs: 500e6, electionTimeoutNs: 300e6 } } : {};
let failed = 0;
let undecided = 0;
const started = Date.now();
const writeHistory = (history, why) => {
  if (options.historyOut === null || history === undefined) return;
  writeFileSync(options.historyOut, toPorcupineJson(history));
  process.stdout.write(`history of ${history.length} operations (${why}) written to ${options.historyOut}\n`);
};
for (const members of options.members) {
  const totals = { commands: 0, leaders: 0, crashes: 0, partitions: 0, asymmetricPartitions: 0, lost: 0, clockJumps: 0, diskFaults: 0 };
  for (let seed = options.firstSeed; seed < options.firstSeed + options.seeds; seed++) {
    try {
      const r = runConsensusSim({ seed, members, durationMs: options.seconds * 1000, ...harsh, ...(options.clients > 0 ? { clients: options.clients } : {}) });
      if (seed === options.firstSeed + options.seeds - 1 && members === options.members.at(-1)) writeHistory(r.history, `seed ${seed}, ${members} members`);
      // 'illegal' throws inside the run; 'unknown' means the checker's step budget ran out first.
      if (r.linearizability !== undefined && r.linearizability.verdict === 'unknown') {
        undecided++;
        process.stdout.write(`UNDECIDED seed=${seed} members=${members}: the linearizability checker ${r.linearizability.reason}\n`);
      }
      totals.commands += r.committedCommands;
      totals.leaders += r.leadersElected;
      totals.crashes += r.crashes;
      totals.partitions += r.partitions;
      totals.asymmetricPartitions += r.asymmetricPartitions;
      totals.lost += r.messagesLost;
      totals.clockJumps += r.clockJumps;
      totals.diskFaults += r.diskFaults;
    } catch (error) {
      failed++;
      process.stdout.write(`FAIL ${error instanceof Error ? error.message : String(error)}\n`);
    }
  }
  process.stdout.write(`${members} members: ${options.seeds} seeds from ${options.firstSeed}, ${options.seconds} s each: ${totals.commands} commands committed, ${totals.leaders} leaders, ${totals.crashes} crashes, ${totals.partitions} partitions, ${totals.asymmetricPartitions} one-way partitions, ${totals.diskFaults} disk faults, ${totals.clockJumps} clock jumps, ${totals.lost} messages lost\n`);
}
process.stdout.write(`${failed === 0 ? 'all seeds passed' : `${failed} seed(s) failed`}${undecided > 0 ? ` (${undecided} history/histories too hard for the checker's step budget)` : ''} in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
process.exit(failed === 0 ? 0 : 1);
