/**
 * The receive path as a whole, live: two drivers in the deterministic simulator stream a healthy
 * publication to a subscription while an attacker socket sends fast-check generated and mutated
 * datagrams to the subscription's receive endpoint (and control frames to the publication's send
 * endpoint). The run is fully determined by its seed.
 *
 * Checked as it runs and at the end:
 * - no agent throws out of a duty cycle, and the drivers record no error other than the refusals
 *   their limits document;
 * - the healthy stream is delivered completely, once, in order and intact (poison frames aimed at
 *   its future positions must be dropped whole);
 * - images, session marks, NAK timers, tracked receivers, counters, distinct errors and image
 *   term memory stay within the driver's limits, and so do live array buffers after a garbage
 *   collection; the invalid-frame counters moved.
 */
import { SeededPrng } from '../../../src/env/prng.js';
import type { DriverOptions } from '../../../src/driver/driver-context.js';
import { SystemCounterId } from '../../../src/agent/counter-types.js';
import { frameTypeName } from '../../../src/protocol/frame-constants.js';
import { ErrorCode, SkeinError } from '../../../src/util/errors.js';
import fc from 'fast-check';
import { SimDriverPair, systemCounter, systemCounters } from '../harness/sim-driver-pair.js';
import { HealthyStream } from '../harness/healthy-stream.js';
import {
  hostileItemArb,
  materialize,
  type HealthyState,
  type HostileContext,
  type HostileItem,
} from '../harness/hostile-datagrams.js';
import { overLimits, probeResources, resourceLimits, type ResourceSizes } from '../harness/resource-probe.js';
import { liveArrayBufferBytes } from '../harness/memory.js';
import { vectorBytes } from './decoder-target.js';
import { FuzzFailure, type FuzzRunOptions, type FuzzRunReport, type FuzzTarget } from '../fuzz-target.js';

const NAME = 'receive-path';
const DEFAULT_DATAGRAMS = 100_000;
const BATCH = 500;
/**
 * Driver options of both nodes, on top of the test profile: limits small enough for a flood to
 * reach them (16 images, 48 MiB of image terms, so a SETUP asking for 1 GiB terms is refused).
 * The attacker's images keep their gaps open, and an open gap costs a NAK every retry interval
 * and a scan of the receiver window every duty cycle; a 32 KiB window and NAKs repeated every
 * millisecond (rather than 128 KiB and 100 µs) keep that from making most of the run's work.
 */
