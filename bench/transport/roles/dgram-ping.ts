/**
 * Baseline ping on node:dgram: one datagram in flight, echoed by the pong; the next ping leaves
 * from the 'message' handler of the previous pong. A ping lost for 100 ms is replaced by a new one.
 */
import { createSocket } from 'node:dgram';
import type { ChildConfig, ChildContext, RoleHandle } from '../../support/child-runtime.js';
import { LatencyMeter } from '../latency-meter.js';
import type { ThroughputWindow } from '../throughput-meter.js';
import { patternPayload, readSequence, writeSequence } from '../payload.js';

const LOST_AFTER_MS = 100;

export interface DgramPingConfig extends ChildConfig, ThroughputWindow {
  readonly pongPort: number;
  readonly messageLength: number;
}

export async function dgramPing(config: DgramPingConfig, context: ChildContext): Promise<RoleHandle> {
  const socket = createSocket({ type: 'udp4', reuseAddr: false });
  await new Promise<void>((resolve) => socket.bind({ port: 0, address: '127.0.0.1' }, resolve));
  const meter = new LatencyMeter(config);
  const payload = Buffer.from(patternPayload(config.messageLength));
  let sequence = 0;
  let sentMs = 0;
  let lost = 0;
  let running = true;
  const send = (): void => {
    writeSequence(payload, 0, sequence);
    sentMs = performance.now();
    socket.send(payload, 0, payload.length, config.pongPort, '127.0.0.1');
  };
  socket.on('message', (message: Buffer) => {
    const nowMs = performance.now();
    if (!running || readSequence(message, 0) !== sequence) return;
    sequence = (sequence + 1) >>> 0;
    if (meter.record(sentMs, nowMs)) {
      send();
      return;
    }
    running = false;
    context.result({ ...meter.summary(nowMs), lost });
  });
  const watchdog = setInterval(() => {
    if (running && performance.now() - sentMs > LOST_AFTER_MS) {
      lost++;
      sequence = (sequence + 1) >>> 0;
      send();
    }
  }, LOST_AFTER_MS);
  context.ready();
  send();
  return {
    stop: () => {
      running = false;
      clearInterval(watchdog);
      socket.close();
      return { roundTrips: sequence, lost };
    },
  };
}
