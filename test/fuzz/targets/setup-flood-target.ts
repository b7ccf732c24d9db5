/**
 * SETUP floods against a subscriber while a genuine publication connects, in the simulator
 * (test/fuzz/harness/setup-flood.ts), round after round with seeds drawn from the run's seed. The
 * rounds take turns over four shapes: one flood socket on the publisher's host, with an eager and
 * with an idle publisher (whose answer is a heartbeat up to 100 ms after its SETUP); more flood
 * addresses than a small bound with an eager publisher; more flood addresses than the default
 * bound with an idle publisher; one flood socket with an idle publisher on a network that loses
 * 10% of datagrams and reorders and duplicates 5%. Every round must connect within 150 ms of
 * simulated time (2 s on the lossy network), deliver every message in order, and keep the
 * subscriber's bounds at every step.
 */
import { SeededPrng } from '../../../src/env/prng.js';
import { describeSetupFlood, runSetupFlood, type SetupFloodOptions } from '../harness/setup-flood.js';
import { FuzzFailure, type FuzzRunOptions, type FuzzRunReport, type FuzzTarget } from '../fuzz-target.js';

const NAME = 'setup-flood';
const CONNECT_BOUND_NS = 150_000_000;

const SHAPES: readonly Omit<SetupFloodOptions, 'seed'>[] = [
  { floodSources: 1, driver: { pendingImagesMax: 256 }, idleUntilConnected: true },
  { floodSources: 1, driver: { pendingImagesMax: 256 } },
  { floodSources: 512, driver: { pendingImagesMax: 64 } },
  { floodSources: 5000, idleUntilConnected: true, headStartNs: 300_000_000 },
  { floodSources: 1, driver: { pendingImagesMax: 256 }, idleUntilConnected: true, faults: { lossRate: 0.1, reorderRate: 0.05, duplicateRate: 0.05 } },
];
/** Shapes whose network loses datagrams: a lost status message or heartbeat costs a 100 ms resend. */
const LOSSY_CONNECT_BOUND_NS = 2_000_000_000;

export const setupFloodTarget: FuzzTarget = {
  name: NAME,
  description: 'SETUP floods (random sessions, mutated SETUPs, noise; one or many sources) while a genuine publication connects and delivers',
  defaultRuns: 100_000,
  async run(options: FuzzRunOptions): Promise<FuzzRunReport> {
    const startMs = Date.now();
    const runs = options.runs ?? setupFloodTarget.defaultRuns;
    const prng = new SeededPrng(options.seed);
    let datagrams = 0;
    let rounds = 0;
    let connectMaxNs = 0;
    let deliverMaxNs = 0;
    let evicted = 0;
    let setups = 0;
    while (datagrams < runs) {
      if (options.timeLimitMs !== undefined && Date.now() - startMs > options.timeLimitMs) break;
      const shape = SHAPES[rounds % SHAPES.length]!;
      const seed = prng.nextUint32() & 0x7fffffff;
      const result = await runSetupFlood({ ...shape, seed, messages: 500 + prng.nextInt(2000), floodPerTick: 2 + prng.nextInt(3), deadlineNs: 30_000_000_000 });
      rounds++;
      datagrams += result.floodDatagrams;
      const what = `round ${rounds} (shape ${(rounds - 1) % SHAPES.length}${shape.faults === undefined ? '' : ', lossy'}, round seed ${seed}): ${describeSetupFlood(result)}`;
      if (result.failure !== null) throw new FuzzFailure(NAME, options.seed, `${what}: ${result.failure}`, { runs });
      const boundNs = shape.faults === undefined ? CONNECT_BOUND_NS : LOSSY_CONNECT_BOUND_NS;
      if (result.connectNs > boundNs) throw new FuzzFailure(NAME, options.seed, `${what}: connected after more than ${boundNs / 1e6} ms`, { runs });
      connectMaxNs = Math.max(connectMaxNs, result.connectNs);
      deliverMaxNs = Math.max(deliverMaxNs, result.deliverNs);
      evicted += result.counters.pendingImagesEvicted;
      setups += result.counters.setupsReceived;
      options.log?.(what);
    }
    return {
      target: NAME,
      seed: options.seed,
      runs: datagrams,
      elapsedMs: Date.now() - startMs,
      details: { rounds, setupsReceived: setups, pendingImagesEvicted: evicted, connectMaxMs: connectMaxNs / 1e6, deliverMaxMs: deliverMaxNs / 1e6 },
    };
  },
};
