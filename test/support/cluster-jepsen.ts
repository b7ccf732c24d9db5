/**
 * A Jepsen-style run against real member processes (`npm run jepsen`, and a bounded run in
 * `npm test`): three `skein cluster node` processes, clients (ClusterClients in this process, a
 * session each) doing get, put and compare-and-set on a few keys, and a nemesis that kills a
 * member with SIGKILL and starts it again, or pauses one with SIGSTOP and resumes it, one member
 * at a time. In a network lab (`lab`: this process runs in the lab's hub namespace, each member in
 * its own node namespace, see netlab.ts) the nemesis also partitions: it isolates a member from
 * everyone (its link down) or cuts the link between two members, then heals. Every operation goes into a history (an answer completes it; CLUSTER_COMMAND_FAILED
 * means it did not happen and it is left out; CLUSTER_COMMAND_UNKNOWN makes it indeterminate, as
 * Jepsen's :info), which the suite's linearizability checker judges and which can be written in
 * Porcupine's JSON. A client left without an answer after the faults healed fails the run, naming
 * its state, session, leader and term, with the timeline (the nemesis's actions and every client's
 * state changes) and each member process's role changes and error output, to be read after.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Skein } from '../../src/skein.js';
import { ClusterClient } from '../../src/cluster/cluster-client.js';
import { decodeKv, encodeKv, type KvAnswer, type KvCommand } from '../../src/cluster/service/kv-service.js';
import { SeededPrng } from '../../src/env/prng.js';
import { ErrorCode, SkeinError } from '../../src/util/errors.js';
import { checkLinearizable, kvModel, type CheckResult, type KvInput, type KvOutput, type Operation } from '../../src/sim/linearizability.js';
import { SKEIN_CLI, startProcess, startSkein, type StartedProcess } from './processes.js';
import { HUB_ADDRESS, NetLab, type LabDescription } from './netlab.js';
import { freeUdpPort, waitFor } from './wait.js';

export interface JepsenOptions {
  readonly durationMs: number;
  readonly seed?: number;
  readonly clients?: number;
  readonly keys?: number;
  /** Mean time between nemesis actions. @default 3000 */
  readonly nemesisIntervalMs?: number;
  /** Print what the nemesis does. */
  readonly log?: (line: string) => void;
  /** Run the members in this lab's node namespaces (this process in its hub) and add partitions to the nemesis. */
  readonly lab?: LabDescription;
  /** Each member's `--retained-log-bytes` (small: catch-ups and restarts read the log back from storage). Its default when absent. */
  readonly retainedLogBytes?: number;
}

export interface JepsenResult {
  readonly history: Operation<KvInput, KvOutput>[];
  readonly verdict: CheckResult;
  readonly operations: number;
  readonly answered: number;
  readonly failed: number;
  readonly indeterminate: number;
  readonly kills: number;
  readonly pauses: number;
  readonly partitions: number;
  /** Commands of the check after the faults that ended unknown or not sent and were tried again. */
  readonly healMisses: number;
}

