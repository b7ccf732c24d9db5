/**
 * Baseline for the rr suite on node:dgram: keeps `inFlight` datagrams outstanding against an echo
 * (the transport suite's dgram-pong); each carries its send time. A datagram lost for 100 ms is replaced.
 */
import { createSocket } from 'node:dgram';
import type { ChildConfig, ChildContext, RoleHandle } from '../../support/child-runtime.js';
import { LatencyMeter } from '../../transport/latency-meter.js';
import type { ThroughputWindow } from '../../transport/throughput-meter.js';

const LOST_AFTER_MS = 100;

export interface DgramRrClientConfig extends ChildConfig, ThroughputWindow {
  readonly pongPort: number;
  readonly inFlight: number;
  readonly messageLength: number;
}

export async function dgramRrClient(config: DgramRrClientConfig, context: ChildContext): Promise<RoleHandle> {
  const socket = createSocket({ type: 'udp4', reuseAddr: false });
  await new Promise<void>((resolve) => socket.bind({ port: 0, address: '127.0.0.1' }, resolve));
  const meter = new LatencyMeter(config);
  const payload = Buffer.alloc(config.messageLength);
  let running = true;
  let lastAnswerMs = performance.now();
  let lost = 0;
  const send = (): void => {
    payload.writeDoubleLE(performance.now(), 0);
    socket.send(payload, 0, payload.length, config.pongPort, '127.0.0.1');
  };
  socket.on('message', (message: Buffer) => {
    const nowMs = performance.now();
    lastAnswerMs = nowMs;
    if (!running) return;
    if (meter.record(message.readDoubleLE(0), nowMs)) {
      send();
      return;
    }
    running = false;
    context.result({ ...meter.summary(nowMs), lost });
  });
  const watchdog = setInterval(() => {
    if (running && performance.now() - lastAnswerMs > LOST_AFTER_MS) {
      // Everything outstanding is presumed lost: start the window of requests again.
      lost++;
      lastAnswerMs = performance.now();
      for (let i = 0; i < config.inFlight; i++) send();
    }
  }, LOST_AFTER_MS);
  context.ready();
  for (let i = 0; i < config.inFlight; i++) send();
  return {
    stop: () => {
      running = false;
      clearInterval(watchdog);
      socket.close();
      return { lost };
    },
  };
}
