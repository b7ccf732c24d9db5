/**
 * The load side of `npm run bench -- cluster`, one process per measurement: a Skein
 * `ClusterClient` (its own embedded driver) or an etcd v3 client (the `etcd3` package) sending
 * key-value puts, either closed-loop (a fixed number of commands in flight, each answered command
 * replaced at once) or open-loop (commands started at a fixed offered rate whatever the answers).
 * Skein's client sends with `sendWith` (each outcome to a listener, no promise per command), etcd's
 * with its promise API.
 * A warm-up window is sent and not counted (an open loop's rate ramps up over its first half,
 * {@link RAMP_SHARE}); then the measured window's answered commands per
 * second and round-trip percentiles (from each command's start to its answer) are printed as one
 * JSON line on stdout.
 *
 *   node dist/bench/cluster/cluster-load.js '<json LoadSpec>'
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { quantileOfSorted } from '../support/stats.js';

export interface LoadSpec {
  readonly system: 'skein' | 'etcd';
  /** Skein: the members' ingress endpoints (host:port); etcd: client URLs. */
  readonly endpoints: readonly string[];
  /** Closed loop: commands in flight. */
  readonly inFlight?: number;
  /** Open loop: commands started per second. */
  readonly rate?: number;
  readonly warmupMs: number;
  readonly durationMs: number;
  /** Bytes of each put's value. */
  readonly valueBytes: number;
  /** Skein: the MTU of the client's ingress and egress channels (default: the driver's, 1408). */
  readonly mtu?: number;
}

export interface LoadResult {
  readonly answered: number;
  readonly failed: number;
  readonly perSecond: number;
  readonly p50Us: number;
  readonly p90Us: number;
  readonly p99Us: number;
  readonly p999Us: number;
  readonly maxUs: number;
  /** Open loop: commands that could not be started on time because the cap of outstanding ones was reached. */
  readonly skipped: number;
  readonly firstError: string | null;
  /** Skein: the client's state changes during the run ("FROM->TO (reason)"), none when all went well. */
  readonly clientStates?: readonly string[];
  /**
   * Open loop: the measured window in steps of {@link STEP_MS}: commands answered in each, and
   * those outstanding at its end (where a run fell behind, and whether it caught up).
   */
  readonly steps?: { readonly answered: readonly number[]; readonly outstanding: readonly number[] };
}

/** Where a load hears how each command it started ended; `startUs` is the command's start time. */
interface Outcomes {
  done(startUs: number): void;
  failed(error: unknown): void;
}

/** One system's client: `start` sends the put for `index` and reports its outcome to `outcomes`. */
interface Sender {
  /** One put, awaited: the session (or channel) is up. */
  first(): Promise<unknown>;
  start(index: number, startUs: number): void;
  outcomes: Outcomes;
  close(): Promise<void>;
  readonly states: string[];
}

const KEYS = 1024;
/** Open loop: never more outstanding than this (a saturated system is reported, not queued without end). */
export const OPEN_LOOP_CAP = 5000;
/**
 * Open loop: the offered rate rises from 0 to the full rate over this share of the warm-up, then
 * holds. A load process starts cold (its code not yet optimised, its heap small): started at
 * 100k commands/s at once, it fell tens of milliseconds behind its own schedule in the first
 * 100 ms and left a backlog of thousands of commands to the measured window, while a second open
 * loop in the same process started clean.
 */
const RAMP_SHARE = 0.5;
/** Open loop: the length of the steps answers are counted in ({@link LoadResult.steps}). */
export const STEP_MS = 100;

