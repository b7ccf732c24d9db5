/**
 * Two media drivers and their clients in one simulated world: a publisher node whose UDP
 * publication streams to a subscription on the subscriber node, plus an "attacker" socket on the
 * same simulated network that can send any bytes to either driver's sockets. The whole run is
 * stepped deterministically from one seed.
 */
import { SimWorld, type SimWorldOptions } from '../../../src/sim/sim-world.js';
import { MediaDriver } from '../../../src/driver/media-driver.js';
import { TEST_PROFILE, type DriverOptions } from '../../../src/driver/driver-context.js';
import { SkeinClient } from '../../../src/client/skein-client.js';
import type { Publication } from '../../../src/client/publication.js';
import type { Subscription } from '../../../src/client/subscription.js';
import type { SubscriptionOptions } from '../../../src/client/skein-client.js';
import type { DatagramSocket, DatagramSocketOptions, DatagramTransport } from '../../../src/env/datagram.js';
import { CounterTypeId, type SystemCounterId } from '../../../src/agent/counter-types.js';

/** Wraps a transport and remembers every socket opened through it, by the name the driver gave it. */
export class RecordingTransport implements DatagramTransport {
  readonly sockets: { readonly name: string; readonly socket: DatagramSocket }[] = [];

  constructor(private readonly inner: DatagramTransport) {}

  open(options: DatagramSocketOptions): DatagramSocket {
    const socket = this.inner.open(options);
    this.sockets.push({ name: options.name ?? '', socket });
    return socket;
  }

  /** The bound port of the newest socket whose name starts with `prefix`; throws when there is none. */
  portOf(prefix: string): number {
    for (let i = this.sockets.length - 1; i >= 0; i--) {
      const { name, socket } = this.sockets[i]!;
      if (name.startsWith(prefix) && socket.status === 'bound') return socket.localPort;
    }
    throw new Error(`no bound socket named '${prefix}…' among ${this.sockets.map((s) => `'${s.name}'`).join(', ')}`);
  }
}

export interface SimNode {
  readonly driver: MediaDriver;
  readonly client: SkeinClient;
  readonly transport: RecordingTransport;
  /** Errors the driver recorded (caught in its duty cycles or receive paths). */
  readonly driverErrors: unknown[];
}

import { settle } from '../../support/sim-node.js';

export { settle };

/** Current value of one of a driver's system counters. */
export function systemCounter(driver: MediaDriver, id: SystemCounterId): number {
  const counterId = driver.counters.find(CounterTypeId.SYSTEM, id);
  if (counterId < 0) throw new Error(`system counter ${id} is not allocated`);
  return driver.counters.get(counterId);
}

/** Every system counter of a driver by label, for reports. */
export function systemCounters(driver: MediaDriver): Record<string, number> {
  const out: Record<string, number> = {};
  driver.counters.forEach((_id, typeId, value, label) => {
    if (typeId === CounterTypeId.SYSTEM) out[label] = value;
  });
  return out;
}

export function createSimNode(world: SimWorld, options: DriverOptions): SimNode {
  const transport = new RecordingTransport(world.network);
  const driverErrors: unknown[] = [];
  const driver = new MediaDriver(
    { ...TEST_PROFILE, publishSnapshots: false, ...options },
    { clock: world.clock, epochClock: world.clock, prng: world.prng.fork(), transport, errorHandler: (e) => void driverErrors.push(e) },
  );
  const client = new SkeinClient({ connection: driver.connect(), clock: world.clock, errorHandler: (e) => void driverErrors.push(e) });
  for (const agent of driver.agents) world.addAgent(agent);
  world.addAgent(client);
  return { driver, client, transport, driverErrors };
}

export interface SimDriverPairOptions {
  readonly seed: number;
  /** Driver options on top of the test profile, for both nodes. */
  readonly driver?: DriverOptions;
  /** @default 1001 (the stream of the captured vectors) */
  readonly streamId?: number;
  /** Port of the subscription's endpoint. @default 20121 */
  readonly receivePort?: number;
  readonly network?: SimWorldOptions['network'];
  /** @default 50_000 */
  readonly tickNs?: number;
  readonly subscriptionOptions?: SubscriptionOptions;
}

