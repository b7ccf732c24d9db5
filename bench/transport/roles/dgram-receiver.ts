/**
 * Baseline receiver on node:dgram. `single`: one message per datagram. `batch`: each datagram
 * holds back-to-back frames, each starting with its little-endian 32-bit frame length and a
 * 32-byte header, followed by the payload (whose first 4 bytes are the sequence); every frame is
 * walked and counted, as a receiver of Aeron-style batched frames must.
 */
import { createSocket } from 'node:dgram';
import type { ChildConfig, ChildContext, RoleHandle } from '../../support/child-runtime.js';
import { ThroughputMeter, type ThroughputWindow } from '../throughput-meter.js';
import { readSequence } from '../payload.js';

export const BATCH_FRAME_HEADER_LENGTH = 32;

export interface DgramReceiverConfig extends ChildConfig, ThroughputWindow {
  readonly port: number;
  readonly mode: 'single' | 'batch';
  /** SO_RCVBUF, as Skein's receive sockets set it. */
  readonly rcvbufLength: number;
}

export async function dgramReceiver(config: DgramReceiverConfig, context: ChildContext): Promise<RoleHandle> {
  const meter = new ThroughputMeter(config, (metrics) => context.result(metrics));
  const socket = createSocket({ type: 'udp4', reuseAddr: false });
  let datagrams = 0;
  if (config.mode === 'single') {
    socket.on('message', (message: Buffer) => {
      datagrams++;
      meter.record(readSequence(message, 0), message.length);
    });
  } else {
    socket.on('message', (message: Buffer) => {
      datagrams++;
      const end = message.length;
      let offset = 0;
      while (offset + BATCH_FRAME_HEADER_LENGTH <= end) {
        const frameLength = message.readInt32LE(offset);
        if (frameLength <= BATCH_FRAME_HEADER_LENGTH) break;
        meter.record(readSequence(message, offset + BATCH_FRAME_HEADER_LENGTH), frameLength - BATCH_FRAME_HEADER_LENGTH);
        offset += frameLength;
      }
    });
  }
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind({ port: config.port, address: '127.0.0.1', exclusive: true }, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  socket.setRecvBufferSize(config.rcvbufLength);
  context.ready({ rcvbufLength: socket.getRecvBufferSize() });
  return {
    stop: () => {
      meter.cancel();
      socket.close();
      return { received: meter.messages, datagrams, lost: meter.lost };
    },
  };
}
