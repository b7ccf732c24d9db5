/**
 * `skein cluster node`: runs one cluster member (its own media driver, archive and consensus
 * module, and the key-value service) until SIGINT/SIGTERM, printing a JSON line for every role
 * change and for its termination. `skein cluster start`: starts a local cluster of such nodes as
 * child processes on free loopback ports, for trying things (`skein cluster kv` talks to it).
 */
import { Option, type Command } from 'commander';
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { addSkeinOptions, integerOption, launchSkein, type SkeinCliOptions } from './cli-options.js';
import { action, EXIT_FAILURE, EXIT_OK, exitProcess, nowMs, onShutdownSignal, report, sleep, usageError } from './cli-runtime.js';
import { applyConfigFile } from './config-file.js';
import { registerClusterKvCommand } from './cluster-kv-command.js';
import { freeUdpPort } from './free-port.js';
import { DEFAULT_RETAINED_LOG_BYTES } from '../cluster/consensus/consensus-log.js';
import { DEFAULT_INGRESS_FRAGMENT_LIMIT, MAX_INGRESS_FRAGMENT_LIMIT } from '../cluster/ingress-defaults.js';

export interface ClusterNodeOptions extends SkeinCliOptions {
  memberId: number;
  clusterMembers: string;
  clusterDir?: string;
  service: string;
  logStorage: 'archive' | 'file';
  leaderHeartbeatTimeoutMs: number;
  electionTimeoutMs: number;
  startupCanvassTimeoutMs: number;
  snapshotIntervalMs: number;
  sessionTimeoutMs: number;
  maxEgressBacklogBytes: number;
  retainedLogBytes: number;
  ingressFragmentLimit: number;
  fileSyncLevel: number;
  logMtu: number;
}

interface ParsedMember {
  readonly id: number;
  readonly ingress: string;
  readonly consensus: string;
}

/**
 * Aeron's cluster members string: `id,ingress,consensus[,log,catchup,archive]|…` (the endpoints
 * after the consensus one are Aeron's and not used here).
 */
export function parseClusterMembers(value: string): ParsedMember[] {
  const members: ParsedMember[] = [];
  for (const part of value.split('|').filter((p) => p.trim().length > 0)) {
    const fields = part.split(',');
    const id = Number(fields[0]);
    if (fields.length < 3 || !Number.isInteger(id) || id < 0) throw new Error(`cluster member '${part}' is not id,ingress-host:port,consensus-host:port`);
    members.push({ id, ingress: fields[1]!, consensus: fields[2]! });
  }
  if (members.length === 0) throw new Error(`no cluster members in '${value}'`);
  return members;
}

const MS = integerOption(1, 3_600_000);
/** How long a terminated member stays before it closes (the leader resends the termination position every heartbeat interval). */
const TERMINATED_LINGER_MS = 1000;