/** Monotonic microseconds, without allocating (`process.hrtime.bigint()` makes a bigint per call). */
function nowUs(): number {
  return performance.now() * 1000;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

class Recorder {
  private samples = new Float64Array(1 << 16);
  private count = 0;
  answered = 0;
  failed = 0;
  firstError: string | null = null;
  measuring = false;

  record(startUs: number): void {
    // The round trip is taken in the warm-up too, so the measured window starts with this path warm.
    const roundTripUs = nowUs() - startUs;
    if (!this.measuring) return;
    this.answered++;
    if (this.count === this.samples.length) {
      const grown = new Float64Array(this.samples.length * 2);
      grown.set(this.samples);
      this.samples = grown;
    }
    this.samples[this.count++] = roundTripUs;
  }

  fail(error: unknown): void {
    if (this.firstError === null) this.firstError = error instanceof Error ? error.message : String(error);
    if (this.measuring) this.failed++;
  }

  result(windowMs: number, skipped: number): LoadResult {
    const sorted = this.samples.subarray(0, this.count).sort();
    const at = (q: number): number => Math.round(quantileOfSorted(sorted, q));
    return {
      answered: this.answered,
      failed: this.failed,
      perSecond: Math.round(this.answered / (windowMs / 1000)),
      p50Us: at(0.5),
      p90Us: at(0.9),
      p99Us: at(0.99),
      p999Us: at(0.999),
      maxUs: at(1),
      skipped,
      firstError: this.firstError,
    };
  }
}

async function closedLoop(sender: Sender, spec: LoadSpec, recorder: Recorder): Promise<LoadResult> {
  const inFlight = spec.inFlight!;
  let running = true;
  let index = 0;
  let outstanding = 0;
  // Each ended command is replaced at once, from within the outcome's call, while running.
  const next = (): void => {
    if (!running) {
      outstanding--;
      return;
    }
    try {
      sender.start(index++, nowUs());
    } catch (error) {
      // Not accepted (a closed client): this slot stops.
      recorder.fail(error);
      outstanding--;
    }
  };
  sender.outcomes = {
    done(startUs: number): void {
      recorder.record(startUs);
      next();
    },
    failed(error: unknown): void {
      recorder.fail(error);
      next();
    },
  };
  for (let i = 0; i < inFlight; i++) {
    outstanding++;
    next();
  }
  await sleep(spec.warmupMs);
  recorder.measuring = true;
  const measuredFrom = nowUs();
  await sleep(spec.durationMs);
  recorder.measuring = false;
  const windowMs = (nowUs() - measuredFrom) / 1000;
  running = false;
  const drainUntil = nowUs() + 30_000_000;
  while (outstanding > 0 && nowUs() < drainUntil) await sleep(5);
  return recorder.result(windowMs, 0);
}

async function openLoop(sender: Sender, spec: LoadSpec, recorder: Recorder): Promise<LoadResult> {
  const intervalUs = 1e6 / spec.rate!;
  let outstanding = 0;
  let skipped = 0;
  let index = 0;
  const startedUs = nowUs();
  const measureFromUs = startedUs + spec.warmupMs * 1000;
  const rampUs = spec.warmupMs * 1000 * RAMP_SHARE;
  const endUs = measureFromUs + spec.durationMs * 1000;
  let next = startedUs;
  const steps = { answered: [] as number[], outstanding: [] as number[] };
  let stepAnswered = 0;
  let nextStepUs = measureFromUs + STEP_MS * 1000;
  sender.outcomes = {
    done(startUs: number): void {
      outstanding--;
      recorder.record(startUs);
      if (recorder.measuring) stepAnswered++;
    },
    failed(error: unknown): void {
      outstanding--;
      recorder.fail(error);
    },
  };
  while (true) {
    const now = nowUs();
    if (now >= endUs) break;
    recorder.measuring = now >= measureFromUs;
    while (now >= nextStepUs && nextStepUs <= endUs) {
      steps.answered.push(stepAnswered);
      steps.outstanding.push(outstanding);
      stepAnswered = 0;
      nextStepUs += STEP_MS * 1000;
    }
    // Over a ramp of R the rate grows in proportion to the time since the start t, so by t the
    // commands due are those the full rate starts by t²/2R; after it, those by t - R/2.
    const elapsedUs = now - startedUs;
    const dueUs = elapsedUs < rampUs ? startedUs + (elapsedUs * elapsedUs) / (2 * rampUs) : now - rampUs / 2;
    while (next <= dueUs) {
      if (outstanding >= OPEN_LOOP_CAP) {
        if (recorder.measuring) skipped++;
      } else {
        outstanding++;
        try {
          sender.start(index++, now);
        } catch (error) {
          outstanding--;
          recorder.fail(error);
        }
      }
      next += intervalUs;
    }
    // Wake about every millisecond; commands due in between start together (their round trips are
    // measured from when they were actually sent).
    await sleep(1);
  }
  // The step that ends where the window does.
  if (nextStepUs <= endUs) {
    steps.answered.push(stepAnswered);
    steps.outstanding.push(outstanding);
  }
  // Answers to commands started in the window still count; wait for them (bounded).
  const drainUntil = nowUs() + 3_000_000;
  while (outstanding > 0 && nowUs() < drainUntil) await sleep(5);
  recorder.measuring = false;
  return { ...recorder.result(spec.durationMs, skipped), steps };
}

const NO_OUTCOMES: Outcomes = {
  done(): void {},
  failed(): void {},
};

/**
 * Skein: the client's `sendWith`, which reports each outcome to a listener with the start time as
 * its token (no promise or closure per command, as a sender of many commands a second would use it).
 */
async function skeinSender(spec: LoadSpec): Promise<Sender> {
  const { Skein } = await import('../../src/skein.js');
  const { ClusterClient } = await import('../../src/cluster/cluster-client.js');
  const { encodeKv } = await import('../../src/cluster/service/kv-service.js');
  const dir = mkdtempSync(join(tmpdir(), 'skein-cluster-load-'));
  const skein = Skein.launch({ dir, driver: { publishSnapshots: false } });
  const channels = spec.mtu === undefined ? {} : { ingressChannel: `aeron:udp?mtu=${spec.mtu}`, egressChannel: `aeron:udp?endpoint=127.0.0.1:0|mtu=${spec.mtu}` };
  const client = await ClusterClient.connect(skein.client, { ingressEndpoints: spec.endpoints, commandTimeoutMs: 30_000, ...channels });
  const states: string[] = [];
  client.onStateChange((change) => {
    if (change.to !== 'CLOSED') states.push(`${change.from}->${change.to} (${change.reason})`);
  });
  const value = 'x'.repeat(spec.valueBytes);
  const commands: Uint8Array[] = [];
  for (let k = 0; k < KEYS; k++) commands.push(encodeKv({ op: 'put', key: `k${k}`, value }));
  const sender: Sender = {
    states,
    outcomes: NO_OUTCOMES,
    first: () => client.send(commands[0]!),
    start: (index, startUs) => client.sendWith(commands[index % KEYS]!, listener, startUs),
    close: async () => {
      await client.close();
      await skein.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  const listener = {
    onAnswer: (startUs: number): void => sender.outcomes.done(startUs),
    onError: (_startUs: number, error: unknown): void => sender.outcomes.failed(error),
  };
  return sender;
}

async function etcdSender(spec: LoadSpec): Promise<Sender> {
  const { Etcd3 } = await import('etcd3');
  const client = new Etcd3({ hosts: [...spec.endpoints] });
  const value = 'x'.repeat(spec.valueBytes);
  const keys: string[] = [];
  for (let k = 0; k < KEYS; k++) keys.push(`k${k}`);
  const put = (index: number): Promise<unknown> => client.put(keys[index % KEYS]!).value(value).exec();
  const sender: Sender = {
    states: [],
    outcomes: NO_OUTCOMES,
    first: () => put(0),
    start: (index, startUs) => {
      put(index).then(
        () => sender.outcomes.done(startUs),
        (error: unknown) => sender.outcomes.failed(error),
      );
    },
    close: async () => {
      client.close();
    },
  };
  return sender;
}

export async function runLoad(spec: LoadSpec): Promise<LoadResult> {
  const sender = spec.system === 'skein' ? await skeinSender(spec) : await etcdSender(spec);
  try {
    await sender.first();
    const recorder = new Recorder();
    const result = spec.inFlight !== undefined ? await closedLoop(sender, spec, recorder) : await openLoop(sender, spec, recorder);
    return sender.states.length === 0 ? result : { ...result, clientStates: sender.states };
  } finally {
    await sender.close();
  }
}

if (process.argv[1] !== undefined && import.meta.url.endsWith(process.argv[1].replace(/\\/g, '/').split('/').pop()!)) {
  const spec = JSON.parse(process.argv[2] ?? '') as LoadSpec;
  const lifetime = setTimeout(() => {
    process.stderr.write('cluster-load: lifetime exceeded\n');
    process.exit(3);
  }, spec.warmupMs + spec.durationMs + 60_000);
  lifetime.unref();
  runLoad(spec).then(
    (result) => {
      process.stdout.write(`${JSON.stringify(result)}\n`);
      process.exit(0);
    },
    (error: unknown) => {
      process.stderr.write(`cluster-load: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exit(1);
    },
  );
}
