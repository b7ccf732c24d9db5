/**
 * ZeroMQ (the `zeromq` v6 binding) over tcp or ipc: PUSH/PULL one-way (the send high-water mark
 * is the back pressure), DEALER/ROUTER request/response (ROUTER echoes), and PUB/SUB fan-out (PUB
 * drops what a slow subscriber cannot take, which shows as loss). The binding allows one send at
 * a time per socket, so every sender awaits each send.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { ChildConfig, ChildContext, RoleHandle } from '../../support/child-runtime.js';
import type { ThroughputWindow } from '../../transport/throughput-meter.js';
import { writeSequence } from '../../transport/payload.js';
import { loadPeer, type ZmqSocket } from '../peer-modules.js';
import { PHASE_OFFSET, SEQUENCE_OFFSET, payloadPoolSlots, phaseCommand, type PhaseCommand } from '../phases.js';
import { PhaseMeter } from './phase-meter.js';
import { PayloadPool, sendingRole } from './send-loop.js';
import { RequestDriver, SLOTS_MAX } from './request-driver.js';

const BATCH = 256;

export interface ZmqBindConfig extends ChildConfig, ThroughputWindow {
  /** `tcp://127.0.0.1:*` or `ipc:///…`. */
  readonly bindAddress: string;
}

export interface ZmqConnectConfig extends ChildConfig, ThroughputWindow {
  readonly endpoint: string;
}

/** The library's default high-water mark, in messages. */
const HIGH_WATER_MARK = 1000;
/**
 * Buffers a sender rotates through. The binding sends messages over 128 bytes without copying,
 * so a buffer may still be queued until a high-water mark's worth of later sends.
 */
function zmqPoolSlots(length: number): number {
  return Math.max(payloadPoolSlots(length), 2 * HIGH_WATER_MARK + 2 * BATCH);
}

/** Receives until the socket closes, handing every first frame to `onMessage`. */
function receiveLoop(socket: ZmqSocket, onMessage: (frames: Buffer[]) => void, context: ChildContext): void {
  void (async () => {
    while (!socket.closed) {
      let frames: Buffer[];
      try {
        frames = await socket.receive();
      } catch (error) {
        if (!socket.closed) context.fail(error);
        return;
      }
      onMessage(frames);
    }
  })();
}

/** Sends messages of the current phase one await at a time, yielding a turn every batch. */
class AsyncPump {
  sent = 0;
  private command: PhaseCommand | null = null;
  private pool: PayloadPool | null = null;
  private running = true;
  private wakeUp: (() => void) | null = null;

  constructor(
    private readonly socket: ZmqSocket,
    private readonly context: ChildContext,
  ) {
    void this.run();
  }

  start(command: PhaseCommand): void {
    this.command = command;
    this.pool = new PayloadPool(zmqPoolSlots(command.length), command.length);
    this.wakeUp?.();
  }

  stop(): void {
    this.running = false;
    this.wakeUp?.();
  }

  private async run(): Promise<void> {
    let phase = -1;
    let sequence = 0;
    try {
      while (this.running) {
        const command = this.command;
        if (command === null) {
          await new Promise<void>((resolve) => (this.wakeUp = resolve));
          continue;
        }
        if (command.phase !== phase) {
          phase = command.phase;
          sequence = 0;
        }
        const pool = this.pool!;
        for (let i = 0; i < BATCH && this.running && this.command === command; i++) {
          const buffer = pool.next();
          writeSequence(buffer, SEQUENCE_OFFSET, sequence);
          writeSequence(buffer, PHASE_OFFSET, phase);
          await this.socket.send(buffer);
          sequence = (sequence + 1) >>> 0;
          this.sent++;
        }
        await nextTurn();
      }
    } catch (error) {
      if (this.running && !this.socket.closed) this.context.fail(error);
    }
  }
}

async function bound(socket: ZmqSocket, address: string): Promise<string> {
  await socket.bind(address);
  return socket.lastEndpoint ?? address;
}

