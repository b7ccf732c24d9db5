/**
 * `skein cluster-tool <cluster-dir> <command>`: what Aeron's ClusterTool does, against a member's
 * directory (docs/cluster.md, "Cluster tool"): describe, list-members, leader, recording-log read
 * the member's files; snapshot, suspend, resume, shutdown and abort ask the running member (its
 * leader) through the directory and wait for its answer. With --ingress, leader and snapshot go
 * over the network instead, on a client session (snapshot as Aeron's AdminRequest).
 */
import type { Command } from 'commander';
import { resolve } from 'node:path';
import { randomUUID } from 'node:crypto';
import { integerOption } from './cli-options.js';
import { action, EXIT_FAILURE, EXIT_OK, exitProcess, sleep, usageError } from './cli-runtime.js';
import { withClusterSession } from './cluster-session.js';

const COMMANDS = ['describe', 'list-members', 'leader', 'recording-log', 'errors', 'snapshot', 'suspend', 'resume', 'shutdown', 'abort'] as const;
type ToolCommand = (typeof COMMANDS)[number];

export function registerClusterToolCommand(program: Command): Command {
  const command = program
    .command('cluster-tool')
    .summary('Inspect and control a cluster member through its directory or over the network (as Aeron\'s ClusterTool)')
    .usage('<cluster-dir> <command> | --ingress <endpoints> <leader|snapshot>')
    .description(
      'Commands: describe (the member\'s status, consensus state and recording log), list-members (members and endpoints, and who leads), ' +
        'leader (the leader\'s id), recording-log (the recording log\'s entries), errors (the distinct errors its running process logged), snapshot | suspend | resume | shutdown | abort (asks the running member, which must ' +
        'lead, and waits for its answer; suspend stops the cluster taking client messages, timers and session timeouts until resume). ' +
        'Over the network (--ingress, no directory): leader (opens a client session and says who leads) and snapshot (an admin request over a client session, as Aeron\'s ' +
        'AeronCluster.sendAdminRequestToTakeASnapshot). Prints JSON; exit 1 when the member refuses or does not answer within --timeout-ms.',
    )
    .argument('<cluster-dir>', 'the member\'s directory (--cluster-dir of skein cluster node); with --ingress, the command')
    .argument('[command]', COMMANDS.join(' | '))
    .option('--ingress <endpoints>', 'the members\' ingress endpoints, as Aeron writes them (0=host:port,1=host:port,...): act over the network instead of through a directory')
    .option('--timeout-ms <ms>', 'how long to wait for the member to answer', integerOption(1, 3_600_000), 10_000);
  command.action(
    action('cluster-tool', (first: string, second: string | undefined, options: { timeoutMs: number; ingress?: string }) => {
      if (options.ingress !== undefined) {
        if (second !== undefined) usageError(command, `with --ingress give only the command (leader or snapshot), not a directory: got '${first} ${second}'`);
        return runOverNetwork(options.ingress, first, options, command);
      }
      if (second === undefined) usageError(command, `missing the command after the directory '${first}': one of ${COMMANDS.join(', ')}`);
      return run(resolve(first), second, options, command);
    }),
  );
  return command;
}

const NETWORK_COMMANDS = ['leader', 'snapshot'] as const;

async function runOverNetwork(endpoints: string, name: string, options: { timeoutMs: number }, command: Command): Promise<void> {
  if (!(NETWORK_COMMANDS as readonly string[]).includes(name)) {
    usageError(command, `'${name}' over the network: only ${NETWORK_COMMANDS.join(' and ')} (the others read the member's directory)`);
  }
  const outcome = await withClusterSession({ ingress: endpoints, timeoutMs: options.timeoutMs }, async (client): Promise<{ code: number; text: string }> => {
    if (name === 'leader') return { code: EXIT_OK, text: JSON.stringify({ leaderId: client.leaderId, leadershipTermId: client.leadershipTermId }) };
    const leaderId = client.leaderId;
    try {
      await client.requestSnapshot();
      return { code: EXIT_OK, text: JSON.stringify({ action: 'snapshot', ok: true, detail: `snapshot begun by leader ${leaderId} in term ${client.leadershipTermId}` }) };
    } catch (error) {
      return { code: EXIT_FAILURE, text: JSON.stringify({ action: 'snapshot', ok: false, detail: (error as Error).message }) };
    }
  });
  exitProcess(outcome.code, `${outcome.text}\n`);
}

