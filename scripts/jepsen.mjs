#!/usr/bin/env node
// Clients against three cluster member processes under kills and pauses (dist must be built;
// `npm run jepsen` builds first):
//   npm run jepsen -- [--minutes M] [--seed S] [--clients C] [--keys K] [--partitions] [--retained-log-bytes N] [--history-out FILE]
// Three `skein cluster node` processes, C clients (a ClusterClient session each) doing get, put
// and compare-and-set on K keys, and a nemesis that SIGKILLs and restarts a member or SIGSTOPs and
// resumes one, one at a time, every few seconds. With --partitions (root, Linux) the run happens in
// a network lab (test/support/netlab.ts): this script builds it, runs itself again in the lab's hub
// namespace with every member in a namespace of its own, and removes the lab afterwards, even on
// failure; the nemesis then also isolates a member or cuts the link between two, and heals. The history is checked for linearizability
// (indeterminate operations as Jepsen's :info); --history-out writes it in Porcupine's JSON.
// Prints a JSON summary; exits 1 when the history is not linearizable, 2 on bad usage.
import { writeFileSync } from 'node:fs';
import { runJepsen } from '../dist/test/support/cluster-jepsen.js';
import { toPorcupineJson } from '../dist/src/sim/linearizability.js';
import { stopAll } from '../dist/test/support/processes.js';
import { canMakeLabs, NetLab } from '../dist/test/support/netlab.js';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const USAGE = 'usage: npm run jepsen -- [--minutes M] [--seed S] [--clients C] [--keys K] [--partitions] [--retained-log-bytes N] [--history-out FILE]';
const args = process.argv.slice(2);
const options = { minutes: 1, seed: 1, clients: 4, keys: 3, historyOut: null, partitions: false };
for (let i = 0; i < args.length; i++) {
  const arg = args[i];
  const number = (min, max, integer = true) => {
    const value = Number(args[++i]);
    if (!(integer ? Number.isInteger(value) : Number.isFinite(value)) || value < min || value > max) {
      process.stderr.write(`jepsen: ${arg} needs a number in [${min}, ${max}], got ${JSON.stringify(args[i])}\n${USAGE}\n`);
      process.exit(2);
    }
    return value;
  };
  if (arg === '--minutes') options.minutes = number(0.1, 1440, false);
  else if (arg === '--seed') options.seed = number(0, 2 ** 31);
  else if (arg === '--clients') options.clients = number(1, 64);
  else if (arg === '--keys') options.keys = number(1, 1000);
  else if (arg === '--history-out') options.historyOut = args[++i];
  else if (arg === '--partitions') options.partitions = true;
  else if (arg === '--retained-log-bytes') options.retainedLogBytes = number(0, 2 ** 30);
  else {
    process.stderr.write(`jepsen: unknown argument ${JSON.stringify(arg)}\n${USAGE}\n`);
    process.exit(2);
  }
}
const labEnv = process.env.SKEIN_JEPSEN_LAB;
if (options.partitions && labEnv === undefined) {
  // Build the lab, run this script in its hub namespace, and remove the lab whatever happens.
  if (!canMakeLabs()) {
    process.stderr.write('jepsen: --partitions needs root and network namespaces (ip netns)\n');
    process.exit(2);
  }
  const lab = NetLab.create(`j${process.pid}`, 3);
  const line = lab.exec('hub', process.execPath, [fileURLToPath(import.meta.url), ...args]);
  const child = spawn(line.command, line.args, { stdio: 'inherit', env: { ...process.env, SKEIN_JEPSEN_LAB: JSON.stringify(lab.description) } });
  const forward = (signal) => child.kill(signal);
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  const code = await new Promise((resolve) => child.on('exit', (c, signal) => resolve(c ?? (signal === null ? 1 : 128))));
  lab.remove();
  process.exit(code);
}
try {
  const r = await runJepsen({
    ...(labEnv === undefined ? {} : { lab: JSON.parse(labEnv) }), durationMs: options.minutes * 60_000, seed: options.seed, clients: options.clients, keys: options.keys,
    ...(options.retainedLogBytes === undefined ? {} : { retainedLogBytes: options.retainedLogBytes }), log: (line) => process.stderr.write(`${line}\n`) });
  if (options.historyOut !== null) writeFileSync(options.historyOut, toPorcupineJson(r.history));
  process.stdout.write(`${JSON.stringify({ verdict: r.verdict.verdict, reason: r.verdict.reason, operations: r.operations, answered: r.answered, failed: r.failed, indeterminate: r.indeterminate, kills: r.kills, pauses: r.pauses, partitions: r.partitions, healMisses: r.healMisses })}\n`);
  process.exitCode = r.verdict.verdict === 'illegal' ? 1 : 0;
} finally {
  await stopAll();
}
