/**
 * `npm run bench -- cluster`: Skein clusters beside etcd. Each repetition starts every system in
 * turn as real processes on loopback and measures it, then stops it:
 *
 * - Skein with one and with three members (`skein cluster node` processes, the key-value service,
 *   the log as an archive recording), at two durability levels: `sync` (file sync level 1: the
 *   archive pushes every block of the log to the device before its recorded position, which is
 *   what members acknowledge, moves) and `nosync` (level 0, Aeron Cluster's default); three
 *   members also with a log MTU of 8 KiB (`--log-mtu 8192`), the log going to the followers in
 *   fewer, larger datagrams, and the client's ingress and egress channels at mtu=8192;
 * - etcd with three members (Debian's `etcd-server`), which syncs its write-ahead log before it
 *   acknowledges every commit: the same durability as Skein's `sync`.
 *
 * Loads (`cluster-load.ts`, its own process each): puts closed-loop with 1, 16 and 64 in flight
 * (answered commands per second, round-trip percentiles) and open-loop at 1k and 10k commands/s
 * offered (round-trip percentiles; Skein without sync also at 100k/s). Goals from the issue: Skein with three
 * members and sync at least 10x etcd's rate at 64 in flight; three members without sync
 * sustaining 100k commands/s, with p50 under 300 µs at 10k/s. Beside the last, in each repetition:
 * the relay suite's paced floor (four bare dgram processes on the same path doing nothing else).
 *
 * `--only` takes system ids (`skein-1/sync`, `etcd-3`, ...) or load ids (`closed-64`, `rate-10k`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freeTcpPort, freeUdpPort } from '../../src/cli/free-port.js';
import type { SuiteOptions, SuiteOutcome } from '../support/suite.js';
import { stopChild } from '../support/stop-child.js';
import { fileStamp } from '../support/suite.js';
import { measureRelay } from '../relay/relay-suite.js';
import { spreadOf } from '../support/stats.js';
import { pairedRatio } from '../support/compare.js';
import { DEFAULT_RESULTS_DIR } from '../transport/transport-suite.js';
import { OPEN_LOOP_CAP, STEP_MS, type LoadResult, type LoadSpec } from './cluster-load.js';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const LOAD = fileURLToPath(new URL('./cluster-load.js', import.meta.url));

interface SystemSpec {
  readonly id: string;
  readonly kind: 'skein' | 'etcd';
  readonly members: number;
  /** Skein's file sync level (etcd always syncs). */
  readonly syncLevel: number;
  /** Skein's log MTU (`--log-mtu`) and its client's ingress and egress MTU, when not the default 1408. */
  readonly logMtu?: number;
  readonly description: string;
}

interface LoadKind {
  readonly id: string;
  readonly inFlight?: number;
  readonly rate?: number;
  /** Only for these system kinds. */
  readonly kinds: readonly SystemSpec['kind'][];
  /** Only for systems without per-command sync (the rate is far beyond the synced ones). */
  readonly nosyncOnly?: boolean;
}

/**
 * Run in this order in each repetition: etcd between the two synced three-member Skein systems that
 * the throughput goal compares with it, so that each such pair runs within about a minute and the
 * machine's drift over a run (its neighbours come and go) weighs less on their ratio.
 */
