#!/usr/bin/env node
// Soak run (dist must be built; `npm run soak` builds first):
//   npm run soak -- --minutes N [--streams S] [--restart-seconds R] [--sample-seconds T]
//                   [--rate MSGS_PER_SEC] [--loss P] [--reorder P] [--seed N]
//   npm run soak -- --flood --minutes N [--flood-rate DATAGRAMS_PER_SEC] [--messages M] [--seed N]
// Publishers and subscribers in several processes under loss and reordering, with a publisher of
// every stream restarted periodically; prints heap and handle counts over time as a table, checks
// every stream complete at the end, and exits 1 if a stream is incomplete or a long-lived process
// grew its heap or handles beyond the tolerance (see test/soak/soak-runner.ts), 2 on bad usage.
// With --rpc: 1,000 flapping providers in a connection holder and real providers restarted under a
// consumer's calls; heap and handles must stay flat (see test/soak/rpc-soak.ts).
// With --rpc-fleet: 1,000 real providers (--providers) on loopback UDP in --hosts processes, flapping
// (restarted, moved, killed, a whole process frozen now and then) under one consumer's calls; heap
// and handles of every process stay flat, the consumer ends with exactly the listed providers READY,
// and every driver's counters come back to where they started (see test/soak/rpc-fleet-soak.ts).
// With --cluster: three `skein cluster node` processes take puts at --rate (default 5000/s here) for
// the whole run; every put must be answered and no member's resident memory may grow (see
// test/soak/cluster-soak.ts; --retained-log-bytes sets the members' in-memory log window).
// With --flood: a SETUP flood against a subscriber while a new `skein pub` connects and delivers
// round after round (see test/soak/flood-soak.ts); prints each round and the figures at the end.
import { runSoak } from '../dist/test/soak/soak-runner.js';
import { runFloodSoak } from '../dist/test/soak/flood-soak.js';
import { runRpcSoak } from '../dist/test/soak/rpc-soak.js';
import { runRpcFleetSoak } from '../dist/test/soak/rpc-fleet-soak.js';
import { runClusterSoak } from '../dist/test/soak/cluster-soak.js';

const USAGE = `usage: npm run soak -- --minutes N [--streams S] [--restart-seconds R] [--sample-seconds T] [--rate MSGS_PER_SEC] [--loss P] [--reorder P] [--seed N]
       npm run soak -- --flood --minutes N [--flood-rate DATAGRAMS_PER_SEC] [--messages M] [--seed N]
       npm run soak -- --rpc --minutes N [--sample-seconds T] [--seed N]
       npm run soak -- --rpc-fleet --minutes N [--providers N] [--hosts N] [--flaps PER_SECOND] [--sample-seconds T] [--seed N]
       npm run soak -- --cluster --minutes N [--rate PUTS_PER_SEC] [--sample-seconds T] [--retained-log-bytes N] [--seed N]`;

const OPTIONS = {
  '--minutes': { key: 'minutes', min: 0.05, max: 24 * 60 },
  '--streams': { key: 'streams', min: 1, max: 16, integer: true },
  '--restart-seconds': { key: 'restartSeconds', min: 1, max: 3600 },
  '--sample-seconds': { key: 'sampleSeconds', min: 0.5, max: 3600 },
  '--rate': { key: 'rate', min: 1, max: 1_000_000, integer: true },
  '--loss': { key: 'loss', min: 0, max: 0.5 },
  '--reorder': { key: 'reorder', min: 0, max: 0.5 },
  '--seed': { key: 'seed', min: -(2 ** 31), max: 2 ** 31 - 1, integer: true },
  '--flood-rate': { key: 'floodRate', min: 1, max: 1_000_000, integer: true },
  '--messages': { key: 'messages', min: 1, max: 100_000_000, integer: true },
  '--providers': { key: 'providers', min: 1, max: 4000, integer: true },
  '--hosts': { key: 'hosts', min: 1, max: 16, integer: true },
  '--flaps': { key: 'flaps', min: 0.1, max: 1000 },
  '--retained-log-bytes': { key: 'retainedLogBytes', min: 0, max: 2 ** 30, integer: true },
};

function usage(message) {
  process.stderr.write(`soak: ${message}\n${USAGE}\n`);
  process.exit(2);
}

