/**
 * The cluster soak (`npm run soak -- --cluster`): three `skein cluster node` processes on loopback
 * take puts at a steady rate from a ClusterClient in this process for the whole run, and each
 * member's resident memory (VmRSS, read from /proc by pid) is sampled into a table. At the end
 * every put must have been answered, and no member's memory may have grown: after a warm-up (the
 * term buffers touched, the in-memory log window filled), the lowest sample of the last third of
 * the run may exceed the lowest of the first third by at most `rssGrowthRatioMax` of it plus
 * `rssGrowthBytesMax`, while the log grows with every put. A member that kept every entry in memory fails it (`retainedLogBytes` larger than the log
 * shows that: about 1 KiB of resident memory per put).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Skein } from '../../src/skein.js';
import { ClusterClient } from '../../src/cluster/cluster-client.js';
import { encodeKv } from '../../src/cluster/service/kv-service.js';
import { SeededPrng } from '../../src/env/prng.js';
import { startSkein, type StartedProcess } from '../support/processes.js';
import { freeUdpPort } from '../support/wait.js';

export interface ClusterSoakOptions {
  readonly durationMs: number;
  /** Puts a second, offered at a steady rate. @default 5000 */
  readonly ratePerSecond?: number;
  /** @default 5000 */
  readonly sampleIntervalMs?: number;
  /** Each member's `--retained-log-bytes`. Its default when absent. */
  readonly retainedLogBytes?: number;
  /** Part of the run whose samples are not compared (start-up, JIT, term buffers first touched, the log window filling). @default 0.4 */
  readonly warmUpFraction?: number;
  /** @default 0.05 */
  readonly rssGrowthRatioMax?: number;
  /** @default 24 MiB */
  readonly rssGrowthBytesMax?: number;
  readonly seed?: number;
  readonly log?: (line: string) => void;
}

export interface ClusterSoakResult {
  readonly ok: boolean;
  readonly problems: readonly string[];
  readonly figures: {
    readonly sent: number;
    readonly answered: number;
    readonly failed: number;
    readonly rssFloorsMiB: readonly (readonly [number, number])[];
  };
}

const MIB = 1024 * 1024;