export function registerClusterCommand(program: Command): Command {
  const cluster = program.command('cluster').summary('Run cluster members (Raft over Skein, Aeron Cluster protocols)');
  const node = cluster
    .command('node')
    .summary('Run one cluster member')
    .description(
      'Run one member of a cluster (its own media driver, archive and consensus module, and the key-value service) until SIGINT/SIGTERM. ' +
        'Clients connect to the ingress endpoints with Aeron Cluster\'s protocol (Skein\'s ClusterClient). Prints a JSON line ' +
        '{event: "role", memberId, role, leadershipTermId} on every role change, {event: "terminated", reason} when the cluster ' +
        'shuts down, and a JSON summary {memberId, commitPosition, failure, elapsedMs} at the end; closes consensus module, archive and driver in that order.',
    )
    .option('--config <file>', 'a JSON file of these settings by their long names in camelCase ({"memberId": 0, "clusterMembers": "…", "clusterDir": "…"}); flags on the command line win')
    .option('--member-id <id>', 'this member\'s id (required, here or in --config)', integerOption(0, 1_000_000))
    .option('--cluster-members <list>', 'every member as Aeron writes them: id,ingress-host:port,consensus-host:port|… (required, here or in --config)')
    .option('--cluster-dir <path>', 'this member\'s directory (log, recording log, archive) (default: skein-cluster-<id>)')
    .option('--service <name>', 'the clustered service: kv (a key-value store)', 'kv')
    .option('--log-storage <kind>', 'archive (the log as an archive recording) or file', 'archive')
    .option('--leader-heartbeat-timeout-ms <ms>', 'new election after this long without the leader (Aeron: 10000)', MS, 10_000)
    .option('--election-timeout-ms <ms>', 'ballot length (Aeron: 1000)', MS, 1000)
    .option('--startup-canvass-timeout-ms <ms>', 'canvass at start before a quorum may elect (Aeron: 60000)', MS, 60_000)
    .option('--snapshot-interval-ms <ms>', 'take a snapshot this often, 0 = on request only', integerOption(0, 86_400_000), 0)
    .option('--session-timeout-ms <ms>', 'close a client session silent this long (Aeron: 10000)', MS, 10_000)
    .option('--max-egress-backlog-bytes <bytes>', 'answers kept for a client that does not take them before its session is closed as timed out', integerOption(4096, 1 << 30), 16 * 1024 * 1024)
    .option('--ingress-fragment-limit <n>', 'client messages the leader takes from its ingress in one duty cycle (Aeron: aeron.cluster.ingress.fragment.limit, 50)', integerOption(1, MAX_INGRESS_FRAGMENT_LIMIT), DEFAULT_INGRESS_FRAGMENT_LIMIT)
    .option('--retained-log-bytes <bytes>', 'log kept in memory behind what was applied; older entries are read back from the log storage', integerOption(0, 1 << 30), DEFAULT_RETAINED_LOG_BYTES)
    .option('--log-mtu <bytes>', 'MTU of the log stream, as recorded and as sent to the other members (the same on every member; a multiple of 32; above the network\'s MTU the IP layer fragments each datagram)', integerOption(64, 65504), 1408)
    .option(
      '--file-sync-level <level>',
      'push the log to the device before acknowledging it: 0 leaves writing to the OS (Aeron\'s default), 1 syncs data (fdatasync), 2 data and metadata (fsync)',
      integerOption(0, 2),
      0,
    );
  addSkeinOptions(node);
  node.action(
    action('cluster node', async (given: ClusterNodeOptions & { config?: string }) => {
      if (given.config !== undefined) applyConfigFile(node, given.config);
      const options = node.opts<ClusterNodeOptions>();
      if (options.memberId === undefined) usageError(node, 'missing --member-id (or memberId in --config)');
      if (options.clusterMembers === undefined) usageError(node, 'missing --cluster-members (or clusterMembers in --config)');
      await runNode(options);
    }),
  );

  const start = cluster
    .command('start')
    .summary('Start a local cluster of member processes')
    .description(
      'Start --members member processes (skein cluster node) on free loopback ports, print {event: "started", members: [{id, pid, ingress, ' +
        'consensus, dir}], ingressEndpoints} and relay their output lines, until SIGINT/SIGTERM, which is passed on to every member; exits ' +
        'when all have ended (1 if any failed).',
    )
    .option('--members <n>', 'how many members: 1, 3 or 5', integerOption(1, 5), 3)
    .option('--dir <path>', 'parent directory of the members\' directories', 'skein-cluster')
    .addOption(new Option('--test-profile', 'small terms and short timeouts, for tests').hideHelp());
  start.action(action('cluster start', (options: { members: number; dir: string; testProfile?: boolean }) => runStart(options, start)));

  const demo = cluster
    .command('demo')
    .summary('A three-member cluster, a client, and a leader failure, in one process')
    .description(
      'Start three cluster members (each with its own media driver and archive, over UDP loopback) and a ClusterClient in this process, ' +
        'send --commands key-value commands, kill the leader\'s driver, let the client follow the new leader, send as many again, ' +
        'print what happened and a JSON summary {commands, answeredPerSecond, answeredPerSecondAfter (the two members left, ' +
        'not counting the first command after the failure), roundTripUs: {p50, p99}, failoverMs, leaders}, and exit 0.',
    )
    .option('--commands <n>', 'commands before and after the failure', integerOption(1, 1_000_000), 500)
    .addOption(new Option('--test-profile', 'small terms and short timeouts, for tests').hideHelp());
  demo.action(action('cluster demo', (options: { commands: number; testProfile?: boolean }) => runDemo(options)));
  registerClusterKvCommand(cluster);
  return cluster;
}