/** What the factory hands the constructor: the fields of the same names. */
type SimDriverPairInit = Pick<
  SimDriverPair,
  'world' | 'publisher' | 'subscriber' | 'publication' | 'subscription' | 'channel' | 'streamId' | 'receivePort' | 'sendPort' | 'attacker'
>;

export class SimDriverPair {
  readonly world: SimWorld;
  readonly publisher: SimNode;
  readonly subscriber: SimNode;
  readonly publication: Publication;
  readonly subscription: Subscription;
  readonly channel: string;
  readonly streamId: number;
  /** Port of the subscriber's receive endpoint (the channel endpoint). */
  readonly receivePort: number;
  /** Port of the publisher's send endpoint (where status messages and NAKs go). */
  readonly sendPort: number;
  /** A socket on 127.0.0.1 that can send anything; what it receives is counted in {@link attackerReceived}. */
  readonly attacker: DatagramSocket;
  attackerReceived = 0;
  /** Called with every datagram the attacker socket receives (replies of the drivers), when set. */
  onAttackerDatagram: ((data: Uint8Array, length: number) => void) | null = null;

  private constructor(init: SimDriverPairInit) {
    this.world = init.world;
    this.publisher = init.publisher;
    this.subscriber = init.subscriber;
    this.publication = init.publication;
    this.subscription = init.subscription;
    this.channel = init.channel;
    this.streamId = init.streamId;
    this.receivePort = init.receivePort;
    this.sendPort = init.sendPort;
    this.attacker = init.attacker;
    this.attacker.onDatagram = (data, length) => {
      this.attackerReceived++;
      this.onAttackerDatagram?.(data, length);
    };
  }

  /** Builds both nodes and waits until the publication is connected to the subscription. */
  static async open(options: SimDriverPairOptions): Promise<SimDriverPair> {
    const world = new SimWorld({ seed: options.seed, tickNs: options.tickNs ?? 50_000, ...(options.network === undefined ? {} : { network: options.network }) });
    const publisher = createSimNode(world, options.driver ?? {});
    const subscriber = createSimNode(world, options.driver ?? {});
    const streamId = options.streamId ?? 1001;
    const receivePort = options.receivePort ?? 20121;
    const channel = `aeron:udp?endpoint=127.0.0.1:${receivePort}`;
    const subscription = await settle(world, subscriber.client.addSubscription(channel, streamId, options.subscriptionOptions), 2000);
    const publication = await settle(world, publisher.client.addPublication(channel, streamId), 2000);
    if (!world.runUntil(() => publication.isConnected && subscription.imageCount > 0, 20_000)) {
      throw new Error(`publication did not connect (${world.describe()})`);
    }
    const attacker = world.network.open({ family: 4, bindAddress: '127.0.0.1', bindPort: 0, name: 'attacker' });
    const sendPort = publisher.transport.portOf('send ');
    return new SimDriverPair({ world, publisher, subscriber, publication, subscription, channel, streamId, receivePort, sendPort, attacker });
  }

  /** Sends `length` bytes of `bytes` from the attacker socket to a port on 127.0.0.1 (copied at once). */
  sendFromAttacker(bytes: Uint8Array, length: number, port: number): boolean {
    return this.attacker.send(bytes, 0, length, '127.0.0.1', port);
  }

  /** Steps until `predicate` holds; false when `maxSteps` ran out. */
  stepUntil(predicate: () => boolean, maxSteps: number): boolean {
    return this.world.runUntil(predicate, maxSteps);
  }

  close(): void {
    this.attacker.close();
    this.publisher.client.close();
    this.subscriber.client.close();
    this.publisher.driver.close();
    this.subscriber.driver.close();
    this.world.close();
  }
}
