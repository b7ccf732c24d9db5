/**
 * A SETUP flood against a subscriber while a genuine publisher connects, in the deterministic
 * simulator: flood sockets send SETUPs with random session ids for the subscribed stream (random
 * term lengths up to 1 GiB), mutated SETUPs, random bytes and DATA of random unknown sessions, a
 * fixed number per simulated tick, while a publication on another driver connects to the same
 * subscription and streams numbered messages that must arrive once, in order and intact.
 *
 * Every step checks the subscriber's bounds: unestablished images within pendingImagesMax, no
 * image but the genuine one (the flood never answers a status message), image term memory of that
 * one image only, and every other collection of the resource probe within its limit.
 */
import { SeededPrng } from '../../../src/env/prng.js';
import type { DriverOptions } from '../../../src/driver/driver-context.js';
import type { ReceiveChannelEndpoint } from '../../../src/driver/receive-channel-endpoint.js';
import type { DatagramSocket } from '../../../src/env/datagram.js';
import type { FaultOptions } from '../../../src/env/fault-injection.js';
import { SystemCounterId } from '../../../src/agent/counter-types.js';
import { SimWorld } from '../../../src/sim/sim-world.js';
import { createSimNode, settle, systemCounter, type SimNode } from './sim-driver-pair.js';
import { HealthyStream } from './healthy-stream.js';
import { floodDatagram } from './flood-datagrams.js';
import { overLimits, probeResources, resourceLimits } from './resource-probe.js';

export interface SetupFloodOptions {
  readonly seed: number;
  /** Flood datagrams per simulated tick (100 µs): 3 is 30 000 a second. @default 3 */
  readonly floodPerTick?: number;
  /**
   * Flood sockets: 1 is one socket on the genuine publisher's own address (127.0.0.1, another
   * port); more are one socket each on distinct addresses 127.1.x.y. @default 1
   */
  readonly floodSources?: number;
  /** Messages of the genuine publication. @default 2000 */
  readonly messages?: number;
  /** Subscriber driver options on top of the test profile. */
  readonly driver?: DriverOptions;
  /** Simulated time the genuine stream may take to connect and deliver everything. @default 10 s */
  readonly deadlineNs?: number;
  /** The flood runs this long before the genuine publication is added. @default 200 ms */
  readonly headStartNs?: number;
  /**
   * The application offers only once the subscriber has the image, so the publication's answer to
   * the status message is its next heartbeat (up to 100 ms after its last SETUP) rather than DATA
   * at once. @default false
   */
  readonly idleUntilConnected?: boolean;
  /** The flood stops this long after the publication is added. @default it runs to the end */
  readonly floodDurationNs?: number;
  /** Faults of the simulated network, on every path (the flood's too). @default none */
  readonly faults?: FaultOptions;
}

export interface SetupFloodResult {
  /** Simulated time from adding the publication to its image at the subscriber. */
  readonly connectNs: number;
  /** Simulated time from adding the publication to the last message delivered. */
  readonly deliverNs: number;
  readonly messages: number;
  readonly floodDatagrams: number;
  readonly floodSetups: number;
  /** Largest numbers seen at any step. */
  readonly pendingImagesMax: number;
  readonly imagesMax: number;
  readonly imageLogsLengthMax: number;
  /** Subscriber counters at the end. */
  readonly counters: {
    readonly setupsReceived: number;
    readonly pendingImagesEvicted: number;
    readonly pendingImagesExpired: number;
    readonly imagesRejected: number;
    readonly pendingSetupsRejected: number;
    readonly invalidPackets: number;
  };
  /** Why the run failed, or null. */
  readonly failure: string | null;
}

const STREAM_ID = 1001;
const RECEIVE_PORT = 20121;
const TICK_NS = 100_000;

function endpointOf(node: SimNode): ReceiveChannelEndpoint {
  const endpoints = (node.driver.conductor as unknown as { receiveEndpoints: Map<string, ReceiveChannelEndpoint> }).receiveEndpoints;
  const endpoint = [...endpoints.values()][0];
  if (endpoint === undefined) throw new Error('the subscriber has no receive endpoint');
  return endpoint;
}

/**
 * Runs one flood; returns its figures, with `failure` set when the genuine stream did not connect
 * and deliver by the deadline, a bound was passed, or a driver recorded an error.
 */