async function runNode(options: ClusterNodeOptions): Promise<void> {
  if (options.service !== 'kv') throw new Error(`unknown service '${options.service}': the one built in is kv`);
  if (options.logStorage !== 'archive' && options.logStorage !== 'file') throw new Error(`--log-storage ${String(options.logStorage)}: archive or file`);
  const members = parseClusterMembers(options.clusterMembers);
  // Woken on the next setImmediate, not in a microtask: a client's datagrams that arrive together
  // are taken in one duty cycle, so a member that syncs its log writes and syncs them once
  // (docs/cluster-benchmark.md, "Woken after the ready datagrams").
  const skein = await launchSkein(options, {}, { wakeInMicrotask: false });
  const { ClusterMember } = await import('../cluster/cluster-member.js');
  const { KvService } = await import('../cluster/service/kv-service.js');
  const startMs = nowMs();
  const dir = resolve(options.clusterDir ?? `skein-cluster-${options.memberId}`);
  const line = (value: object): void => {
    process.stdout.write(`${JSON.stringify(value)}\n`);
  };
  let member: import('../cluster/cluster-member.js').ClusterMember | null = null;
  let finished = false;
  const finish = (): void => {
    if (finished || member === null) return;
    finished = true;
    const m = member;
    const summary = { memberId: options.memberId, state: m.state, commitPosition: m.commitPosition, failure: m.failure?.message ?? null, elapsedMs: Math.round(nowMs() - startMs), openResources: [] as string[] };
    // The consensus module (and the archive it runs), then the media driver; then what is still open in this process besides its output.
    void m.close().then(() => skein.close()).then(
      async () => {
        // What this process still holds besides its output: anything left after 200 ms is a leak (work already queued, such as an immediate, ends by itself).
        const held = (): string[] => process.getActiveResourcesInfo().filter((r) => r !== 'PipeWrap' && r !== 'TTYWrap' && r !== 'FSReqCallback');
        for (let waited = 0; held().length > 0 && waited < 200; waited += 10) await sleep(10);
        summary.openResources = held();
        exitProcess(summary.failure === null ? EXIT_OK : EXIT_FAILURE, `${JSON.stringify(summary)}\n`);
      },
      () => exitProcess(EXIT_FAILURE, `${JSON.stringify(summary)}\n`),
    );
  };
  try {
    member = await ClusterMember.launch(skein.client, {
      memberId: options.memberId,
      members: members.map((m) => ({ id: m.id, consensus: m.consensus, ingress: m.ingress })),
      clusterDir: dir,
      service: new KvService(),
      logStorage: options.logStorage,
      archiveOptions: { fileSyncLevel: options.fileSyncLevel },
      syncEachAppend: options.fileSyncLevel > 0,
      settings: {
        leaderHeartbeatTimeoutNs: options.leaderHeartbeatTimeoutMs * 1e6,
        electionTimeoutNs: options.electionTimeoutMs * 1e6,
        startupCanvassTimeoutNs: options.startupCanvassTimeoutMs * 1e6,
        leaderHeartbeatIntervalNs: Math.min(200, Math.max(10, Math.floor(options.leaderHeartbeatTimeoutMs / 10))) * 1e6,
      },
      snapshotIntervalNs: options.snapshotIntervalMs * 1e6,
      sessionTimeoutNs: options.sessionTimeoutMs * 1e6,
      maxEgressBacklogBytes: options.maxEgressBacklogBytes,
      retainedLogBytes: options.retainedLogBytes,
      ingressFragmentLimit: options.ingressFragmentLimit,
      logMtu: options.logMtu,
      ...(options.seed === undefined ? {} : { seed: options.seed }),
      skeinDir: skein.dir,
      onRoleChange: (role, leadershipTermId) => line({ event: 'role', memberId: options.memberId, role, leadershipTermId }),
      onTerminated: (reason) => {
        line({ event: 'terminated', memberId: options.memberId, reason });
        // Stay a moment to acknowledge the termination position again should the leader ask, then end as on a signal.
        setTimeout(() => finish(), TERMINATED_LINGER_MS).unref();
      },
    });
  } catch (error) {
    await skein.close();
    throw error;
  }
  onShutdownSignal(() => finish());
  line({ event: 'started', memberId: options.memberId, dir, ingress: members.find((m) => m.id === options.memberId)!.ingress, pid: process.pid });
  report('cluster node', `member ${options.memberId} of ${members.length} in ${dir}`);
}