/** How long each client has, once the faults are healed and it reads CONNECTED, to get an answer again. */
const HEALED_ANSWER_DEADLINE_MS = 60_000;
const FAST = ['--test-profile', '--leader-heartbeat-timeout-ms', '1500', '--election-timeout-ms', '300', '--startup-canvass-timeout-ms', '3000'];

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export async function runJepsen(options: JepsenOptions): Promise<JepsenResult> {
  const t0 = performance.now();
  const seed = options.seed ?? 1;
  const random = new SeededPrng(seed);
  const clientCount = options.clients ?? 4;
  const keyCount = options.keys ?? 3;
  const log = options.log ?? ((): void => {});
  const root = mkdtempSync(join(tmpdir(), 'skein-jepsen-'));
  const lab = options.lab === undefined ? null : NetLab.attach(options.lab);
  const specs: { id: number; ingress: string; consensus: string }[] = [];
  for (let id = 0; id < 3; id++) {
    // In a lab every member has a namespace (and ports) of its own.
    if (lab !== null) specs.push({ id, ingress: `${lab.address(id)}:20101`, consensus: `${lab.address(id)}:20108` });
    else specs.push({ id, ingress: `127.0.0.1:${await freeUdpPort()}`, consensus: `127.0.0.1:${await freeUdpPort()}` });
  }
  const clusterMembers = specs.map((m) => `${m.id},${m.ingress},${m.consensus}`).join('|');
  const nodes: (StartedProcess | null)[] = [null, null, null];
  /** Every member process started, for what a failure prints of them. */
  const started: { id: number; process: StartedProcess; atMs: number }[] = [];
  /** The nemesis's actions and the clients' state changes, in order, with times. */
  const timeline: string[] = [];
  const note = (line: string, print = true): void => {
    timeline.push(`${((performance.now() - t0) / 1000).toFixed(2)} s ${line}`);
    if (print) log(line);
  };
  let starts = 0;
  const start = async (id: number): Promise<void> => {
    const args = ['cluster', 'node', '--member-id', String(id), '--cluster-members', clusterMembers, '--cluster-dir', join(root, `member-${id}`), '--dir', join(root, `skein-${starts++}`), ...FAST];
    if (options.retainedLogBytes !== undefined) args.push('--retained-log-bytes', String(options.retainedLogBytes));
    let n: StartedProcess;
    if (lab === null) n = startSkein(args);
    else {
      const line = lab.exec(id, process.execPath, [SKEIN_CLI, ...args]);
      n = startProcess(line.command, line.args);
    }
    nodes[id] = n;
    started.push({ id, process: n, atMs: Math.round(performance.now() - t0) });
    await n.waitForLine(/"event":"started"/, 20_000, 'stdout');
  };
  const skein = Skein.launch({ testProfile: true, seed, dir: join(root, 'clients') });
  const clients: ClusterClient[] = [];
  const history: Operation<KvInput, KvOutput>[] = [];
  const now = (): number => Math.round((performance.now() - t0) * 1000);
  let running = true;
  let answered = 0;
  let failed = 0;
  let indeterminate = 0;
  let kills = 0;
  let pauses = 0;
  let partitions = 0;
  let healMisses = 0;
  let paused: StartedProcess | null = null;
  let heal: (() => void) | null = null;
  try {
    for (let id = 0; id < 3; id++) await start(id);
    for (let i = 0; i < clientCount; i++) {
      clients.push(
        await ClusterClient.connect(skein.client, {
          ingressEndpoints: specs.map((m) => m.ingress),
          random: random.fork(),
          commandTimeoutMs: 5000,
          reconnectDeadlineMs: 60_000,
          ...(lab === null ? {} : { egressChannel: `aeron:udp?endpoint=${HUB_ADDRESS}:0` }),
        }),
      );
      const index = i;
      clients[i]!.onStateChange((c) => note(`client ${index}: ${c.from} -> ${c.to}, session ${c.sessionId}, leader ${c.leaderId}, term ${c.leadershipTermId}: ${c.reason}`, false));
    }
    const worker = async (index: number): Promise<void> => {
      const client = clients[index]!;
      const r = random.fork();
      let n = 0;
      while (running) {
        const key = `k${r.nextInt(keyCount)}`;
        const value = `${index}.${n++}`;
        const roll = r.nextInt(3);
        const input: KvInput = roll === 0 ? { op: 'get', key } : roll === 1 ? { op: 'put', key, value } : { op: 'cas', key, expected: r.nextBoolean(0.3) ? null : `${r.nextInt(clientCount)}.${r.nextInt(n)}`, value };
        const call = now();
        try {
          const answer = decodeKv<KvAnswer>(await client.send(encodeKv(input as KvCommand)));
          const output: KvOutput = input.op === 'get' ? { value: answer.value ?? null } : input.op === 'cas' ? { ok: answer.ok === true } : {};
          history.push({ clientId: index, input, call, output, return: now() });
          answered++;
        } catch (error) {
          if (!(error instanceof SkeinError)) throw error;
          if (error.code === ErrorCode.CLUSTER_COMMAND_FAILED) {
            failed++;
          } else if (error.code === ErrorCode.CLUSTER_COMMAND_UNKNOWN) {
            indeterminate++;
            history.push({ clientId: index, input, call, output: undefined, return: Number.POSITIVE_INFINITY });
          } else {
            throw error;
          }
          await sleep(20);
        }
      }
    };
    const workers = clients.map((_, i) => worker(i));
    const nemesisInterval = options.nemesisIntervalMs ?? 3000;
    const end = performance.now() + options.durationMs;
    while (performance.now() < end) {
      await sleep(Math.round(nemesisInterval * (0.5 + random.nextDouble())));
      if (performance.now() >= end) break;
      const id = random.nextInt(3);
      const action = random.nextInt(lab === null ? 2 : 4);
      if (action === 2 || action === 3) {
        const other = (id + 1 + random.nextInt(2)) % 3;
        if (action === 2) {
          note(`nemesis: isolate member ${id}`);
          lab!.isolate(id);
          heal = () => lab!.rejoin(id);
        } else {
          note(`nemesis: cut members ${id} and ${other} apart`);
          lab!.cut(id, other);
          heal = () => lab!.heal(id, other);
        }
        partitions++;
        await sleep(1000 + random.nextInt(3000));
        note('nemesis: heal');
        heal();
        heal = null;
      } else if (action === 0) {
        note(`nemesis: SIGKILL member ${id}`);
        nodes[id]!.signal('SIGKILL');
        await nodes[id]!.waitForExit(10_000);
        kills++;
        await sleep(1000 + random.nextInt(1000));
        note(`nemesis: start member ${id}`);
        await start(id);
      } else {
        note(`nemesis: SIGSTOP member ${id}`);
        paused = nodes[id]!;
        paused.signal('SIGSTOP');
        pauses++;
        await sleep(1000 + random.nextInt(2000));
        note(`nemesis: SIGCONT member ${id}`);
        paused.signal('SIGCONT');
        paused = null;
      }
    }
    // Healed: the cluster must answer every client again. A command sent just as the last fault
    // took its leader may end unknown or not sent (the client's contract), so one is tried again
    // until an answer comes or the deadline passes; every such miss is logged and counted.
    running = false;
    await Promise.all(workers);
    for (const [index, client] of clients.entries()) {
      await waitFor(() => client.state === 'CONNECTED', 60_000, `client ${index} connected after the faults`);
      const deadline = performance.now() + HEALED_ANSWER_DEADLINE_MS;
      const misses: string[] = [];
      while (true) {
        try {
          await client.send(encodeKv({ op: 'get', key: 'k0' }));
          break;
        } catch (error) {
          const retry = error instanceof SkeinError && (error.code === ErrorCode.CLUSTER_COMMAND_UNKNOWN || error.code === ErrorCode.CLUSTER_COMMAND_FAILED);
          if (!retry || performance.now() >= deadline) {
            throw new Error(
              `client ${index}: no answer within ${HEALED_ANSWER_DEADLINE_MS} ms after the faults healed (state ${client.state}, session ${client.sessionId}, leader ${client.leaderId}, term ${client.leadershipTermId}); ` +
                `misses before: ${misses.join(' | ') || 'none'}; last: ${error instanceof Error ? error.message : String(error)}\n${diagnosis(started, timeline)}`,
            );
          }
          misses.push(error.message);
          healMisses++;
          log(`client ${index}: after the faults healed: ${error.message}; trying again`);
        }
      }
    }
  } finally {
    running = false;
    paused?.signal('SIGCONT');
    heal?.();
    for (const client of clients) await client.close();
    await skein.close();
    for (const n of nodes) {
      if (n === null || !n.isRunning) continue;
      n.signal('SIGTERM');
      await n.waitForExit(15_000).catch(() => n.kill());
    }
    rmSync(root, { recursive: true, force: true });
  }
  const verdict = checkLinearizable(kvModel, history, { maxSteps: 20_000_000 });
  return { history, verdict, operations: history.length, answered, failed, indeterminate, kills, pauses, partitions, healMisses };
}

/** What a failed run prints to be read after: the timeline, and each member process's role changes and error output. */
function diagnosis(started: readonly { id: number; process: StartedProcess; atMs: number }[], timeline: readonly string[]): string {
  const out = ['timeline (nemesis and client states, last 60):', ...timeline.slice(-60).map((l) => `  ${l}`)];
  for (const { id, process: member, atMs } of started) {
    const roles = member.stdout.split('\n').filter((l) => l.includes('"event":"role"')).slice(-20);
    out.push(`member ${id}, pid ${member.pid}, started at ${(atMs / 1000).toFixed(2)} s, ${member.isRunning ? 'running' : 'exited'}; role changes (last 20):`);
    out.push(...roles.map((l) => `  ${l}`));
    const errors = member.stderr.trim().split('\n').filter((l) => l !== '' && !l.startsWith('skein cluster node: member')).slice(-10);
    if (errors.length > 0) out.push('  stderr (last 10 lines):', ...errors.map((l) => `    ${l}`));
  }
  return out.join('\n');
}
