/**
 * The soak run: several streams, each with a long-lived subscriber process, a long-lived publisher
 * process and a publisher process that is restarted (SIGTERM, graceful close, new process with a
 * new session) every restart interval, all under injected loss and reordering on every send and
 * receive path. Children report their heap in use and their count of active handles and requests
 * with every progress line; the run samples them into a table over time.
 *
 * At the end every publisher closes gracefully and the run checks that every stream is complete
 * (for every publisher session, the subscriber received exactly what the publisher reports sent,
 * in order and intact, and saw the end of the stream), that every process exited cleanly, and
 * that no long-lived process grew its heap or handle count beyond the tolerance:
 *
 * - heap: the lowest heap sample of the second half of the run (after a warm-up) may exceed the
 *   lowest of the first half by at most `heapGrowthRatioMax` of it plus `heapGrowthBytesMax`
 *   (lowest samples, because they are the ones taken right after a garbage collection);
 * - handles: the median of the second half may exceed the largest of the first half by at most
 *   `handleGrowthMax`.
 *
 * `npm run soak -- --minutes N` runs it from scripts/soak.mjs; a short run is a system test.
 */
import type { FaultOptions } from '../../src/env/fault-injection.js';
import { loopbackChannel, startFixture, type FixtureEvent, type FixtureProcess } from '../support/system-processes.js';

export interface SoakOptions {
  durationMs: number;
  /** Streams, each with a subscriber, a steady publisher and a restarted publisher. @default 2 */
  streams?: number;
  /** How often each stream's restarted publisher is replaced. @default 10000 */
  restartIntervalMs?: number;
  /** How often a row of the heap and handle table is taken. @default 5000 */
  sampleIntervalMs?: number;
  /** Messages per second per publisher. @default 1000 */
  ratePerSecond?: number;
  /** Faults on every send and receive path. @default 5% loss, 5% reordering */
  faults?: FaultOptions;
  seed?: number;
  /** Part of the run whose samples are not compared (start-up, JIT, first GCs). @default 0.25 */
  warmUpFraction?: number;
  /** @default 0.5 */
  heapGrowthRatioMax?: number;
  /** @default 8 MiB */
  heapGrowthBytesMax?: number;
  /** @default 4 */
  handleGrowthMax?: number;
  /** Receives progress lines and the table as the run goes. @default nothing */
  log?: (line: string) => void;
}

export interface ResourceSample {
  readonly heapUsed: number;
  readonly handles: number;
}

export interface SoakRow {
  readonly atMs: number;
  readonly cells: readonly (ResourceSample | null)[];
}

export interface SessionCheck {
  readonly stream: number;
  readonly sessionId: number;
  readonly sent: number;
  readonly received: number;
  readonly endOfStream: boolean;
}

export interface SoakResult {
  readonly ok: boolean;
  readonly problems: readonly string[];
  readonly columns: readonly string[];
  readonly rows: readonly SoakRow[];
  readonly table: string;
  readonly sessions: readonly SessionCheck[];
  readonly restarts: number;
  readonly messages: number;
}

const MIB = 1024 * 1024;
const SIZES = [8, 24, 100, 8, 40, 1376, 16, 200, 1377, 8, 64, 3000, 12, 500, 32, 8];

interface Resolved {
  durationMs: number;
  streams: number;
  restartIntervalMs: number;
  sampleIntervalMs: number;
  ratePerSecond: number;
  faults: FaultOptions;
  seed: number;
  warmUpFraction: number;
  heapGrowthRatioMax: number;
  heapGrowthBytesMax: number;
  handleGrowthMax: number;
  log: (line: string) => void;
}