async function runStart(options: { members: number; dir: string; testProfile?: boolean }, command: Command): Promise<void> {
  if (![1, 3, 5].includes(options.members)) {
    const { usageError } = await import('./cli-runtime.js');
    usageError(command, `--members ${options.members}: a cluster has 1, 3 or 5 members`);
  }
  const main = fileURLToPath(new URL('./main.js', import.meta.url));
  const specs: ParsedMember[] = [];
  for (let id = 0; id < options.members; id++) specs.push({ id, ingress: `127.0.0.1:${await freeUdpPort()}`, consensus: `127.0.0.1:${await freeUdpPort()}` });
  const clusterMembers = specs.map((m) => `${m.id},${m.ingress},${m.consensus}`).join('|');
  const children: { id: number; child: ChildProcess; exit: Promise<number> }[] = [];
  for (const m of specs) {
    const args = [main, 'cluster', 'node', '--member-id', String(m.id), '--cluster-members', clusterMembers, '--cluster-dir', resolve(options.dir, `member-${m.id}`)];
    if (options.testProfile === true) args.push('--test-profile', '--leader-heartbeat-timeout-ms', '1500', '--election-timeout-ms', '300', '--startup-canvass-timeout-ms', '3000');
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    child.stdout!.setEncoding('utf8');
    let buffered = '';
    child.stdout!.on('data', (chunk: string) => {
      buffered += chunk;
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        process.stdout.write(`${buffered.slice(0, nl)}\n`);
        buffered = buffered.slice(nl + 1);
      }
    });
    const exit = new Promise<number>((done) => child.on('exit', (code) => done(code ?? 1)));
    children.push({ id: m.id, child, exit });
  }
  process.stdout.write(
    `${JSON.stringify({
      event: 'started', members: specs.map((m) => ({ ...m, pid: children.find((c) => c.id === m.id)!.child.pid, dir: resolve(options.dir, `member-${m.id}`) })),
      ingressEndpoints: specs.map((m) => `${m.id}=${m.ingress}`).join(','),
    })}\n`,
  );
  report('cluster start', `${specs.length} members; try: skein cluster kv --ingress ${specs.map((m) => `${m.id}=${m.ingress}`).join(',')} put colour blue`);
  onShutdownSignal((signal) => {
    for (const c of children) c.child.kill(signal);
  });
  const codes = await Promise.all(children.map((c) => c.exit));
  exitProcess(codes.every((code) => code === 0) ? EXIT_OK : EXIT_FAILURE, `${JSON.stringify({ event: 'stopped', exitCodes: codes })}\n`);
}

