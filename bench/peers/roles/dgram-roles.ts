/**
 * Raw node:dgram on loopback, the floor under every UDP system: one message per datagram (or
 * `batch`: as many 32-byte-header frames as fit a 1376-byte datagram, as Skein packs them),
 * sent to one or more receivers, with no flow control and no retransmission, so what a receiver
 * cannot take is lost and counted. The echo answers every datagram to its sender.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import type { ChildConfig, ChildContext, RoleHandle } from '../../support/child-runtime.js';
import type { ThroughputWindow } from '../../transport/throughput-meter.js';
import { phaseCommand } from '../phases.js';
import { PhaseMeter } from './phase-meter.js';
import { SENT, SendLoop, sendingRole, type SendOutcome } from './send-loop.js';
import { RequestDriver } from './request-driver.js';

const HOST = '127.0.0.1';
/** Frame header in batched datagrams: length (i32 LE) first, as in an Aeron DATA frame. */
export const FRAME_HEADER_LENGTH = 32;
/** Room for frames in one datagram: Skein's default MTU (1408) less its 32-byte header. */
export const BATCH_DATAGRAM_LENGTH_MAX = 1376;
const POOL_DATAGRAMS = 4096;
/** SO_RCVBUF of the receivers: Skein's default socketRcvbufLength. */
const RCVBUF_LENGTH = 2 * 1024 * 1024;

export interface DgramSenderConfig extends ChildConfig {
  readonly ports: readonly number[];
  readonly batch: boolean;
}

export interface DgramReceiverConfig extends ChildConfig, ThroughputWindow {
  readonly port: number;
  readonly batch: boolean;
}

export interface DgramRequestConfig extends ChildConfig, ThroughputWindow {
  readonly port: number;
}

/** How many frames of a `length`-byte message fit one batched datagram. */
export function framesPerDatagram(length: number): number {
  return Math.max(1, Math.floor(BATCH_DATAGRAM_LENGTH_MAX / (FRAME_HEADER_LENGTH + length)));
}

async function bind(socket: Socket, port: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind({ port, address: HOST, exclusive: true }, () => {
      socket.off('error', reject);
      resolve();
    });
  });
}

/** Packs frames into datagrams from a rotating pool and sends each full datagram to every port. */
class BatchingSink {
  private pool: Buffer = Buffer.alloc(0);
  private datagramLength = 0;
  private frames = 0;
  private frameIndex = 0;
  private datagram = 0;

  constructor(
    private readonly socket: Socket,
    private readonly ports: readonly number[],
  ) {}

  send(buffer: Buffer, length: number): SendOutcome {
    const frameLength = FRAME_HEADER_LENGTH + length;
    if (this.frames === 0 || frameLength * this.frames !== this.datagramLength) {
      this.frames = framesPerDatagram(length);
      this.datagramLength = frameLength * this.frames;
      this.pool = Buffer.alloc(POOL_DATAGRAMS * this.datagramLength);
      this.frameIndex = 0;
    }
    const base = (this.datagram % POOL_DATAGRAMS) * this.datagramLength;
    const offset = base + this.frameIndex * frameLength;
    this.pool.writeInt32LE(frameLength, offset);
    buffer.copy(this.pool, offset + FRAME_HEADER_LENGTH, 0, length);
    if (++this.frameIndex === this.frames) {
      for (const port of this.ports) this.socket.send(this.pool, base, this.datagramLength, port, HOST);
      this.frameIndex = 0;
      this.datagram++;
    }
    return SENT;
  }
}

export async function dgramSender(config: DgramSenderConfig, context: ChildContext): Promise<RoleHandle> {
  const socket = createSocket({ type: 'udp4' });
  await bind(socket, 0);
  const { ports } = config;
  const sink = config.batch
    ? new BatchingSink(socket, ports)
    : {
        send: (buffer: Buffer, length: number): SendOutcome => {
          for (let i = 0; i < ports.length; i++) socket.send(buffer, 0, length, ports[i]!, HOST);
          return SENT;
        },
      };
  const loop = new SendLoop(sink, { batch: config.batch ? 1024 : Math.max(16, Math.floor(256 / ports.length)) });
  context.ready();
  return sendingRole(loop, () => void socket.close());
}

export async function dgramReceiver(config: DgramReceiverConfig, context: ChildContext): Promise<RoleHandle> {
  const meter = new PhaseMeter(config, (metrics) => context.result(metrics));
  const socket = createSocket({ type: 'udp4' });
  let datagrams = 0;
  socket.on('message', (message: Buffer) => {
    datagrams++;
    if (!config.batch) {
      meter.record(message, 0, message.length);
      return;
    }
    for (let offset = 0; offset + FRAME_HEADER_LENGTH < message.length; ) {
      const frameLength = message.readInt32LE(offset);
      if (frameLength <= FRAME_HEADER_LENGTH) break;
      meter.record(message, offset + FRAME_HEADER_LENGTH, frameLength - FRAME_HEADER_LENGTH);
      offset += frameLength;
    }
  });
  await bind(socket, config.port);
  socket.setRecvBufferSize(RCVBUF_LENGTH);
  context.ready({ rcvbufLength: socket.getRecvBufferSize() });
  return {
    stop: () => {
      meter.cancel();
      socket.close();
      return { received: meter.messages, datagrams };
    },
  };
}

export async function dgramEcho(config: DgramRequestConfig, context: ChildContext): Promise<RoleHandle> {
  const socket = createSocket({ type: 'udp4' });
  let echoed = 0;
  socket.on('message', (message: Buffer, remote: RemoteInfo) => {
    echoed++;
    socket.send(message, 0, message.length, remote.port, remote.address);
  });
  await bind(socket, config.port);
  context.ready();
  return {
    stop: () => {
      socket.close();
      return { echoed };
    },
  };
}

export async function dgramRequester(config: DgramRequestConfig, context: ChildContext): Promise<RoleHandle> {
  const socket = createSocket({ type: 'udp4' });
  await bind(socket, 0);
  const driver = new RequestDriver({ send: (_slot, buffer) => socket.send(buffer, 0, buffer.length, config.port, HOST) }, context, config);
  socket.on('message', (message: Buffer) => driver.onResponse(message, 0));
  context.ready();
  return {
    command: (data) => driver.start(phaseCommand(data)),
    stop: () => {
      driver.stop();
      socket.close();
      return { completed: driver.completedTotal, stale: driver.stale };
    },
  };
}