function resolve(options: SoakOptions): Resolved {
  const r: Resolved = {
    durationMs: options.durationMs,
    streams: options.streams ?? 2,
    restartIntervalMs: options.restartIntervalMs ?? 10_000,
    sampleIntervalMs: options.sampleIntervalMs ?? 5000,
    ratePerSecond: options.ratePerSecond ?? 1000,
    faults: options.faults ?? { lossRate: 0.05, reorderRate: 0.05 },
    seed: options.seed ?? 1,
    warmUpFraction: options.warmUpFraction ?? 0.25,
    heapGrowthRatioMax: options.heapGrowthRatioMax ?? 0.5,
    heapGrowthBytesMax: options.heapGrowthBytesMax ?? 8 * MIB,
    handleGrowthMax: options.handleGrowthMax ?? 4,
    log: options.log ?? (() => {}),
  };
  const positive = (name: keyof Resolved, value: number): void => {
    if (!(Number.isFinite(value) && value > 0)) throw new Error(`soak option ${name}=${value} is invalid; expected a number > 0`);
  };
  positive('durationMs', r.durationMs);
  positive('streams', r.streams);
  positive('restartIntervalMs', r.restartIntervalMs);
  positive('sampleIntervalMs', r.sampleIntervalMs);
  positive('ratePerSecond', r.ratePerSecond);
  if (!Number.isInteger(r.streams) || r.streams > 16) throw new Error(`soak option streams=${r.streams} is invalid; expected an integer in [1, 16]`);
  return r;
}

/** One stream: its channel, its long-lived subscriber and publisher, and every incarnation of its restarted publisher. */
class StreamRig {
  readonly streamId: number;
  subscriber!: FixtureProcess;
  steady!: FixtureProcess;
  readonly cycling: FixtureProcess[] = [];
  private channel = '';
  private nextSeed: number;

  constructor(
    readonly index: number,
    private readonly options: Resolved,
  ) {
    this.streamId = 5001 + index;
    this.nextSeed = options.seed * 1000 + index * 100;
  }

  get current(): FixtureProcess {
    return this.cycling[this.cycling.length - 1]!;
  }

  get publishers(): FixtureProcess[] {
    return [this.steady, ...this.cycling];
  }

  async start(): Promise<void> {
    this.channel = await loopbackChannel();
    const o = this.options;
    this.subscriber = startFixture('subscriber', {
      ...this.common(),
      count: null,
      timeoutMs: o.durationMs + 120_000,
    });
    await this.subscriber.waitForEvent('subscribed', 15_000);
    this.steady = this.startPublisher();
    this.cycling.push(this.startPublisher());
    await Promise.all([this.steady.waitForEvent('connected', 15_000), this.current.waitForEvent('connected', 15_000)]);
  }

  /** Replaces the restarted publisher: SIGTERM, graceful close, then a new process. */
  async restart(): Promise<void> {
    await stopPublisher(this.current);
    const next = this.startPublisher();
    this.cycling.push(next);
    await next.waitForEvent('connected', 15_000);
  }

  private startPublisher(): FixtureProcess {
    return startFixture('publisher', {
      ...this.common(),
      seed: this.nextSeed++,
      count: null,
      ratePerSecond: this.options.ratePerSecond,
      stallTimeoutMs: 30_000,
      closeTimeoutMs: 30_000,
    });
  }

  private common(): Record<string, unknown> {
    const faults = this.options.faults;
    return {
      channel: this.channel,
      streamId: this.streamId,
      seed: this.nextSeed++,
      sizes: SIZES,
      faults: { send: faults, receive: faults },
      reportIntervalMs: Math.min(1000, Math.max(100, Math.floor(this.options.sampleIntervalMs / 2))),
      // A lingering publication serves the last repairs of a lossy stream after its close.
      driver: { publicationLingerTimeoutNs: 2_000_000_000 },
    };
  }
}

async function stopPublisher(publisher: FixtureProcess): Promise<void> {
  publisher.signal('SIGTERM');
  await publisher.waitForEvent('closed', 40_000);
  await publisher.waitForExit(10_000);
}