async function runDemo(options: { commands: number; testProfile?: boolean }): Promise<void> {
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { Skein } = await import('../skein.js');
  const { ClusterMember } = await import('../cluster/cluster-member.js');
  const { ClusterClient } = await import('../cluster/cluster-client.js');
  const { KvService, encodeKv } = await import('../cluster/service/kv-service.js');
  const root = mkdtempSync(join(tmpdir(), 'skein-cluster-demo-'));
  const say = (text: string): void => {
    process.stdout.write(`${text}\n`);
  };
  const settings = { leaderHeartbeatTimeoutNs: 1_000_000_000, leaderHeartbeatIntervalNs: 100_000_000, electionTimeoutNs: 300_000_000, startupCanvassTimeoutNs: 2_000_000_000 };
  const endpoints: { id: number; consensus: string; ingress: string }[] = [];
  for (let id = 0; id < 3; id++) endpoints.push({ id, consensus: `127.0.0.1:${await freeUdpPort()}`, ingress: `127.0.0.1:${await freeUdpPort()}` });
  const skeins: import('../skein.js').Skein[] = [];
  const members: import('../cluster/cluster-member.js').ClusterMember[] = [];
  const launch = (name: string): import('../skein.js').Skein => {
    const skein = Skein.launch({ dir: join(root, name), ...(options.testProfile === true ? { testProfile: true } : {}), driver: { publishSnapshots: false } });
    skeins.push(skein);
    return skein;
  };
  let client: import('../cluster/cluster-client.js').ClusterClient | null = null;
  try {
    for (const m of endpoints) {
      members.push(await ClusterMember.launch(launch(`member-${m.id}-driver`).client, { memberId: m.id, members: endpoints, clusterDir: join(root, `member-${m.id}`), service: new KvService(), settings }));
    }
    const leader = (): import('../cluster/cluster-member.js').ClusterMember | undefined => members.find((m) => !m.isClosed && m.role === 'LEADER' && m.electionState === 'CLOSED');
    const elected = nowMs();
    while (leader() === undefined) {
      if (nowMs() - elected > 30_000) throw new Error('no leader within 30 s');
      await sleep(10);
    }
    say(`cluster: member ${leader()!.memberId} leads term ${leader()!.leadershipTermId} (elected in ${Math.round(nowMs() - elected)} ms); logs are archive recordings in ${root}`);
    client = await ClusterClient.connect(launch('client').client, { ingressEndpoints: endpoints.map((m) => m.ingress) });
    const c = client;
    const roundTrips: number[] = [];
    const run = async (from: number, count: number): Promise<number> => {
      const started = nowMs();
      for (let i = from; i < from + count; i++) {
        const t = nowMs();
        await c.send(encodeKv({ op: 'put', key: `k${i % 100}`, value: `v${i}` }));
        roundTrips.push((nowMs() - t) * 1000);
      }
      return count / ((nowMs() - started) / 1000);
    };
    const before = await run(0, options.commands);
    say(`client: session ${c.sessionId}, ${options.commands} commands answered one at a time, ${Math.round(before)}/s`);
    const first = leader()!;
    const killedAt = nowMs();
    skeins[members.indexOf(first)]!.destroy();
    say(`the leader's driver (member ${first.memberId}) is destroyed`);
    let failoverMs = -1;
    c.onStateChange((ch) => {
      say(`client: ${ch.from} -> ${ch.to} (${ch.reason})`);
      if (ch.to === 'CONNECTED') failoverMs = Math.round(nowMs() - killedAt);
    });
    // The first command after the failure waits for the election and the client's move to the new
    // leader; the rest are timed apart from it, so the rate is that of the two members left.
    const firstStarted = nowMs();
    await run(options.commands, 1);
    const firstAnsweredMs = Math.round(nowMs() - firstStarted);
    say(`client: the same session ${c.sessionId} under leader ${c.leaderId} in term ${c.leadershipTermId}; the first command after the failure answered in ${firstAnsweredMs} ms`);
    const rest = options.commands - 1;
    const after = rest > 0 ? await run(options.commands + 1, rest) : NaN;
    if (rest > 0) say(`client: ${rest} more answered one at a time by the two members left, ${Math.round(after)}/s`);
    const sorted = [...roundTrips].sort((a, b) => a - b);
    const pick = (q: number): number => Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!);
    say(JSON.stringify({ commands: 2 * options.commands, answeredPerSecond: Math.round(before), ...(rest > 0 ? { answeredPerSecondAfter: Math.round(after) } : {}), roundTripUs: { p50: pick(0.5), p99: pick(0.99) }, failoverMs, leaders: [first.memberId, c.leaderId] }));
  } finally {
    await client?.close();
    for (const m of members) await m.close();
    for (const s of skeins) await s.close();
    rmSync(root, { recursive: true, force: true });
  }
  exitProcess(EXIT_OK);
}
