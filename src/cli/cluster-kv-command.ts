/**
 * `skein cluster kv --ingress <endpoints> get|put|cas …`: one command to a running cluster's
 * key-value service over a client session (docs/cluster.md, "Members as processes"), for trying a
 * cluster from the shell as etcdctl does etcd. Each command goes through the log, so a get reads
 * what every acknowledged put before it wrote.
 */
import { Option, type Command } from 'commander';
import type { ClusterClient } from '../cluster/cluster-client.js';
import type { KvAnswer, KvCommand } from '../cluster/service/kv-service.js';
import { integerOption } from './cli-options.js';
import { action, EXIT_FAILURE, EXIT_OK, exitProcess, usageError } from './cli-runtime.js';
import { withClusterSession } from './cluster-session.js';

const OPS = ['get', 'put', 'cas'] as const;

interface KvCliOptions {
  ingress: string;
  timeoutMs: number;
  absent?: boolean;
}

export function registerClusterKvCommand(cluster: Command): Command {
  const kv = cluster
    .command('kv')
    .summary('Get, put or compare-and-set a key in a running cluster\'s key-value service')
    .usage('--ingress <endpoints> get <key> | put <key> <value> | cas <key> <expected> <value> | cas --absent <key> <value>')
    .description(
      'Send one command to the key-value service of a running cluster (skein cluster node or skein cluster start) over a client session and ' +
        'print its answer as JSON: get {op, key, value} (value null when the key is absent), put {op, key, ok}, cas {op, key, ok} (ok false when ' +
        'the key did not hold the expected value, or with --absent was present; nothing was written then), each with the leader that answered. ' +
        'Commands go through the log, so a get sees every put acknowledged before it. Exit 0 when answered; 1 when no leader answers within ' +
        '--timeout-ms or the outcome is unknown (the error says whether the command may have been applied); 2 for bad arguments.',
    )
    .argument('<op>', OPS.join(' | '))
    .argument('<args...>', 'the key, then for put the value, for cas the expected value (or --absent) and the new value')
    .requiredOption('--ingress <endpoints>', 'the members\' ingress endpoints, as Aeron writes them (0=host:port,1=host:port,...), as skein cluster start prints them')
    .addOption(new Option('--absent', 'cas: swap only if the key is absent (instead of an expected value)'))
    .option('--timeout-ms <ms>', 'how long to look for the leader and to wait for the answer', integerOption(1, 3_600_000), 10_000);
  kv.action(action('cluster kv', (op: string, args: string[], options: KvCliOptions) => run(kvCommand(kv, op, args, options), options)));
  return kv;
}

/** The command the arguments describe; a usage error (exit 2) naming what is wrong otherwise. */
function kvCommand(command: Command, op: string, args: readonly string[], options: KvCliOptions): KvCommand {
  const expect = (names: readonly string[]): void => {
    if (args.length !== names.length) {
      usageError(command, `${op}${options.absent === true ? ' --absent' : ''} takes ${names.join(' and ')} (${names.length} argument${names.length === 1 ? '' : 's'}), got ${args.length}: ${args.map((a) => JSON.stringify(a)).join(' ')}`);
    }
  };
  if (options.absent === true && op !== 'cas') usageError(command, `--absent is for cas only, not ${op}`);
  switch (op) {
    case 'get':
      expect(['<key>']);
      return { op: 'get', key: args[0]! };
    case 'put':
      expect(['<key>', '<value>']);
      return { op: 'put', key: args[0]!, value: args[1]! };
    case 'cas':
      if (options.absent === true) {
        expect(['<key>', '<value>']);
        return { op: 'cas', key: args[0]!, expected: null, value: args[1]! };
      }
      expect(['<key>', '<expected>', '<value>']);
      return { op: 'cas', key: args[0]!, expected: args[1]!, value: args[2]! };
    default:
      return usageError(command, `unknown op '${op}': one of ${OPS.join(', ')}`);
  }
}

async function run(command: KvCommand, options: KvCliOptions): Promise<void> {
  const { encodeKv, decodeKv } = await import('../cluster/service/kv-service.js');
  const outcome = await withClusterSession({ ingress: options.ingress, timeoutMs: options.timeoutMs }, async (client: ClusterClient) => {
    const answer = decodeKv<KvAnswer>(await client.send(encodeKv(command)));
    const by = { leaderId: client.leaderId, leadershipTermId: client.leadershipTermId };
    if (answer.error !== undefined) return { code: EXIT_FAILURE, value: { op: command.op, key: command.key, error: answer.error, ...by } };
    if (command.op === 'get') return { code: EXIT_OK, value: { op: 'get', key: command.key, value: answer.value ?? null, ...by } };
    return { code: EXIT_OK, value: { op: command.op, key: command.key, ok: answer.ok === true, ...by } };
  });
  exitProcess(outcome.code, `${JSON.stringify(outcome.value)}\n`);
}
