/**
 * A media driver and a client stepped by the simulator, and a raw socket on the same simulated
 * network that plays a hostile or broken peer: it sends hand-made frames and records what comes
 * back. Used by the resource-limit tests.
 */
import { SimWorld } from '../../src/sim/sim-world.js';
import { MediaDriver } from '../../src/driver/media-driver.js';
import { TEST_PROFILE, type DriverOptions } from '../../src/driver/driver-context.js';
import { SkeinClient } from '../../src/client/skein-client.js';
import type { DatagramSocket } from '../../src/env/datagram.js';
import { DataHeaderFlyweight } from '../../src/protocol/data-header-flyweight.js';
import { SetupFlyweight } from '../../src/protocol/setup-flyweight.js';
import { StatusMessageFlyweight } from '../../src/protocol/status-message-flyweight.js';
import { NakFlyweight } from '../../src/protocol/nak-flyweight.js';
import { DATA_HEADER_LENGTH, FrameFlags, FrameType, NAK_LENGTH, SETUP_LENGTH, SM_LENGTH } from '../../src/protocol/frame-constants.js';

export interface SimNode {
  readonly driver: MediaDriver;
  readonly client: SkeinClient;
}

/** A driver with the test profile plus `options`, and one client, both stepped by `world`. */
export function simNode(world: SimWorld, options: DriverOptions = {}): SimNode {
  const driver = new MediaDriver(
    { ...TEST_PROFILE, publishSnapshots: false, ...options },
    { clock: world.clock, epochClock: world.clock, prng: world.prng.fork(), transport: world.network },
  );
  const client = new SkeinClient({ connection: driver.connect(), clock: world.clock });
  for (const agent of driver.agents) world.addAgent(agent);
  world.addAgent(client);
  return { driver, client };
}

/** Steps the world until the promise settles (at most `maxSteps`), then returns its value. */
export async function settle<T>(world: SimWorld, promise: Promise<T>, maxSteps = 2000): Promise<T> {
  let done = false;
  let value: T | undefined;
  let failure: unknown;
  promise.then(
    (v) => {
      done = true;
      value = v;
    },
    (e: unknown) => {
      done = true;
      failure = e;
    },
  );
  for (let i = 0; i < maxSteps && !done; i++) {
    world.step();
    await Promise.resolve();
  }
  if (!done) throw new Error(`promise not settled after ${maxSteps} steps (${world.describe()})`);
  if (failure !== undefined) throw failure;
  return value as T;
}

/** Steps the world for `durationNs` of simulated time. */
export function runFor(world: SimWorld, durationNs: number): void {
  const endNs = world.clock.nanoTime() + durationNs;
  while (world.clock.nanoTime() < endNs) world.step();
}

/** The value of the driver counter with this label (0 when absent). */
export function counterValue(driver: MediaDriver, label: string): number {
  let found = 0;
  driver.counters.forEach((_id, _typeId, value, counterLabel) => {
    if (counterLabel === label) found = value;
  });
  return found;
}

/** A datagram the peer received. */
export interface Received {
  readonly type: number;
  readonly flags: number;
  readonly bytes: Uint8Array;
  readonly srcAddress: string;
  readonly srcPort: number;
}

/** A raw socket that sends hand-made frames and keeps every datagram it receives. */
export class RawPeer {
  readonly socket: DatagramSocket;
  readonly received: Received[] = [];
  private readonly buffer = new Uint8Array(65536);
  private readonly setupFlyweight = new SetupFlyweight();
  private readonly dataFlyweight = new DataHeaderFlyweight();
  private readonly smFlyweight = new StatusMessageFlyweight();
  private readonly nakFlyweight = new NakFlyweight();

  constructor(world: SimWorld, host: string, port: number) {
    this.socket = world.network.open({ family: 4, bindAddress: host, bindPort: port, name: `raw peer ${host}:${port}` });
    this.socket.onDatagram = (data, length, srcAddress, srcPort) => {
      const bytes = data.slice(0, length);
      const type = bytes[6]! | (bytes[7]! << 8);
      this.received.push({ type, flags: bytes[5]!, bytes, srcAddress, srcPort });
    };
  }

  /** Datagrams of this frame type received so far (and matching `flags` bits when given). */
  count(type: number, flags = 0): number {
    return this.received.filter((r) => r.type === type && (r.flags & flags) === flags).length;
  }

  sendSetup(
    to: { host: string; port: number },
    fields: { sessionId: number; streamId: number; termLength?: number; initialTermId?: number; activeTermId?: number; termOffset?: number; mtu?: number },
  ): void {
    this.setupFlyweight.wrap(this.buffer, 0, SETUP_LENGTH).write({
      flags: 0,
      termOffset: fields.termOffset ?? 0,
      sessionId: fields.sessionId,
      streamId: fields.streamId,
      initialTermId: fields.initialTermId ?? 0,
      activeTermId: fields.activeTermId ?? fields.initialTermId ?? 0,
      termLength: fields.termLength ?? 65536,
      mtu: fields.mtu ?? 1408,
      ttl: 0,
    });
    this.socket.send(this.buffer, 0, SETUP_LENGTH, to.host, to.port);
  }

  /** One DATA frame of `frameLength` bytes (header included, payload zeros), sent padded to 32; frameLength 0 is a heartbeat. */
  sendData(to: { host: string; port: number }, fields: { sessionId: number; streamId: number; termId: number; termOffset: number; frameLength?: number }): void {
    const frameLength = fields.frameLength ?? DATA_HEADER_LENGTH;
    const aligned = Math.max(DATA_HEADER_LENGTH, (frameLength + 31) & ~31);
    this.buffer.fill(0, 0, aligned);
    this.dataFlyweight
      .wrap(this.buffer, 0, aligned)
      .writeHeader(frameLength, FrameFlags.UNFRAGMENTED, FrameType.DATA, fields.termOffset, fields.sessionId, fields.streamId, fields.termId);
    this.socket.send(this.buffer, 0, aligned, to.host, to.port);
  }

  sendStatusMessage(
    to: { host: string; port: number },
    fields: { sessionId: number; streamId: number; termId: number; termOffset: number; window: number; receiverId: bigint; flags?: number },
  ): void {
    this.smFlyweight
      .wrap(this.buffer, 0, SM_LENGTH)
      .writeStatusMessage(fields.flags ?? 0, fields.sessionId, fields.streamId, fields.termId, fields.termOffset, fields.window, fields.receiverId);
    this.socket.send(this.buffer, 0, SM_LENGTH, to.host, to.port);
  }

  sendNak(to: { host: string; port: number }, fields: { sessionId: number; streamId: number; termId: number; termOffset: number; length: number }): void {
    this.nakFlyweight.wrap(this.buffer, 0, NAK_LENGTH).writeNak(fields.sessionId, fields.streamId, fields.termId, fields.termOffset, fields.length);
    this.socket.send(this.buffer, 0, NAK_LENGTH, to.host, to.port);
  }
}