const SYSTEMS: readonly SystemSpec[] = [
  { id: 'skein-1/sync', kind: 'skein', members: 1, syncLevel: 1, description: 'Skein, one member, log synced before acknowledging' },
  { id: 'skein-3/sync', kind: 'skein', members: 3, syncLevel: 1, description: 'Skein, three members, log synced before acknowledging' },
  { id: 'etcd-3', kind: 'etcd', members: 3, syncLevel: 1, description: 'etcd, three members (syncs its WAL on every commit)' },
  { id: 'skein-3/sync-mtu8k', kind: 'skein', members: 3, syncLevel: 1, logMtu: 8192, description: 'Skein, three members, log synced before acknowledging, log MTU 8 KiB (`--log-mtu 8192`: the log goes to the followers in fewer, larger datagrams) and the client\'s channels at mtu=8192' },
  { id: 'skein-1/nosync', kind: 'skein', members: 1, syncLevel: 0, description: 'Skein, one member, no per-command sync (Aeron\'s default)' },
  { id: 'skein-3/nosync', kind: 'skein', members: 3, syncLevel: 0, description: 'Skein, three members, no per-command sync (Aeron\'s default)' },
  { id: 'skein-3/nosync-mtu8k', kind: 'skein', members: 3, syncLevel: 0, logMtu: 8192, description: 'Skein, three members, no per-command sync, log MTU 8 KiB (`--log-mtu 8192`) and the client\'s channels at mtu=8192' },
];

const LOADS: readonly LoadKind[] = [
  { id: 'closed-1', inFlight: 1, kinds: ['skein', 'etcd'] },
  { id: 'closed-16', inFlight: 16, kinds: ['skein', 'etcd'] },
  { id: 'closed-64', inFlight: 64, kinds: ['skein', 'etcd'] },
  { id: 'rate-1k', rate: 1000, kinds: ['skein', 'etcd'] },
  { id: 'rate-10k', rate: 10_000, kinds: ['skein', 'etcd'] },
  { id: 'rate-100k', rate: 100_000, kinds: ['skein'], nosyncOnly: true },
];

const VALUE_BYTES = 32;
/**
 * Every fresh cluster (Skein or etcd) first takes a closed-loop load of this many commands in
 * flight, not counted, so that each measured load meets members whose code is compiled and whose
 * heaps have grown, whichever loads `--only` picks: measured on a cold three-member cluster, 64 in
 * flight with sync answered 11–17k/s, and 16–26k/s after such a warm-up.
 */
const CLUSTER_WARMUP_IN_FLIGHT = 16;
/**
 * An open loop's warm-up, not counted: its rate ramps from 0 to the full rate over the first half,
 * then holds. With 1 s (a ramp of 0.5 s), like the closed loops', three members without sync
 * offered 100k/s (8 KiB MTU) still had the ramp's backlog at the start of the measured window and
 * held commands back at the cap in each of three loads (1.6k–123k); with 3 s, none in six (three
 * with a 3 s window and three with a 6 s one), alternating, on warmed clusters.
 */
const OPEN_LOOP_WARMUP_MS = 3000;
const THROUGHPUT_GOAL = 10;
const RATE_GOAL = 100_000;
const P50_GOAL_US = 300;