const FUZZ_DRIVER_OPTIONS: DriverOptions = {
  maxImagesPerEndpoint: 16,
  imageLogsLengthMax: 48 * 1024 * 1024,
  initialWindowLength: 32 * 1024,
  nakUnicastRetryDelayRatio: 1000,
};
/** Simulated time per step. */
const TICK_NS = 100_000;
/** Sessions of the captured vectors and a few small ids: most generated frames use one of these. */
const SESSION_POOL = [1234, 381940892, 1355120496, 622759057, -579953832, 381522335, -1782839734, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
/** While the flood lasts the healthy stream offers one message every this many steps on average. */
const OFFER_ONE_IN_STEPS = 3;
/** During quiet periods (no hostile datagram), one message every this many steps on average. */
const QUIET_OFFER_ONE_IN_STEPS = 50;
/**
 * After each batch the attacker pauses for up to this many steps; every LONG_QUIET_EVERY batches,
 * for longer than the image liveness timeout, so that its images time out and cool down.
 */
const QUIET_STEPS_MAX = 400;
const LONG_QUIET_EVERY = 40;
/** Batches between checks of the memory held by live array buffers (each check collects garbage). */
const MEMORY_CHECK_EVERY = 40;
const DRAIN_STEPS_MAX = 400_000;

/** Errors a driver may record under attack: the refusals at the limits it documents. */
function isExpectedError(error: unknown): boolean {
  return error instanceof SkeinError && error.code === ErrorCode.LIMIT_REACHED;
}

interface Tally {
  sent: number;
  poison: number;
  quietSteps: number;
  bySource: Record<string, number>;
  peak: Record<keyof ResourceSizes, number>;
  arrayBufferBytesMax: number;
}

export const receivePathTarget: FuzzTarget = {
  name: NAME,
  description: 'a live driver pair under a flood of generated and mutated datagrams, with a healthy stream verified intact',
  defaultRuns: DEFAULT_DATAGRAMS,
  async run(options: FuzzRunOptions): Promise<FuzzRunReport> {
    const startMs = Date.now();
    const datagrams = options.runs ?? DEFAULT_DATAGRAMS;
    const pair = await SimDriverPair.open({ seed: options.seed, driver: FUZZ_DRIVER_OPTIONS, tickNs: TICK_NS });
    const fail = (message: string, cause?: unknown): never => {
      throw new FuzzFailure(NAME, options.seed, `${message} [${pair.world.describe()}]`, { cause, runs: datagrams });
    };
    try {
      const tally = flood(pair, datagrams, options, startMs, fail);
      const healthy = tally.healthy;
      healthy.finish();
      const drained = pair.stepUntil(() => {
        healthy.pump(0, 256);
        return healthy.isComplete || healthy.failure !== null;
      }, DRAIN_STEPS_MAX);
      checkHealth(pair, healthy, fail);
      if (!drained) fail(`healthy stream not complete ${DRAIN_STEPS_MAX} steps after the flood: ${healthy.describe()}`);
      const counters = systemCounters(pair.subscriber.driver);
      if (systemCounter(pair.subscriber.driver, SystemCounterId.INVALID_PACKETS) === 0) fail('no invalid packet was counted');
      const moved = Object.fromEntries(Object.entries(counters).filter(([k, v]) => k.startsWith('Invalid') && v > 0));
      options.log?.(
        `${NAME}: seed ${options.seed}: ${tally.sent} datagrams (${tally.poison} poison), ${healthy.delivered} healthy messages intact, ` +
          `${healthy.foreignMessages} foreign messages, peak ${JSON.stringify(tally.peak)}`,
      );
      return {
        target: NAME,
        seed: options.seed,
        runs: tally.sent,
        elapsedMs: Date.now() - startMs,
        details: {
          healthyMessages: healthy.delivered,
          foreignMessages: healthy.foreignMessages,
          poison: tally.poison,
          quietSteps: tally.quietSteps,
          steps: pair.world.stepCount,
          simulatedMs: pair.world.clock.nanoTime() / 1e6,
          bySource: tally.bySource,
          peak: tally.peak,
          arrayBufferMbMax: Math.round(tally.arrayBufferBytesMax / 1e6),
          repliesToAttacker: tally.replies,
          driverErrors: [...new Set([...pair.subscriber.driverErrors, ...pair.publisher.driverErrors].map(describeError))].slice(0, 10),
          invalidCounters: moved,
          publisherInvalidCounters: Object.fromEntries(
            Object.entries(systemCounters(pair.publisher.driver)).filter(([k, v]) => k.startsWith('Invalid') && v > 0),
          ),
        },
      };
    } catch (error) {
      if (error instanceof FuzzFailure) throw error;
      return fail(`threw: ${error instanceof Error ? error.stack ?? error.message : String(error)}`, error);
    } finally {
      pair.close();
    }
  },
};

function flood(
  pair: SimDriverPair,
  datagrams: number,
  options: FuzzRunOptions,
  startMs: number,
  fail: (message: string) => never,
): Tally & { healthy: HealthyStream; replies: Record<string, number> } {
  const healthy = new HealthyStream(pair.publication, pair.subscription, Number.MAX_SAFE_INTEGER);
  const replies = tallyReplies(pair);
  const context: HostileContext = { streamId: pair.streamId, sessionPool: SESSION_POOL, initialTermId: 100, vectors: vectorBytes(), quietStepsMax: 200 };
  const items = hostileItemArb(context);
  const prng = new SeededPrng(options.seed);
  const pub = pair.publication;
  const peak = { images: 0, sessionMarksMax: 0, nakTimersMax: 0, receiversMax: 0, distinctErrors: 0, counters: 0, imageLogsLength: 0, pendingImages: 0 };
  const tally: Tally = { sent: 0, poison: 0, quietSteps: 0, bySource: {}, peak, arrayBufferBytesMax: 0 };
  const limits = { sub: resourceLimits(pair.subscriber.driver), pub: resourceLimits(pair.publisher.driver) };
  let nextLogMs = startMs + 2000;
  for (let batch = 0; tally.sent < datagrams; batch++) {
    if (options.timeLimitMs !== undefined && Date.now() - startMs > options.timeLimitMs) break;
    const sample = fc.sample(items, { seed: prng.nextUint32() | 0, numRuns: Math.min(BATCH, datagrams - tally.sent) });
    const perStep = 1 + prng.nextInt(40);
    let sinceStep = 0;
    for (const item of sample) {
      if (item.kind === 'quiet') {
        quiet(pair, healthy, prng, item.steps, OFFER_ONE_IN_STEPS);
        tally.quietSteps += item.steps;
        continue;
      }
      const state: HealthyState = {
        sessionId: pub.sessionId,
        streamId: pub.streamId,
        initialTermId: pub.initialTermId,
        termLength: pub.termBufferLength,
        position: Math.max(0, pub.position),
      };
      const out = materialize(item, state);
      if (out === null) continue;
      pair.sendFromAttacker(out.bytes, out.bytes.length, out.to === 'receiver' ? pair.receivePort : pair.sendPort);
      tally.sent++;
      countSource(tally, item);
      if (++sinceStep >= perStep) {
        sinceStep = 0;
        step(pair, healthy, prng, OFFER_ONE_IN_STEPS);
      }
    }
    const livenessSteps = Math.ceil(pair.subscriber.driver.settings.imageLivenessTimeoutNs / pair.world.tickNs) + 100;
    const quietSteps = batch % LONG_QUIET_EVERY === LONG_QUIET_EVERY - 1 ? livenessSteps : prng.nextInt(QUIET_STEPS_MAX + 1);
    quiet(pair, healthy, prng, quietSteps, QUIET_OFFER_ONE_IN_STEPS);
    tally.quietSteps += quietSteps;
    checkHealth(pair, healthy, fail);
    checkBounds(pair, limits, tally, fail);
    if (batch % MEMORY_CHECK_EVERY === MEMORY_CHECK_EVERY - 1) checkMemory(pair, tally, fail);
    if (options.log !== undefined && Date.now() >= nextLogMs) {
      nextLogMs = Date.now() + 2000;
      const memory = process.memoryUsage();
      options.log(
        `${NAME}: seed ${options.seed}: ${tally.sent} datagrams, ${healthy.describe()}, sim ${(pair.world.clock.nanoTime() / 1e9).toFixed(2)} s, ` +
          `rss ${Math.round(memory.rss / 1e6)} MB, array buffers ${Math.round(memory.arrayBuffers / 1e6)} MB`,
      );
    }
  }
  return { ...tally, healthy, replies };
}

/** Counts what the drivers send back to the attacker, by frame type. */
function tallyReplies(pair: SimDriverPair): Record<string, number> {
  const replies: Record<string, number> = {};
  pair.onAttackerDatagram = (data, length) => {
    const name = length >= 8 ? frameTypeName(data[6]! | (data[7]! << 8)) : 'short';
    replies[name] = (replies[name] ?? 0) + 1;
  };
  return replies;
}

function step(pair: SimDriverPair, healthy: HealthyStream, prng: SeededPrng, offerOneIn: number): void {
  pair.world.step();
  healthy.pump(prng.nextInt(offerOneIn) === 0 ? 1 : 0, 128);
}

function quiet(pair: SimDriverPair, healthy: HealthyStream, prng: SeededPrng, steps: number, offerOneIn: number): void {
  for (let i = 0; i < steps; i++) step(pair, healthy, prng, offerOneIn);
}

function countSource(tally: Tally, item: HostileItem): void {
  const source = item.kind === 'datagram' ? item.source : item.kind === 'poison' ? `poison:${item.shape}` : item.kind;
  if (item.kind === 'poison') tally.poison++;
  tally.bySource[source] = (tally.bySource[source] ?? 0) + 1;
}

function checkHealth(pair: SimDriverPair, healthy: HealthyStream, fail: (message: string) => never): void {
  if (pair.world.errors.length > 0) fail(`an agent threw: ${describeFully(pair.world.errors[0])}`);
  if (healthy.failure !== null) fail(`healthy stream corrupted: ${healthy.describe()}`);
  for (const node of [pair.subscriber, pair.publisher]) {
    const unexpected = node.driverErrors.find((e) => !isExpectedError(e));
    if (unexpected !== undefined) fail(`the driver recorded an unexpected error: ${describeFully(unexpected)}`);
  }
  if (pair.subscription.imageCount === 0 || pair.subscription.imageBySessionId(pair.publication.sessionId) === undefined) {
    fail('the healthy image is gone');
  }
}

function checkBounds(
  pair: SimDriverPair,
  limits: { sub: Record<keyof ResourceSizes, number>; pub: Record<keyof ResourceSizes, number> },
  tally: Tally,
  fail: (message: string) => never,
): void {
  for (const [who, driver, limit] of [
    ['subscriber', pair.subscriber.driver, limits.sub],
    ['publisher', pair.publisher.driver, limits.pub],
  ] as const) {
    const sizes = probeResources(driver);
    for (const key of Object.keys(sizes) as (keyof ResourceSizes)[]) tally.peak[key] = Math.max(tally.peak[key], sizes[key]);
    const over = overLimits(sizes, limit);
    if (over.length > 0) fail(`${who} driver over its limits: ${over.join(', ')}`);
  }
}

/**
 * Live array buffers after a garbage collection must fit the image terms the limits allow: the
 * endpoint's imageLogsLengthMax, as much again for freed images the client has not let go of yet,
 * plus a fixed allowance for the healthy stream, the network and the generators.
 */
function checkMemory(pair: SimDriverPair, tally: Tally, fail: (message: string) => never): void {
  const bytes = liveArrayBufferBytes();
  tally.arrayBufferBytesMax = Math.max(tally.arrayBufferBytesMax, bytes);
  const boundBytes = 2 * resourceLimits(pair.subscriber.driver).imageLogsLength + 64 * 1024 * 1024;
  if (bytes > boundBytes) {
    const imageStates = (Reflect.get(pair.subscriber.driver.conductor, 'images') as { termLength: number; state: string }[]).map((i) => `${i.state}:${i.termLength}`);
    const clientImages = pair.subscription.images.map((i) => i.sessionId);
    fail(
      `live array buffers hold ${Math.round(bytes / 1e6)} MB, more than the ${Math.round(boundBytes / 1e6)} MB the limits allow; ` +
        `driver images ${JSON.stringify(imageStates)}, subscription images ${clientImages.length}, in flight ${pair.world.network.pendingCount}`,
    );
  }
}

function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/** The error with its stack (and its cause's), for failure reports. */
function describeFully(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause === undefined ? '' : `\ncaused by ${describeFully(error.cause)}`;
  return `${error.stack ?? describeError(error)}${cause}`;
}
