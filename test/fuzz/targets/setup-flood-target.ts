/**
 * SETUP floods against a subscriber while a genuine publication connects, in the simulator
 * (test/fuzz/harness/setup-flood.ts), round after round with seeds drawn from the run's seed. The
 * rounds take turns over five shapes, each with the connection time it must meet (simulated):
 *
 * - one flood socket on the publisher's host, publisher offering at once or waiting for the image:
 *   150 ms (fairness keeps the publisher's entry; it answers with a heartbeat within 100 ms);
 * - more flood addresses than the default bound (5000 against 4096 places): 150 ms (an entry
 *   lives at least 4095 newer SETUPs, 136 ms at 30 000 a second);
 * - more flood addresses than a small bound (512 against 64), flood stopping after 1 s: 2.5 s
 *   (outside the guarantee while the flood runs; in within about a second after it);
 * - one flood socket on a network that loses 10% of datagrams and reorders and duplicates 5%: 2 s.
 *
 * Every round must also deliver every message from the first, once, in order and intact, and keep
 * the subscriber's bounds at every step.
 */
import { SeededPrng } from '../../../src/env/prng.js';
import { describeSetupFlood, runSetupFlood, type SetupFloodOptions } from '../harness/setup-flood.js';
import { FuzzFailure, type FuzzRunOptions, type FuzzRunReport, type FuzzTarget } from '../fuzz-target.js';

const NAME = 'setup-flood';
const MS = 1_000_000;

const SHAPES: readonly { readonly options: Omit<SetupFloodOptions, 'seed'>; readonly connectBoundNs: number }[] = [
  { options: { floodSources: 1, driver: { pendingImagesMax: 256 }, idleUntilConnected: true }, connectBoundNs: 150 * MS },
  { options: { floodSources: 1, driver: { pendingImagesMax: 256 } }, connectBoundNs: 150 * MS },
  { options: { floodSources: 5000, headStartNs: 300 * MS }, connectBoundNs: 150 * MS },
  { options: { floodSources: 512, driver: { pendingImagesMax: 64 }, floodDurationNs: 1000 * MS }, connectBoundNs: 2500 * MS },
  {
    options: { floodSources: 1, driver: { pendingImagesMax: 256 }, idleUntilConnected: true, faults: { lossRate: 0.1, reorderRate: 0.05, duplicateRate: 0.05 } },
    connectBoundNs: 2000 * MS,
  },
];

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
    // At least one round of every shape, then rounds until `runs` flood datagrams were sent.
    while (datagrams < runs || rounds < SHAPES.length) {
      if (options.timeLimitMs !== undefined && Date.now() - startMs > options.timeLimitMs) break;
      const { options: shape, connectBoundNs } = SHAPES[rounds % SHAPES.length]!;
      const seed = prng.nextUint32() & 0x7fffffff;
      const result = await runSetupFlood({ ...shape, seed, messages: 500 + prng.nextInt(2000), floodPerTick: 2 + prng.nextInt(3), deadlineNs: 30_000_000_000 });
      rounds++;
      datagrams += result.floodDatagrams;
      const what = `round ${rounds} (shape ${(rounds - 1) % SHAPES.length}${shape.faults === undefined ? '' : ', lossy'}, round seed ${seed}): ${describeSetupFlood(result)}`;
      if (result.failure !== null) throw new FuzzFailure(NAME, options.seed, `${what}: ${result.failure}`, { runs });
      if (result.connectNs > connectBoundNs) throw new FuzzFailure(NAME, options.seed, `${what}: connected after more than ${connectBoundNs / 1e6} ms`, { runs });
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