function resources(p: FixtureProcess | undefined): ResourceSample | null {
  const progress = p?.isRunning === true ? p.last('progress') : undefined;
  const r = progress?.process as ResourceSample | undefined;
  return r === undefined ? null : { heapUsed: r.heapUsed, handles: r.handles };
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Runs the soak; resolves with the verdict, the table and what was checked. Kills every child it started before it returns. */
export async function runSoak(options: SoakOptions): Promise<SoakResult> {
  const o = resolve(options);
  const rigs = Array.from({ length: o.streams }, (_, i) => new StreamRig(i, o));
  const columns = rigs.flatMap((r) => [`s${r.index + 1} sub`, `s${r.index + 1} pub`, `s${r.index + 1} restarted pub`]);
  const rows: SoakRow[] = [];
  const problems: string[] = [];
  let restarts = 0;
  const startMs = Date.now();
  const sample = (): void => {
    const row = { atMs: Date.now() - startMs, cells: rigs.flatMap((r) => [resources(r.subscriber), resources(r.steady), resources(r.current)]) };
    rows.push(row);
    o.log(formatRow(row));
  };
  try {
    await Promise.all(rigs.map((r) => r.start()));
    o.log(`soak: ${o.streams} streams, ${o.streams * 3} processes, faults ${JSON.stringify(o.faults)}, ${o.ratePerSecond} msg/s per publisher, restart every ${o.restartIntervalMs} ms, for ${o.durationMs} ms`);
    o.log(formatHeader(columns));
    const endMs = startMs + o.durationMs;
    let nextSampleMs = Date.now() + o.sampleIntervalMs;
    let nextRestartMs = Date.now() + o.restartIntervalMs;
    while (Date.now() < endMs) {
      failFast(rigs);
      if (Date.now() >= nextSampleMs) {
        sample();
        nextSampleMs += o.sampleIntervalMs;
      }
      if (Date.now() >= nextRestartMs && endMs - Date.now() > o.restartIntervalMs / 2) {
        await Promise.all(rigs.map((r) => r.restart()));
        restarts += rigs.length;
        nextRestartMs = Date.now() + o.restartIntervalMs;
        continue;
      }
      await sleep(Math.max(10, Math.min(nextSampleMs, nextRestartMs, endMs) - Date.now()));
    }
    sample();
    await Promise.all(rigs.flatMap((r) => [stopPublisher(r.steady), stopPublisher(r.current)]));
    const sessions = await Promise.all(rigs.map((r) => checkStream(r, problems)));
    problems.push(...growthProblems(columns, rows, o));
    const flat = sessions.flat();
    const messages = flat.reduce((sum, s) => sum + s.received, 0);
    return { ok: problems.length === 0, problems, columns, rows, table: [formatHeader(columns), ...rows.map(formatRow)].join('\n'), sessions: flat, restarts, messages };
  } catch (error) {
    problems.push(`the run failed: ${(error as Error).message}`);
    return { ok: false, problems, columns, rows, table: [formatHeader(columns), ...rows.map(formatRow)].join('\n'), sessions: [], restarts, messages: 0 };
  } finally {
    await Promise.allSettled(rigs.flatMap((r) => [r.subscriber, ...r.publishers].filter((p) => p !== undefined).map((p) => p.kill())));
  }
}

/** Throws as soon as a child reports an error or a mismatch, or dies. */
function failFast(rigs: StreamRig[]): void {
  for (const rig of rigs) {
    for (const p of [rig.subscriber, rig.steady, rig.current]) {
      const failure = p.find('error') ?? p.find('mismatch');
      if (failure !== undefined) throw new Error(`stream ${rig.streamId}: ${p.name} reported ${failure.event}: ${p.describe()}`);
      if (!p.isRunning) throw new Error(`stream ${rig.streamId}: ${p.name} exited early: ${p.describe()}`);
    }
  }
}

/** Waits for the subscriber to see every publisher's end of stream, stops it and compares what each session sent and delivered. */
async function checkStream(rig: StreamRig, problems: string[]): Promise<SessionCheck[]> {
  const publishers = rig.publishers;
  const sessionOf = (p: FixtureProcess): number => p.find('connected')!.sessionId as number;
  const subscriber = rig.subscriber;
  const ended = (sessionId: number): FixtureEvent | undefined => subscriber.find('image-unavailable', (e) => e.sessionId === sessionId && e.endOfStream === true);
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline && !publishers.every((p) => ended(sessionOf(p)) !== undefined)) await sleep(20);
  subscriber.signal('SIGTERM');
  const summary = await subscriber.waitForEvent('summary', 15_000);
  const status = await subscriber.waitForExit(15_000);
  if (status.code !== 0) problems.push(`stream ${rig.streamId}: subscriber exited ${JSON.stringify(status)}`);
  if (summary.failure !== null) problems.push(`stream ${rig.streamId}: subscriber failure: ${String(summary.failure)}`);
  const received = new Map((summary.sessions as { sessionId: number; received: number }[]).map((s) => [s.sessionId, s.received]));
  const checks: SessionCheck[] = [];
  for (const p of publishers) {
    const sessionId = sessionOf(p);
    const done = p.find('done');
    const check: SessionCheck = {
      stream: rig.streamId,
      sessionId,
      sent: (done?.sent as number | undefined) ?? -1,
      received: received.get(sessionId) ?? 0,
      endOfStream: ended(sessionId) !== undefined,
    };
    checks.push(check);
    if (p.status?.code !== 0) problems.push(`stream ${rig.streamId} session ${sessionId}: publisher exited ${JSON.stringify(p.status)}`);
    if (check.sent <= 0 || check.received !== check.sent || !check.endOfStream) {
      problems.push(`stream ${rig.streamId} session ${sessionId} incomplete: sent ${check.sent}, received ${check.received}, end of stream ${check.endOfStream}`);
    }
  }
  return checks;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? 0 : sorted[Math.floor(sorted.length / 2)]!;
}

