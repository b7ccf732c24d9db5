/**
 * Baselines for the rr suite on node:dgram, against an echo. `dgramRrClient` keeps `inFlight`
 * datagrams outstanding (against the transport suite's dgram-pong); each carries its send time. A
 * datagram lost for 100 ms is replaced. `dgramRrSpacedClient` sends one at a time at a spacing
 * (see spaced-requests.ts), against dgram-rr-server.
 */
import { createSocket, type Socket } from 'node:dgram';
import type { ChildConfig, ChildContext, RoleHandle } from '../../support/child-runtime.js';
import { LatencyMeter } from '../../transport/latency-meter.js';
import type { ThroughputWindow } from '../../transport/throughput-meter.js';
import { MARKER_OFFSET, SENT_MS_OFFSET, SPACED_REQUEST_LENGTH_MIN, SpacedRequests, spinEventLoop, type SpacingConfig } from './spaced-requests.js';

const LOST_AFTER_MS = 100;

export interface DgramRrClientConfig extends ChildConfig, ThroughputWindow {
  readonly pongPort: number;
  readonly inFlight: number;
  readonly messageLength: number;
}

async function boundSocket(): Promise<Socket> {
  const socket = createSocket({ type: 'udp4', reuseAddr: false });
  await new Promise<void>((resolve) => socket.bind({ port: 0, address: '127.0.0.1' }, resolve));
  return socket;
}

export async function dgramRrClient(config: DgramRrClientConfig, context: ChildContext): Promise<RoleHandle> {
  const socket = await boundSocket();
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

export interface DgramRrSpacedClientConfig extends ChildConfig, SpacingConfig {
  readonly pongPort: number;
  readonly messageLength: number;
}

/** One datagram in flight at a spacing; one unanswered for `spacingMs` + 100 ms is sent again. */
export async function dgramRrSpacedClient(config: DgramRrSpacedClientConfig, context: ChildContext): Promise<RoleHandle> {
  if (config.messageLength < SPACED_REQUEST_LENGTH_MIN) throw new Error(`messageLength must be at least ${SPACED_REQUEST_LENGTH_MIN}`);
  const socket = await boundSocket();
  const payload = Buffer.alloc(config.messageLength);
  let lost = 0;
  let lastSentMs = 0;
  let answered = true;
  const requests = new SpacedRequests(
    config,
    (marker) => {
      payload[MARKER_OFFSET] = marker;
      lastSentMs = performance.now();
      answered = false;
      payload.writeDoubleLE(lastSentMs, SENT_MS_OFFSET);
      socket.send(payload, 0, payload.length, config.pongPort, '127.0.0.1');
    },
    (metrics) => context.result({ ...metrics, lost }),
  );
  socket.on('message', (message: Buffer) => {
    const nowMs = performance.now();
    answered = true;
    requests.onAnswer(message.readDoubleLE(SENT_MS_OFFSET), nowMs);
  });
  const watchdog = setInterval(() => {
    if (!requests.isDone && !answered && performance.now() - lastSentMs > config.spacingMs + LOST_AFTER_MS) {
      lost++;
      requests.resend();
    }
  }, LOST_AFTER_MS);
  const stopSpin = config.spin === true ? spinEventLoop() : null;
  context.ready();
  requests.start();
  return {
    stop: () => {
      stopSpin?.();
      requests.stop();
      clearInterval(watchdog);
      socket.close();
      return { lost };
    },
  };
}