async function run(dir: string, name: string, options: { timeoutMs: number }, command: Command): Promise<void> {
  if (!(COMMANDS as readonly string[]).includes(name)) usageError(command, `unknown command '${name}': one of ${COMMANDS.join(', ')}`);
  const tool = name as ToolCommand;
  const { nodeFiles } = await import('../env/files.js');
  const control = await import('../cluster/cluster-control.js');
  const print = (value: unknown): void => {
    process.stdout.write(`${JSON.stringify(value)}\n`);
  };
  if (!nodeFiles.exists(dir)) throw new Error(`no cluster directory ${dir}`);
  const status = control.readJson<import('../cluster/cluster-control.js').MemberStatus>(nodeFiles, `${dir}/${control.STATUS_FILE}`);
  const needStatus = (): import('../cluster/cluster-control.js').MemberStatus => {
    if (status === undefined) throw new Error(`${dir} has no ${control.STATUS_FILE}: no member has run there`);
    return status;
  };
  switch (tool) {
    case 'describe': {
      const { ConsensusStateFile } = await import('../cluster/consensus/consensus-state-file.js');
      const { RecordingLog } = await import('../cluster/recording-log.js');
      const log = RecordingLog.open({ files: nodeFiles, clusterDir: dir });
      try {
        print({ status: needStatus(), consensusState: new ConsensusStateFile(nodeFiles, dir).read(), recordingLog: log.entries });
      } finally {
        log.close();
      }
      break;
    }
    case 'list-members': {
      const s = needStatus();
      print({ memberId: s.memberId, leaderId: s.leaderId, leadershipTermId: s.leadershipTermId, members: s.members });
      break;
    }
    case 'leader':
      print({ leaderId: needStatus().leaderId, leadershipTermId: needStatus().leadershipTermId });
      break;
    case 'errors': {
      const s = needStatus();
      if (s.skeinDir === undefined) throw new Error(`the member in ${dir} did not say where its process publishes its errors`);
      const { liveSnapshots } = await import('./live-snapshots.js');
      const files = liveSnapshots(s.skeinDir, s.pid);
      if (files.length === 0) throw new Error(`no running process ${s.pid} publishes in ${s.skeinDir} (is the member running, with snapshots published?)`);
      const snapshot = files[0]!.snapshot;
      print({ memberId: s.memberId, pid: s.pid, errors: snapshot.errors, errorOverflowCount: snapshot.errorOverflowCount });
      break;
    }
    case 'recording-log': {
      const { RecordingLog } = await import('../cluster/recording-log.js');
      const log = RecordingLog.open({ files: nodeFiles, clusterDir: dir });
      try {
        print(log.entries);
      } finally {
        log.close();
      }
      break;
    }
    default: {
      needStatus();
      const id = randomUUID();
      const ackPath = `${dir}/${control.CONTROL_ACK_FILE}`;
      control.writeJson(nodeFiles, `${dir}/${control.CONTROL_FILE}`, { id, action: tool }, true);
      const deadline = Date.now() + options.timeoutMs;
      for (;;) {
        const ack = control.readJson<import('../cluster/cluster-control.js').ControlAck>(nodeFiles, ackPath);
        if (ack?.id === id) {
          print(ack);
          exitProcess(ack.ok ? EXIT_OK : EXIT_FAILURE);
          return;
        }
        if (Date.now() > deadline) {
          if (nodeFiles.exists(`${dir}/${control.CONTROL_FILE}`)) nodeFiles.remove(`${dir}/${control.CONTROL_FILE}`);
          throw new Error(`the member in ${dir} did not answer ${tool} within ${options.timeoutMs} ms (is it running?)`);
        }
        await sleep(20);
      }
    }
  }
}