/** PULL (binds) and counts. */
export async function zmqPull(config: ZmqBindConfig, context: ChildContext): Promise<RoleHandle> {
  const zmq = loadPeer('zeromq');
  const socket = new zmq.Pull({ receiveHighWaterMark: HIGH_WATER_MARK, linger: 0 });
  const endpoint = await bound(socket, config.bindAddress);
  const meter = new PhaseMeter(config, (metrics) => context.result(metrics));
  receiveLoop(socket, (frames) => void meter.record(frames[0]!, 0, frames[0]!.length), context);
  context.ready({ endpoint });
  return {
    stop: () => {
      meter.cancel();
      socket.close();
      return { received: meter.messages };
    },
  };
}

/** PUSH (connects) as fast as the high-water mark allows. */
export async function zmqPush(config: ZmqConnectConfig, context: ChildContext): Promise<RoleHandle> {
  const zmq = loadPeer('zeromq');
  const socket = new zmq.Push({ sendHighWaterMark: HIGH_WATER_MARK, linger: 0 });
  socket.connect(config.endpoint);
  const pump = new AsyncPump(socket, context);
  context.ready();
  return sendingRole(pump, () => socket.close());
}

/** PUB (binds) to every subscriber; what a subscriber cannot take is dropped by the library. */
export async function zmqPublisher(config: ZmqBindConfig, context: ChildContext): Promise<RoleHandle> {
  const zmq = loadPeer('zeromq');
  const socket = new zmq.Publisher({ sendHighWaterMark: HIGH_WATER_MARK, linger: 0 });
  const endpoint = await bound(socket, config.bindAddress);
  const pump = new AsyncPump(socket, context);
  context.ready({ endpoint });
  return sendingRole(pump, () => socket.close());
}

/** SUB (connects, subscribes to everything) and counts. */
export async function zmqSubscriber(config: ZmqConnectConfig, context: ChildContext): Promise<RoleHandle> {
  const zmq = loadPeer('zeromq');
  const socket = new zmq.Subscriber({ receiveHighWaterMark: HIGH_WATER_MARK, linger: 0 });
  socket.connect(config.endpoint);
  socket.subscribe();
  const meter = new PhaseMeter(config, (metrics) => context.result(metrics));
  receiveLoop(socket, (frames) => void meter.record(frames[0]!, 0, frames[0]!.length), context);
  context.ready();
  return {
    stop: () => {
      meter.cancel();
      socket.close();
      return { received: meter.messages };
    },
  };
}

/** ROUTER (binds) echoing every request to the DEALER it came from. */
export async function zmqRouterEcho(config: ZmqBindConfig, context: ChildContext): Promise<RoleHandle> {
  const zmq = loadPeer('zeromq');
  const socket = new zmq.Router({ linger: 0 });
  const endpoint = await bound(socket, config.bindAddress);
  let echoed = 0;
  void (async () => {
    try {
      while (!socket.closed) {
        const frames = await socket.receive();
        await socket.send(frames);
        echoed++;
      }
    } catch (error) {
      if (!socket.closed) context.fail(error);
    }
  })();
  context.ready({ endpoint });
  return {
    stop: () => {
      socket.close();
      return { echoed };
    },
  };
}

/** DEALER (connects) with N requests in flight; sends are queued and awaited one at a time. */
export async function zmqDealerRequester(config: ZmqConnectConfig, context: ChildContext): Promise<RoleHandle> {
  const zmq = loadPeer('zeromq');
  const socket = new zmq.Dealer({ linger: 0 });
  socket.connect(config.endpoint);
  const queue: Buffer[] = [];
  let sending = false;
  const drain = async (): Promise<void> => {
    sending = true;
    try {
      while (queue.length > 0 && !socket.closed) await socket.send(queue.shift()!);
    } catch (error) {
      if (!socket.closed) context.fail(error);
    }
    sending = false;
  };
  const driver = new RequestDriver(
    {
      send: (_slot, buffer) => {
        if (queue.length > SLOTS_MAX) throw new Error('more requests queued than slots');
        queue.push(buffer);
        if (!sending) void drain();
      },
    },
    context,
    config,
  );
  receiveLoop(socket, (frames) => driver.onResponse(frames[0]!, 0), context);
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