interface Running {
  readonly endpoints: string[];
  /** Role changes the members have printed since they started (Skein only; a leader change during a load shows here). */
  readonly roleChanges: () => number;
  /** The end of what the members printed on stderr (errors and warnings), for a load that went wrong. */
  readonly stderrTail: () => string;
  stop(): Promise<void>;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function startSkein(system: SystemSpec, root: string): Promise<Running> {
  const specs: { id: number; ingress: string; consensus: string }[] = [];
  for (let id = 0; id < system.members; id++) specs.push({ id, ingress: `127.0.0.1:${await freeUdpPort()}`, consensus: `127.0.0.1:${await freeUdpPort()}` });
  const membersText = specs.map((m) => `${m.id},${m.ingress},${m.consensus}`).join('|');
  const children: ChildProcess[] = [];
  let leaderSeen = false;
  let roleChanges = 0;
  const stderrTails: string[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(children.map((c) => stopChild(c, 'SIGTERM')));
  };
  try {
    for (const m of specs) {
      const child = spawn(
        process.execPath,
        [
          CLI, 'cluster', 'node', '--member-id', String(m.id), '--cluster-members', membersText, '--cluster-dir', join(root, `member-${m.id}`),
          '--file-sync-level', String(system.syncLevel), ...(system.logMtu === undefined ? [] : ['--log-mtu', String(system.logMtu)]), '--startup-canvass-timeout-ms', '2000', '--election-timeout-ms', '300', '--leader-heartbeat-timeout-ms', '3000',
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      children.push(child);
      let out = '';
      child.stdout!.on('data', (chunk: Buffer) => {
        const text = chunk.toString();
        out += text;
        if (out.includes('"role":"LEADER"')) leaderSeen = true;
        roleChanges += text.split('"event":"role"').length - 1;
      });
      const index = stderrTails.push('') - 1;
      child.stderr!.on('data', (chunk: Buffer) => {
        stderrTails[index] = (stderrTails[index]! + chunk.toString()).slice(-3000);
      });
    }
    const deadline = Date.now() + 30_000;
    while (!leaderSeen) {
      if (Date.now() > deadline) throw new Error(`${system.id}: no leader within 30 s`);
      const exited = children.find((c) => c.exitCode !== null);
      if (exited !== undefined) throw new Error(`${system.id}: a member exited with ${exited.exitCode} before a leader was elected`);
      await sleep(20);
    }
    return { endpoints: specs.map((m) => m.ingress), roleChanges: () => roleChanges, stderrTail: () => stderrTails.map((t, id) => `member ${id}: ${t.trim()}`).join('\n'), stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function startEtcd(system: SystemSpec, root: string): Promise<Running> {
  const specs: { name: string; client: string; peer: string }[] = [];
  for (let i = 0; i < system.members; i++) specs.push({ name: `e${i}`, client: `http://127.0.0.1:${await freeTcpPort()}`, peer: `http://127.0.0.1:${await freeTcpPort()}` });
  const cluster = specs.map((m) => `${m.name}=${m.peer}`).join(',');
  const children: ChildProcess[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(children.map((c) => stopChild(c, 'SIGTERM')));
  };
  try {
    for (const m of specs) {
      const child = spawn(
        'etcd',
        [
          '--name', m.name, '--data-dir', join(root, m.name), '--listen-client-urls', m.client, '--advertise-client-urls', m.client,
          '--listen-peer-urls', m.peer, '--initial-advertise-peer-urls', m.peer, '--initial-cluster', cluster, '--initial-cluster-state', 'new',
          '--initial-cluster-token', 'skein-bench', '--logger', 'zap', '--log-level', 'error',
        ],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      );
      child.stderr!.on('data', () => undefined);
      child.on('error', () => undefined);
      children.push(child);
    }
    const deadline = Date.now() + 30_000;
    for (const m of specs) {
      while (true) {
        if (Date.now() > deadline) throw new Error(`${system.id}: ${m.name} not healthy within 30 s`);
        const exited = children.find((c) => c.exitCode !== null);
        if (exited !== undefined) throw new Error(`${system.id}: an etcd member exited with ${exited.exitCode}`);
        try {
          const answer = await fetch(`${m.client}/health`, { signal: AbortSignal.timeout(1000) });
          if (answer.ok && ((await answer.json()) as { health?: string }).health === 'true') break;
        } catch {
          // not up yet
        }
        await sleep(100);
      }
    }
    return { endpoints: specs.map((m) => m.client), roleChanges: () => 0, stderrTail: () => '', stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

function runLoadProcess(spec: LoadSpec): Promise<LoadResult> {
  const child = spawn(process.execPath, [LOAD, JSON.stringify(spec)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), spec.warmupMs + spec.durationMs + 90_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      const line = out.trim().split('\n').pop() ?? '';
      if (code !== 0 || !line.startsWith('{')) reject(new Error(`load ${JSON.stringify(spec)} exited with ${code}: ${err.slice(-1500)}`));
      else resolve(JSON.parse(line) as LoadResult);
    });
  });
}

type Results = Map<string, (LoadResult & { readonly roleChanges: number })[]>;

function key(system: string, load: string): string {
  return `${system} ${load}`;
}

export async function runClusterSuite(options: SuiteOptions): Promise<SuiteOutcome> {
  const repetitions = options.repetitions ?? 3;
  const warmupMs = options.quick ? 500 : 1000;
  const openLoopWarmupMs = options.quick ? OPEN_LOOP_WARMUP_MS / 2 : OPEN_LOOP_WARMUP_MS;
  const durationMs = options.quick ? 2000 : 3000;
  const clusterWarmupMs = options.quick ? 1000 : 3000;
  const only = options.only;
  const systems = SYSTEMS.filter((s) => only.length === 0 || only.includes(s.id) || !only.some((o) => SYSTEMS.some((x) => x.id === o)));
  const loads = LOADS.filter((l) => only.length === 0 || only.includes(l.id) || !only.some((o) => LOADS.some((x) => x.id === o)));
  const results: Results = new Map();
  const failures: string[] = [];
  // The floor under the p50 goal, measured in every repetition beside the clusters: four bare dgram processes on the same path, no work.
  const floorP50Us: number[] = [];
  const wantsFloor = systems.some((s) => s.id.startsWith('skein-3/nosync')) && loads.some((l) => l.id === 'rate-10k');
  for (let rep = 0; rep < repetitions; rep++) {
    if (wantsFloor) {
      try {
        const floor = await measureRelay('paced', warmupMs, durationMs);
        floorP50Us.push(floor.p50Us);
        process.stdout.write(`cluster rep ${rep + 1}/${repetitions} relay floor (paced): p50 ${Math.round(floor.p50Us)} µs, p99 ${Math.round(floor.p99Us)} µs\n`);
      } catch (error) {
        failures.push(`relay floor: ${(error as Error).message}`);
      }
    }
    for (const system of systems) {
      const root = mkdtempSync(join(tmpdir(), `skein-bench-cluster-${system.id.replace('/', '-')}-`));
      let running: Running | null = null;
      try {
        running = system.kind === 'skein' ? await startSkein(system, root) : await startEtcd(system, root);
        const warm = await runLoadProcess({
          system: system.kind, endpoints: running.endpoints, warmupMs: clusterWarmupMs / 2, durationMs: clusterWarmupMs / 2, valueBytes: VALUE_BYTES,
          inFlight: CLUSTER_WARMUP_IN_FLIGHT, ...(system.logMtu === undefined ? {} : { mtu: system.logMtu }),
        }).catch((error: unknown) => {
          throw new Error(`cluster warm-up: ${(error as Error).message}`);
        });
        process.stdout.write(`cluster rep ${rep + 1}/${repetitions} ${system.id} warm-up (not counted): ${warm.perSecond}/s at ${CLUSTER_WARMUP_IN_FLIGHT} in flight\n`);
        for (const load of loads) {
          if (!load.kinds.includes(system.kind) || (load.nosyncOnly === true && system.syncLevel > 0)) continue;
          const spec: LoadSpec = {
            system: system.kind, endpoints: running.endpoints, warmupMs: load.rate !== undefined ? openLoopWarmupMs : warmupMs, durationMs, valueBytes: VALUE_BYTES, ...(system.logMtu === undefined ? {} : { mtu: system.logMtu }),
            ...(load.inFlight !== undefined ? { inFlight: load.inFlight } : { rate: load.rate! }),
          };
          try {
            const rolesBefore = running.roleChanges();
            const result = { ...(await runLoadProcess(spec)), roleChanges: running.roleChanges() - rolesBefore };
            const list = results.get(key(system.id, load.id)) ?? [];
            list.push(result);
            results.set(key(system.id, load.id), list);
            process.stdout.write(`cluster rep ${rep + 1}/${repetitions} ${system.id} ${load.id}: ${result.perSecond}/s, p50 ${result.p50Us} µs, p99 ${result.p99Us} µs${result.failed > 0 ? `, ${result.failed} failed (${result.firstError})` : ''}${result.skipped > 0 ? `, ${result.skipped} not started (cap)` : ''}${result.roleChanges > 0 ? `, ${result.roleChanges} role changes (an election)` : ''}\n`);
            // A load that stalled (answers seconds late) or failed: what the members said meanwhile.
            if (result.clientStates !== undefined) process.stdout.write(`  client: ${result.clientStates.join('; ')}\n`);
            if (result.p99Us > 1_000_000 || result.failed > 0) process.stdout.write(`  members' stderr:\n${running.stderrTail().replace(/^/gm, '    ')}\n`);
          } catch (error) {
            failures.push(`${system.id} ${load.id}: ${(error as Error).message}`);
            process.stdout.write(`cluster rep ${rep + 1}/${repetitions} ${system.id} ${load.id}: FAILED ${(error as Error).message.slice(0, 300)}\n`);
          }
        }
      } catch (error) {
        failures.push(`${system.id}: ${(error as Error).message}`);
        process.stdout.write(`cluster rep ${rep + 1}/${repetitions} ${system.id}: FAILED ${(error as Error).message}\n`);
      } finally {
        await running?.stop();
        rmSync(root, { recursive: true, force: true });
      }
    }
  }
  const markdown = report(systems, loads, results, failures, { repetitions, warmupMs, openLoopWarmupMs, durationMs, clusterWarmupMs }, floorP50Us);
  process.stdout.write(`\n${markdown}\n`);
  const dir = options.resultsDir ?? DEFAULT_RESULTS_DIR;
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${options.runStamp ?? fileStamp(new Date())}-cluster.json`);
  writeFileSync(file, `${JSON.stringify({ repetitions, warmupMs, openLoopWarmupMs, durationMs, clusterWarmupMs, clusterWarmupInFlight: CLUSTER_WARMUP_IN_FLIGHT, valueBytes: VALUE_BYTES, failures, floorP50Us, results: Object.fromEntries(results) }, null, 2)}\n`);
  return { ok: failures.length === 0, title: 'Cluster: Skein beside etcd', markdown, files: [file] };
}

function report(systems: readonly SystemSpec[], loads: readonly LoadKind[], results: Results, failures: readonly string[], run: { repetitions: number; warmupMs: number; openLoopWarmupMs: number; durationMs: number; clusterWarmupMs: number }, floorP50Us: readonly number[]): string {
  const cell = (values: number[]): string => {
    const s = spreadOf(values);
    if (s.count === 0) return '–';
    return s.count === 1 ? `${Math.round(s.median)}` : `${Math.round(s.median)} (${Math.round(s.min)}–${Math.round(s.max)})`;
  };
  const lines = [
    `Puts of ${VALUE_BYTES} B values over 1,024 keys; each system started afresh in each repetition and first given ${run.clusterWarmupMs / 1000} s at ${CLUSTER_WARMUP_IN_FLIGHT} in flight, not counted; each load its own client process; a warm-up of ${run.warmupMs / 1000} s (closed loops) or ${run.openLoopWarmupMs / 1000} s (open loops, their rate ramping up over its first half), not counted, then ${run.durationMs / 1000} s measured; ${run.repetitions} repetitions (median, min–max). Round trips from a command's send to its answer. Skein: \`skein cluster node\` processes, key-value service, log as an archive recording; etcd ${'3.x'} from Debian.`,
    '',
    ...systems.map((s) => `- \`${s.id}\`: ${s.description}`),
    '',
    '| system | load | answered/s | p50 µs | p99 µs | p99.9 µs | failed or not started | elections |',
    '|---|---|---:|---:|---:|---:|---:|---:|',
  ];
  for (const system of systems) {
    for (const load of loads) {
      const list = results.get(key(system.id, load.id));
      if (list === undefined) continue;
      lines.push(`| ${system.id} | ${load.id} | ${cell(list.map((r) => r.perSecond))} | ${cell(list.map((r) => r.p50Us))} | ${cell(list.map((r) => r.p99Us))} | ${cell(list.map((r) => r.p999Us))} | ${list.reduce((n, r) => n + r.failed + r.skipped, 0)} | ${list.filter((r) => r.roleChanges > 0).length} |`);
    }
  }
  lines.push('');
  const rates = (system: string, load: string): number[] => (results.get(key(system, load)) ?? []).map((r) => r.perSecond);
  const goals: string[] = [];
  for (const skein of ['skein-3/sync', 'skein-3/sync-mtu8k', 'skein-1/sync']) {
    const a = rates(skein, 'closed-64');
    const b = rates('etcd-3', 'closed-64');
    if (a.length === 0 || b.length === 0 || a.length !== b.length) continue;
    const r = pairedRatio(a, b).paired;
    goals.push(`- \`${skein}\` ÷ \`etcd-3\` at 64 in flight, repetition by repetition: ${r.median.toFixed(1)}x (${r.min.toFixed(1)}–${r.max.toFixed(1)})${skein.startsWith('skein-3/') ? `; goal ≥ ${THROUGHPUT_GOAL}x: ${r.median >= THROUGHPUT_GOAL ? 'met' : 'not met'}` : ''}.`);
  }
  for (const nosync of ['skein-3/nosync', 'skein-3/nosync-mtu8k']) {
    const sustained = results.get(key(nosync, 'rate-100k'));
    if (sustained !== undefined) {
      const s = spreadOf(sustained.map((r) => r.perSecond));
      const best = spreadOf(rates(nosync, 'closed-64'));
      // Sustained: answered within 2% of what was offered, and no command held back because 5,000 were outstanding (a cluster that keeps up never queues that many).
      const heldBack = sustained.reduce((n, r) => n + r.skipped, 0);
      const met = s.median >= RATE_GOAL * 0.98 && heldBack === 0;
      // The slowest step of each repetition (as a rate), and the most outstanding at a step's end: how deep the dips went.
      const dips = sustained.map((r) => (r.steps === undefined || r.steps.answered.length === 0 ? '–' : `${Math.round(Math.min(...r.steps.answered) / STEP_MS)}k/s, ${Math.max(...r.steps.outstanding)} outstanding`)).join('; ');
      goals.push(`- \`${nosync}\` offered ${RATE_GOAL / 1000}k commands/s answers ${Math.round(s.median)}/s (${Math.round(s.min)}–${Math.round(s.max)}; ${heldBack} commands held back by the cap of ${OPEN_LOOP_CAP} outstanding; closed loop at 64 in flight: ${Number.isFinite(best.median) ? Math.round(best.median) : '–'}/s; slowest ${STEP_MS} ms of each repetition: ${dips}); goal ≥ ${RATE_GOAL}/s sustained (within 2% and none held back): ${met ? 'met' : 'not met'}.`);
    }
    const at10k = results.get(key(nosync, 'rate-10k'));
    if (at10k !== undefined) {
      const p50 = spreadOf(at10k.map((r) => r.p50Us));
      goals.push(`- \`${nosync}\` p50 at 10k commands/s: ${Math.round(p50.median)} µs; goal < ${P50_GOAL_US} µs: ${p50.median < P50_GOAL_US ? 'met' : 'not met'}.`);
    }
  }
  if (floorP50Us.length > 0) {
    const floor = spreadOf(floorP50Us);
    goals.push(`- Floor under the p50 goal, measured in each repetition: four bare \`node:dgram\` processes relaying the same path (load → leader → both followers → leader → load) with no other work, a batch each millisecond (\`npm run bench -- relay\`): p50 ${Math.round(floor.median)} µs (${Math.round(floor.min)}–${Math.round(floor.max)}).`);
  }
  if (goals.length > 0) lines.push('Goals:', '', ...goals, '');
  if (failures.length > 0) lines.push('Failures:', '', ...failures.map((f) => `- ${f.slice(0, 400)}`), '');
  return lines.join('\n');
}