export async function runSetupFlood(options: SetupFloodOptions): Promise<SetupFloodResult> {
  const floodPerTick = options.floodPerTick ?? 3;
  const sources = options.floodSources ?? 1;
  const messages = options.messages ?? 2000;
  const deadlineNs = options.deadlineNs ?? 10_000_000_000;
  const world = new SimWorld({ seed: options.seed, tickNs: TICK_NS, ...(options.faults === undefined ? {} : { network: { faults: options.faults } }) });
  const prng = new SeededPrng(options.seed ^ 0x5e7f100d);
  const subscriber = createSimNode(world, options.driver ?? {});
  const publisher = createSimNode(world, {});
  const channel = `aeron:udp?endpoint=127.0.0.1:${RECEIVE_PORT}`;
  const sockets: DatagramSocket[] = [];
  let failure: string | null = null;
  let floodDatagrams = 0;
  let floodSetups = 0;
  let pendingMax = 0;
  let imagesMax = 0;
  let logsMax = 0;
  let connectNs = -1;
  let deliverNs = -1;
  let counters: SetupFloodResult['counters'];
  try {
    const subscription = await settle(world, subscriber.client.addSubscription(channel, STREAM_ID), 2000);
    const endpoint = endpointOf(subscriber);
    const limits = resourceLimits(subscriber.driver);
    for (let i = 0; i < sources; i++) {
      const host = sources === 1 ? '127.0.0.1' : `127.1.${(i >> 8) & 0xff}.${i & 0xff}`;
      sockets.push(world.network.open({ family: 4, bindAddress: host, bindPort: 7000, name: `flood ${host}` }));
    }
    let next = 0;
    // The only image the subscriber may hold is the genuine publication's: one log of its term length.
    const genuineLogLength = 3 * publisher.driver.settings.termBufferLength;
    let floodEndNs = Infinity;
    const step = (): void => {
      for (let i = 0; i < floodPerTick && world.clock.nanoTime() < floodEndNs; i++) {
        const { bytes, isSetup } = floodDatagram(prng, STREAM_ID);
        sockets[next]!.send(bytes, 0, bytes.length, '127.0.0.1', RECEIVE_PORT);
        next = (next + 1) % sockets.length;
        floodDatagrams++;
        if (isSetup) floodSetups++;
      }
      world.step();
      const sizes = probeResources(subscriber.driver);
      pendingMax = Math.max(pendingMax, endpoint.pendingImageCount);
      imagesMax = Math.max(imagesMax, sizes.images);
      logsMax = Math.max(logsMax, sizes.imageLogsLength);
      if (failure !== null) return;
      const over = overLimits(sizes, limits);
      if (sizes.images > 1) over.push(`images=${sizes.images}: the flood established an image`);
      if (sizes.imageLogsLength > genuineLogLength) over.push(`imageLogsLength=${sizes.imageLogsLength} > the genuine image's ${genuineLogLength}`);
      if (over.length > 0) failure = `${over.join(', ')} (${world.describe()})`;
    };
    const headStartEnd = world.clock.nanoTime() + (options.headStartNs ?? 200_000_000);
    while (world.clock.nanoTime() < headStartEnd && failure === null) step();

    const startNs = world.clock.nanoTime();
    if (options.floodDurationNs !== undefined) floodEndNs = startNs + options.floodDurationNs;
    const publicationPromise = publisher.client.addPublication(channel, STREAM_ID);
    let publication: Awaited<typeof publicationPromise> | undefined;
    publicationPromise.then((p) => void (publication = p), (e: unknown) => void (failure = `addPublication failed: ${String(e)}`));
    let healthy: HealthyStream | undefined;
    while (failure === null && world.clock.nanoTime() - startNs < deadlineNs) {
      step();
      await Promise.resolve();
      if (publication === undefined) continue;
      healthy ??= new HealthyStream(publication, subscription, messages);
      if (connectNs < 0 && subscription.images.some((image) => image.sessionId === publication!.sessionId)) {
        connectNs = world.clock.nanoTime() - startNs;
      }
      if (connectNs < 0 && options.idleUntilConnected === true) continue;
      healthy.pump();
      if (healthy.failure !== null) failure = healthy.describe();
      else if (healthy.isComplete) {
        deliverNs = world.clock.nanoTime() - startNs;
        break;
      }
    }
    if (failure === null && deliverNs < 0) {
      failure = `the genuine stream did not ${connectNs < 0 ? 'connect' : 'deliver everything'} within ${deadlineNs / 1e9} s of simulated flood (${healthy?.describe() ?? 'no publication'}, ${world.describe()})`;
    }
    const errors = [...subscriber.driverErrors, ...publisher.driverErrors, ...world.errors];
    if (failure === null && errors.length > 0) failure = `driver errors: ${errors.map(String).join('; ')}`;
  } finally {
    const counter = (id: SystemCounterId): number => systemCounter(subscriber.driver, id);
    counters = {
      setupsReceived: counter(SystemCounterId.SETUP_MESSAGES_RECEIVED),
      pendingImagesEvicted: counter(SystemCounterId.PENDING_IMAGES_EVICTED),
      pendingImagesExpired: counter(SystemCounterId.PENDING_IMAGES_EXPIRED),
      imagesRejected: counter(SystemCounterId.IMAGES_REJECTED),
      pendingSetupsRejected: counter(SystemCounterId.PENDING_SETUPS_REJECTED),
      invalidPackets: counter(SystemCounterId.INVALID_PACKETS),
    };
    for (const socket of sockets) socket.close();
    publisher.client.close();
    subscriber.client.close();
    publisher.driver.close();
    subscriber.driver.close();
    world.close();
  }
  return {
    connectNs,
    deliverNs,
    messages,
    floodDatagrams,
    floodSetups,
    pendingImagesMax: pendingMax,
    imagesMax,
    imageLogsLengthMax: logsMax,
    counters,
    failure,
  };
}

/** The figures of a run in one line. */
export function describeSetupFlood(r: SetupFloodResult): string {
  const ms = (ns: number): string => (ns < 0 ? '-' : `${(ns / 1e6).toFixed(1)} ms`);
  const c = r.counters;
  return (
    `connected after ${ms(r.connectNs)}, ${r.messages} messages delivered after ${ms(r.deliverNs)} (simulated); ` +
    `flood ${r.floodDatagrams} datagrams (${r.floodSetups} SETUPs); max unestablished ${r.pendingImagesMax}, max images ${r.imagesMax}, ` +
    `max image term bytes ${r.imageLogsLengthMax}; SETUPs received ${c.setupsReceived}, evicted ${c.pendingImagesEvicted}, ` +
    `expired ${c.pendingImagesExpired}, images refused ${c.imagesRejected}, unknown sessions ignored ${c.pendingSetupsRejected}, ` +
    `invalid packets ${c.invalidPackets}`
  );
}