function parse(argv) {
  const values = { minutes: 10, streams: 2, restartSeconds: 10, sampleSeconds: 10, rate: 1000, loss: 0.05, reorder: 0.05, seed: 1, flood: false, floodRate: 25_000, messages: 20_000 };
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i];
    if (name === '--help' || name === '-h') {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    }
    if (name === '--flood') {
      values.flood = true;
      continue;
    }
    if (name === '--rpc') {
      values.rpc = true;
      continue;
    }
    if (name === '--rpc-fleet') {
      values.rpcFleet = true;
      continue;
    }
    if (name === '--cluster') {
      values.cluster = true;
      continue;
    }
    const spec = OPTIONS[name];
    if (spec === undefined) usage(`unknown option '${name}'`);
    const text = argv[++i];
    const value = Number(text);
    if (text === undefined || !Number.isFinite(value) || value < spec.min || value > spec.max || (spec.integer && !Number.isInteger(value))) {
      usage(`option '${name}' argument '${text}' is invalid; expected ${spec.integer ? 'an integer' : 'a number'} in [${spec.min}, ${spec.max}]`);
    }
    values[spec.key] = value;
  }
  return values;
}

/** Prints a run's figures and verdict (its problems when it failed) and exits 0 or 1. */
function finish(flag, result, okText) {
  process.stdout.write(`\n${JSON.stringify(result.figures)}\n`);
  if (result.ok) process.stdout.write(`soak ${flag}: ${okText}\n`);
  else for (const problem of result.problems) process.stdout.write(`soak ${flag}: FAILED: ${problem}\n`);
  process.exit(result.ok ? 0 : 1);
}

const args = parse(process.argv.slice(2));
if (args.cluster) {
  const argv = process.argv.slice(2);
  const cluster = await runClusterSoak({
    durationMs: Math.round(args.minutes * 60_000),
    ratePerSecond: argv.includes('--rate') ? args.rate : 5000,
    sampleIntervalMs: Math.round(args.sampleSeconds * 1000),
    ...(args.retainedLogBytes === undefined ? {} : { retainedLogBytes: args.retainedLogBytes }),
    seed: args.seed,
    log: (line) => process.stdout.write(`${line}\n`),
  });
  finish('--cluster', cluster, 'every put answered; no member\'s resident memory grew beyond the tolerance');
}
if (args.rpc) {
  const rpc = await runRpcSoak({
    durationMs: Math.round(args.minutes * 60_000),
    sampleMs: Math.round(args.sampleSeconds * 1000),
    seed: args.seed,
    log: (line) => process.stdout.write(`${line}\n`),
  });
  finish('--rpc', rpc, 'providers flapped; heap and handles within tolerance; every real provider READY at the end');
}
if (args.rpcFleet) {
  const fleet = await runRpcFleetSoak({
    durationMs: Math.round(args.minutes * 60_000),
    sampleMs: Math.round(args.sampleSeconds * 1000),
    ...(args.providers === undefined ? {} : { providers: args.providers }),
    ...(args.hosts === undefined ? {} : { hosts: args.hosts }),
    ...(args.flaps === undefined ? {} : { flapsPerSecond: args.flaps }),
    seed: args.seed,
    log: (line) => process.stdout.write(`${line}\n`),
  });
  finish('--rpc-fleet', fleet, 'providers flapped on real sockets; heap and handles within tolerance; the consumer ends with every listed provider READY and nothing else; every driver\'s counters back to where they started');
}
if (args.flood) {
  const flood = await runFloodSoak({
    durationMs: Math.round(args.minutes * 60_000),
    floodRatePerSecond: args.floodRate,
    messagesPerRound: args.messages,
    seed: args.seed,
    log: (line) => process.stdout.write(`${line}\n`),
  });
  process.stdout.write(`\n${JSON.stringify(flood.figures, null, 2)}\n`);
  if (flood.ok) process.stdout.write(`soak --flood: ${flood.rounds.length} publishers connected and delivered everything during the flood\n`);
  else for (const problem of flood.problems) process.stdout.write(`soak --flood: FAILED: ${problem}\n`);
  process.exit(flood.ok ? 0 : 1);
}
const result = await runSoak({
  durationMs: Math.round(args.minutes * 60_000),
  streams: args.streams,
  restartIntervalMs: Math.round(args.restartSeconds * 1000),
  sampleIntervalMs: Math.round(args.sampleSeconds * 1000),
  ratePerSecond: args.rate,
  faults: { lossRate: args.loss, reorderRate: args.reorder },
  seed: args.seed,
  log: (line) => process.stdout.write(`${line}\n`),
});

process.stdout.write(`\nsessions checked: ${result.sessions.length}, messages delivered: ${result.messages}, publisher restarts: ${result.restarts}\n`);
for (const s of result.sessions) {
  process.stdout.write(`  stream ${s.stream} session ${s.sessionId}: sent ${s.sent}, received ${s.received}, end of stream ${s.endOfStream}\n`);
}
if (result.ok) {
  process.stdout.write('soak: every stream complete; heap and handles within tolerance\n');
} else {
  for (const problem of result.problems) process.stdout.write(`soak: FAILED: ${problem}\n`);
}
process.exit(result.ok ? 0 : 1);