/**
 * Compares each long-lived process's samples of the first and second half after the warm-up (see
 * the module comment); returns a sentence per process that grew beyond the tolerance. Columns
 * named `… restarted pub` are shown in the table but not judged (their processes are replaced).
 */
export function growthProblems(
  columns: readonly string[],
  rows: readonly SoakRow[],
  options: Pick<SoakOptions, 'durationMs' | 'warmUpFraction' | 'heapGrowthRatioMax' | 'heapGrowthBytesMax' | 'handleGrowthMax'>,
): string[] {
  const o = resolve({ ...options, durationMs: options.durationMs });
  const problems: string[] = [];
  const measured = rows.filter((r) => r.atMs >= o.durationMs * o.warmUpFraction);
  if (measured.length < 4) {
    problems.push(`only ${measured.length} samples after the warm-up: run longer or sample more often to judge growth`);
    return problems;
  }
  const half = Math.floor(measured.length / 2);
  columns.forEach((column, i) => {
    if (column.endsWith('restarted pub')) return;
    const early = measured.slice(0, half).map((r) => r.cells[i]).filter((c): c is ResourceSample => c !== null);
    const late = measured.slice(half).map((r) => r.cells[i]).filter((c): c is ResourceSample => c !== null);
    if (early.length === 0 || late.length === 0) {
      problems.push(`${column}: no samples to compare`);
      return;
    }
    const earlyHeap = Math.min(...early.map((c) => c.heapUsed));
    const lateHeap = Math.min(...late.map((c) => c.heapUsed));
    const heapAllowed = earlyHeap * (1 + o.heapGrowthRatioMax) + o.heapGrowthBytesMax;
    if (lateHeap > heapAllowed) {
      problems.push(`${column}: heap floor grew from ${mib(earlyHeap)} to ${mib(lateHeap)} (allowed up to ${mib(heapAllowed)})`);
    }
    const earlyHandles = Math.max(...early.map((c) => c.handles));
    const lateHandles = median(late.map((c) => c.handles));
    if (lateHandles > earlyHandles + o.handleGrowthMax) {
      problems.push(`${column}: handles grew from at most ${earlyHandles} to a median of ${lateHandles} (allowed +${o.handleGrowthMax})`);
    }
  });
  return problems;
}

function mib(bytes: number): string {
  return `${(bytes / MIB).toFixed(1)} MiB`;
}

const CELL = 18;

function formatHeader(columns: readonly string[]): string {
  const head = `${'time'.padStart(7)} | ${columns.map((c) => c.padEnd(CELL)).join(' | ')}`;
  const units = `${''.padStart(7)} | ${columns.map(() => 'heap MiB, handles'.padEnd(CELL)).join(' | ')}`;
  return `${head}\n${units}\n${'-'.repeat(head.length)}`;
}

function formatRow(row: SoakRow): string {
  const cells = row.cells.map((c) => (c === null ? '–' : `${(c.heapUsed / MIB).toFixed(1).padStart(6)} ${String(c.handles).padStart(4)}`).padEnd(CELL));
  return `${`${(row.atMs / 1000).toFixed(0)} s`.padStart(7)} | ${cells.join(' | ')}`;
}