function residentBytes(pid: number): number | null {
  try {
    const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match === null ? null : Number(match[1]) * 1024;
  } catch {
    return null;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Runs the soak; stops every member it started (by pid) before it returns, whatever happened. */
export async function runClusterSoak(options: ClusterSoakOptions): Promise<ClusterSoakResult> {
  const rate = options.ratePerSecond ?? 5000;
  const sampleIntervalMs = options.sampleIntervalMs ?? 5000;
  const warmUpFraction = options.warmUpFraction ?? 0.4;
  const ratioMax = options.rssGrowthRatioMax ?? 0.05;
  const bytesMax = options.rssGrowthBytesMax ?? 24 * MIB;
  const log = options.log ?? ((): void => {});
  const root = mkdtempSync(join(tmpdir(), 'skein-cluster-soak-'));
  const specs: { id: number; ingress: string; consensus: string }[] = [];
  for (let id = 0; id < 3; id++) specs.push({ id, ingress: `127.0.0.1:${await freeUdpPort()}`, consensus: `127.0.0.1:${await freeUdpPort()}` });
  const clusterMembers = specs.map((m) => `${m.id},${m.ingress},${m.consensus}`).join('|');
  const nodes: StartedProcess[] = [];
  const skein = Skein.launch({ testProfile: true, seed: options.seed ?? 1, dir: join(root, 'client') });
  let client: ClusterClient | null = null;
  const samples: { atMs: number; rss: (number | null)[] }[] = [];
  let sent = 0;
  let answered = 0;
  let failed = 0;
  let firstError: string | null = null;
  try {
    for (const m of specs) {
      const args = ['cluster', 'node', '--member-id', String(m.id), '--cluster-members', clusterMembers, '--cluster-dir', join(root, `member-${m.id}`), '--dir', join(root, `skein-${m.id}`),
        '--test-profile', '--election-timeout-ms', '300', '--startup-canvass-timeout-ms', '3000'];
      if (options.retainedLogBytes !== undefined) args.push('--retained-log-bytes', String(options.retainedLogBytes));
      nodes.push(startSkein(args));
    }
    for (const n of nodes) await n.waitForLine(/"event":"started"/, 20_000, 'stdout');
    client = await ClusterClient.connect(skein.client, { ingressEndpoints: specs.map((m) => m.ingress), random: new SeededPrng(options.seed ?? 1), commandTimeoutMs: 30_000 });
    const c = client;
    const commands: Uint8Array[] = [];
    for (let k = 0; k < 1024; k++) commands.push(encodeKv({ op: 'put', key: `k${k}`, value: 'x'.repeat(32) }));
    log(`${'time'.padStart(7)} | ${nodes.map((_, i) => `member ${i} RSS MiB`.padEnd(18)).join(' | ')} | answered`);
    const t0 = performance.now();
    let next = t0;
    let nextSample = t0 + sampleIntervalMs;
    const end = t0 + options.durationMs;
    while (performance.now() < end) {
      const now = performance.now();
      // Commands due in the last millisecond go together; a backlog beyond a second's worth is a failure to keep up, not queued.
      while (next <= now) {
        if (sent - answered - failed < rate) {
          sent++;
          c.send(commands[sent % 1024]!).then(
            () => answered++,
            (error: unknown) => {
              failed++;
              firstError ??= error instanceof Error ? error.message : String(error);
            },
          );
        }
        next += 1000 / rate;
      }
      if (now >= nextSample) {
        nextSample += sampleIntervalMs;
        const row = { atMs: now - t0, rss: nodes.map((n) => residentBytes(n.pid)) };
        samples.push(row);
        log(`${`${Math.round(row.atMs / 1000)} s`.padStart(7)} | ${row.rss.map((r) => (r === null ? '–' : (r / MIB).toFixed(1)).padEnd(18)).join(' | ')} | ${answered}`);
      }
      await sleep(1);
    }
    const drainUntil = performance.now() + 30_000;
    while (answered + failed < sent && performance.now() < drainUntil) await sleep(10);
  } finally {
    try {
      await client?.close();
      await skein.close();
    } finally {
      // The members are stopped by pid even when closing the client failed.
      for (const n of nodes) {
        if (!n.isRunning) continue;
        n.signal('SIGTERM');
        await n.waitForExit(15_000).catch(() => n.kill());
      }
      rmSync(root, { recursive: true, force: true });
    }
  }
  const problems: string[] = [];
  if (failed > 0 || answered !== sent) problems.push(`${sent} puts sent, ${answered} answered, ${failed} failed (first: ${firstError})`);
  const measured = samples.filter((s) => s.atMs >= options.durationMs * warmUpFraction);
  const floors: [number, number][] = [];
  if (measured.length < 6) {
    problems.push(`only ${measured.length} samples after the warm-up: run longer or sample more often to judge growth`);
  } else {
    const third = Math.floor(measured.length / 3);
    for (let i = 0; i < nodes.length; i++) {
      const floor = (rows: typeof measured): number => Math.min(...rows.map((r) => r.rss[i]).filter((v): v is number => v !== null));
      const early = floor(measured.slice(0, third));
      const late = floor(measured.slice(measured.length - third));
      floors.push([Math.round(early / MIB), Math.round(late / MIB)]);
      const allowed = early * (1 + ratioMax) + bytesMax;
      if (!(late <= allowed)) problems.push(`member ${i}: resident memory floor grew from ${(early / MIB).toFixed(1)} MiB to ${(late / MIB).toFixed(1)} MiB (allowed up to ${(allowed / MIB).toFixed(1)} MiB)`);
    }
  }
  return { ok: problems.length === 0, problems, figures: { sent, answered, failed, rssFloorsMiB: floors } };
}
