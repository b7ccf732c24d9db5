/**
 * The receive path over real UDP sockets on 127.0.0.1: an embedded driver (`Skein.launch`) streams
 * a healthy publication to its own subscription while a node:dgram socket floods the
 * subscription's port (and the publication's) with the same generated and mutated datagrams as the
 * simulated target. The datagrams follow from the seed; their timing against the driver's event
 * loop does not, so a replay repeats the input but not necessarily the interleaving.
 *
 * Checked: nothing reaches the error handler except refusals at documented limits, the healthy
 * stream arrives whole and in order, the driver's collections stay within its limits.
 */
import { createSocket, type Socket } from 'node:dgram';
import fc from 'fast-check';
import { Skein } from '../../../src/skein.js';
import type { Publication } from '../../../src/client/publication.js';
import type { Subscription } from '../../../src/client/subscription.js';
import { SeededPrng } from '../../../src/env/prng.js';
import { ErrorCode, SkeinError } from '../../../src/util/errors.js';
import { SystemCounterId } from '../../../src/agent/counter-types.js';
import { freeUdpPort } from '../../support/wait.js';
import { HealthyStream } from '../harness/healthy-stream.js';
import { hostileItemArb, materialize, type HealthyState } from '../harness/hostile-datagrams.js';
import { overLimits, probeResources, resourceLimits } from '../harness/resource-probe.js';
import { systemCounter, systemCounters } from '../harness/sim-driver-pair.js';
import { vectorBytes } from './decoder-target.js';
import { FuzzFailure, type FuzzRunOptions, type FuzzRunReport, type FuzzTarget } from '../fuzz-target.js';

const NAME = 'receive-path-udp';
const DEFAULT_DATAGRAMS = 20_000;
const BATCH = 200;
const STREAM_ID = 1001;
const SESSION_POOL = [1234, 381940892, 1355120496, 622759057, 1, 2, 3, 4, 5, 6, 7, 8];
const CONNECT_TIMEOUT_MS = 10_000;
const DRAIN_TIMEOUT_MS = 30_000;

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function until(predicate: () => boolean, timeoutMs: number, pump: () => void): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) return false;
    pump();
    await sleep(1);
  }
  return true;
}

function sendPortOf(skein: Skein): number {
  const endpoints = Reflect.get(skein.driver.conductor, 'sendEndpoints') as Map<string, { socket: { localPort: number } }> | undefined;
  const endpoint = endpoints === undefined ? undefined : [...endpoints.values()][0];
  if (endpoint === undefined) throw new Error('no send endpoint found on the driver conductor (field sendEndpoints)');
  return endpoint.socket.localPort;
}

interface UdpRig {
  readonly skein: Skein;
  readonly attacker: Socket;
  readonly publication: Publication;
  readonly subscription: Subscription;
  /** The subscription's endpoint port. */
  readonly port: number;
  /** The publication's send endpoint port. */
  readonly sendPort: number;
}

/** An embedded driver streaming to itself over 127.0.0.1, and the attacker's socket. */
async function openRig(skein: Skein, attacker: Socket, fail: (message: string) => never): Promise<UdpRig> {
  await new Promise<void>((resolve) => attacker.bind(0, '127.0.0.1', resolve));
  const port = await freeUdpPort();
  const channel = `aeron:udp?endpoint=127.0.0.1:${port}`;
  const subscription = await skein.addSubscription(channel, STREAM_ID);
  const publication = await skein.addPublication(channel, STREAM_ID);
  if (!(await until(() => publication.isConnected && subscription.imageCount > 0, CONNECT_TIMEOUT_MS, () => {}))) {
    fail(`the healthy publication did not connect within ${CONNECT_TIMEOUT_MS} ms`);
  }
  return { skein, attacker, publication, subscription, port, sendPort: sendPortOf(skein) };
}

interface FloodPlan {
  readonly rig: UdpRig;
  readonly healthy: HealthyStream;
  readonly datagrams: number;
  readonly options: FuzzRunOptions;
  readonly startMs: number;
  /** Called after every batch; throws to end the run. */
  readonly check: () => void;
}

