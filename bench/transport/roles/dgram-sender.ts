/**
 * Baseline sender on node:dgram, as fast as it can: each event-loop turn sends `datagramsPerTurn`
 * datagrams (no callback, the cheapest form of socket.send), then yields with setImmediate.
 * `single` sends one `messageLength` message per datagram; `batch` packs `framesPerDatagram`
 * frames (32-byte header + payload) into each datagram. Datagrams rotate through a pool of
 * buffers, so one still queued in the socket is never rewritten. There is no flow control: what
 * the receiver cannot take is dropped, so the receiver's rate is the ceiling.
 */
import { createSocket } from 'node:dgram';
import type { ChildConfig, ChildContext, RoleHandle } from '../../support/child-runtime.js';
import { writeSequence } from '../payload.js';
import { BATCH_FRAME_HEADER_LENGTH } from './dgram-receiver.js';
import { cpuPercent } from './skein-options.js';

const POOL_DATAGRAMS = 4096;

export interface DgramSenderConfig extends ChildConfig {
  readonly port: number;
  readonly mode: 'single' | 'batch';
  /** Payload bytes of each message (each frame in batch mode). */
  readonly messageLength: number;
  readonly framesPerDatagram: number;
  readonly datagramsPerTurn: number;
  /** Send on a connected socket (no address per send) instead of to an address per send. */
  readonly connected: boolean;
}

export async function dgramSender(config: DgramSenderConfig, context: ChildContext): Promise<RoleHandle> {
  const socket = createSocket({ type: 'udp4', reuseAddr: false });
  await new Promise<void>((resolve) => socket.bind({ port: 0, address: '127.0.0.1' }, resolve));
  if (config.connected) await new Promise<void>((resolve) => socket.connect(config.port, '127.0.0.1', resolve));
  const frames = config.mode === 'single' ? 1 : config.framesPerDatagram;
  const frameLength = config.mode === 'single' ? config.messageLength : BATCH_FRAME_HEADER_LENGTH + config.messageLength;
  const datagramLength = frames * frameLength;
  const pool = Buffer.alloc(POOL_DATAGRAMS * datagramLength);
  const { port, datagramsPerTurn, connected } = config;
  let sequence = 0;
  let datagrams = 0;
  let running = true;
  const fill = (base: number): void => {
    if (frames === 1) {
      writeSequence(pool, base, sequence++);
      return;
    }
    for (let f = 0, offset = base; f < frames; f++, offset += frameLength) {
      pool.writeInt32LE(frameLength, offset);
      pool.writeInt32LE(sequence, offset + 8);
      writeSequence(pool, offset + BATCH_FRAME_HEADER_LENGTH, sequence++);
    }
  };
  const turn = (): void => {
    if (!running) return;
    for (let i = 0; i < datagramsPerTurn; i++) {
      const base = (datagrams % POOL_DATAGRAMS) * datagramLength;
      fill(base);
      if (connected) socket.send(pool, base, datagramLength);
      else socket.send(pool, base, datagramLength, port, '127.0.0.1');
      datagrams++;
    }
    setImmediate(turn);
  };
  const startMs = performance.now();
  const startCpu = process.cpuUsage();
  context.ready({ datagramLength });
  setImmediate(turn);
  return {
    stop: () => {
      running = false;
      const elapsedMs = performance.now() - startMs;
      socket.close();
      return {
        datagrams,
        sentMessages: sequence,
        senderMsgsPerSec: (sequence * 1000) / elapsedMs,
        senderCpuPct: cpuPercent(startCpu, elapsedMs),
      };
    },
  };
}