/** Sends the planned datagrams from the attacker, pumping the healthy stream; returns how many went out. */
async function flood(plan: FloodPlan): Promise<number> {
  const { rig, healthy, datagrams, options, startMs, check } = plan;
  const { publication, attacker } = rig;
  const items = hostileItemArb({ streamId: STREAM_ID, sessionPool: SESSION_POOL, initialTermId: 100, vectors: vectorBytes(), quietStepsMax: 20 });
  const prng = new SeededPrng(options.seed);
  let sent = 0;
  while (sent < datagrams) {
    if (options.timeLimitMs !== undefined && Date.now() - startMs > options.timeLimitMs) break;
    for (const item of fc.sample(items, { seed: prng.nextUint32() | 0, numRuns: Math.min(BATCH, datagrams - sent) })) {
      if (item.kind === 'quiet') {
        await sleep(Math.ceil(item.steps / 10));
        continue;
      }
      const state: HealthyState = {
        sessionId: publication.sessionId,
        streamId: publication.streamId,
        initialTermId: publication.initialTermId,
        termLength: publication.termBufferLength,
        position: Math.max(0, publication.position),
      };
      const out = materialize(item, state);
      if (out === null) continue;
      attacker.send(out.bytes, out.to === 'receiver' ? rig.port : rig.sendPort, '127.0.0.1');
      sent++;
      if (sent % 16 === 0) {
        healthy.pump(1, 256);
        await turn();
      }
    }
    healthy.pump(1, 256);
    await turn();
    check();
  }
  return sent;
}

export const receivePathUdpTarget: FuzzTarget = {
  name: NAME,
  description: 'an embedded driver on real UDP sockets under the same flood, with a healthy stream verified intact',
  defaultRuns: DEFAULT_DATAGRAMS,
  async run(options: FuzzRunOptions): Promise<FuzzRunReport> {
    const startMs = Date.now();
    const datagrams = options.runs ?? DEFAULT_DATAGRAMS;
    const errors: unknown[] = [];
    const skein = Skein.launch({ testProfile: true, seed: options.seed, driver: { maxImagesPerEndpoint: 16 }, errorHandler: (e) => void errors.push(e), ref: false });
    const attacker: Socket = createSocket('udp4');
    const fail = (message: string, cause?: unknown): never => {
      throw new FuzzFailure(NAME, options.seed, message, { cause, runs: datagrams });
    };
    try {
      const rig = await openRig(skein, attacker, fail);
      const healthy = new HealthyStream(rig.publication, rig.subscription, Number.MAX_SAFE_INTEGER);
      const limits = resourceLimits(skein.driver);
      const sent = await flood({
        rig,
        healthy,
        datagrams,
        options,
        startMs,
        check: () => {
          check(skein, healthy, errors, fail);
          const over = overLimits(probeResources(skein.driver), limits);
          if (over.length > 0) fail(`driver over its limits: ${over.join(', ')}`);
        },
      });
      healthy.finish();
      const drained = await until(() => healthy.isComplete || healthy.failure !== null, DRAIN_TIMEOUT_MS, () => healthy.pump(0, 256));
      check(skein, healthy, errors, fail);
      if (!drained) fail(`healthy stream not complete ${DRAIN_TIMEOUT_MS} ms after the flood: ${healthy.describe()}`);
      if (systemCounter(skein.driver, SystemCounterId.INVALID_PACKETS) === 0) fail('no invalid packet was counted');
      options.log?.(`${NAME}: seed ${options.seed}: ${sent} datagrams, ${healthy.delivered} healthy messages intact`);
      return {
        target: NAME,
        seed: options.seed,
        runs: sent,
        elapsedMs: Date.now() - startMs,
        details: {
          healthyMessages: healthy.delivered,
          foreignMessages: healthy.foreignMessages,
          invalidCounters: Object.fromEntries(Object.entries(systemCounters(skein.driver)).filter(([k, v]) => k.startsWith('Invalid') && v > 0)),
        },
      };
    } catch (error) {
      if (error instanceof FuzzFailure) throw error;
      return fail(`threw: ${error instanceof Error ? error.stack ?? error.message : String(error)}`, error);
    } finally {
      attacker.close();
      skein.destroy();
    }
  },
};

function check(skein: Skein, healthy: HealthyStream, errors: readonly unknown[], fail: (message: string) => never): void {
  const unexpected = errors.find((e) => !(e instanceof SkeinError && e.code === ErrorCode.LIMIT_REACHED));
  if (unexpected !== undefined) fail(`unexpected error: ${unexpected instanceof Error ? unexpected.stack : String(unexpected)}`);
  if (healthy.failure !== null) fail(`healthy stream corrupted: ${healthy.describe()}`);
  if (skein.isClosed) fail('the embedded driver closed');
}
