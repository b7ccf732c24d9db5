/**
 * Skein request clients for the rr suite, with the zero-allocation callback form; each request
 * carries its send time, which the echo brings back. `skeinRrClient` keeps `inFlight` requests
 * outstanding back to back; `skeinRrSpacedClient` sends one at a time at a spacing
 * (see spaced-requests.ts).
 */
import { Skein } from '../../../src/skein.js';
import { ResponseClient, type ResponseHandler } from '../../../src/response/response-client.js';
import type { SkeinError } from '../../../src/util/errors.js';
import type { ChildConfig, ChildContext, RoleHandle } from '../../support/child-runtime.js';
import { benchSkeinOptions } from '../../transport/roles/skein-options.js';
import { LatencyMeter } from '../../transport/latency-meter.js';
import type { ThroughputWindow } from '../../transport/throughput-meter.js';
import { MARKER_OFFSET, SENT_MS_OFFSET, SPACED_REQUEST_LENGTH_MIN, SPIN_IDLE, SpacedRequests, type SpacingConfig } from './spaced-requests.js';

interface SkeinRrConnection {
  readonly requestPort: number;
  readonly controlPort: number;
  readonly connectTimeoutMs: number;
  /** Skein idles by spinning (see SPIN_IDLE). */
  readonly spin?: boolean;
}

export interface SkeinRrClientConfig extends ChildConfig, ThroughputWindow, SkeinRrConnection {
  readonly inFlight: number;
  readonly messageLength: number;
}

async function connect(config: SkeinRrConnection, errors: { count: number }): Promise<{ skein: Skein; client: ResponseClient }> {
  const skein = Skein.launch(benchSkeinOptions(errors, config.spin === true ? SPIN_IDLE : undefined));
  const client = new ResponseClient(skein.client, {
    requestChannel: `aeron:udp?endpoint=127.0.0.1:${config.requestPort}`,
    responseControlChannel: `aeron:udp?control=127.0.0.1:${config.controlPort}`,
    maxInFlight: 128,
    requestTimeoutMs: 10_000,
  });
  await client.connected({ timeoutMs: config.connectTimeoutMs });
  return { skein, client };
}

export async function skeinRrClient(config: SkeinRrClientConfig, context: ChildContext): Promise<RoleHandle> {
  const errors = { count: 0 };
  const { skein, client } = await connect(config, errors);
  const meter = new LatencyMeter(config);
  const payload = new Uint8Array(config.messageLength);
  const view = new DataView(payload.buffer);
  let running = true;
  let requestErrors = 0;
  let retries = 0;
  let outstanding = 0;
  const send = (): void => {
    view.setFloat64(0, performance.now(), true);
    if (client.requestWith(payload, 0, payload.length, handler) !== null) outstanding++;
  };
  const handler: ResponseHandler = {
    onResponse: (_id, buffer, offset) => {
      outstanding--;
      const nowMs = performance.now();
      const sentMs = new DataView(buffer.buffer, buffer.byteOffset + offset, 8).getFloat64(0, true);
      if (!running) return;
      if (meter.record(sentMs, nowMs)) {
        send();
        return;
      }
      running = false;
      context.result({ ...meter.summary(nowMs), requestErrors, retries });
    },
    onError: (_id, _error: SkeinError) => {
      requestErrors++;
    },
  };
  // Requests refused by back pressure are topped up here, off the hot path.
  const topUp = setInterval(() => {
    while (running && outstanding < config.inFlight) {
      const before = outstanding;
      send();
      if (outstanding === before) break;
      retries++;
    }
  }, 5);
  context.ready();
  for (let i = 0; i < config.inFlight; i++) send();
  return {
    stop: async () => {
      running = false;
      clearInterval(topUp);
      client.close();
      await skein.close({ timeoutMs: 1000 });
      return { requestErrors, skeinErrors: errors.count };
    },
  };
}

export interface SkeinRrSpacedClientConfig extends ChildConfig, SkeinRrConnection, SpacingConfig {
  readonly messageLength: number;
}

/** One request in flight at a spacing; a request that fails or is refused is sent again 1 ms later. */
export async function skeinRrSpacedClient(config: SkeinRrSpacedClientConfig, context: ChildContext): Promise<RoleHandle> {
  if (config.messageLength < SPACED_REQUEST_LENGTH_MIN) throw new Error(`messageLength must be at least ${SPACED_REQUEST_LENGTH_MIN}`);
  const errors = { count: 0 };
  const { skein, client } = await connect(config, errors);
  const payload = new Uint8Array(config.messageLength);
  const view = new DataView(payload.buffer);
  let requestErrors = 0;
  let retry: NodeJS.Timeout | null = null;
  const retryLater = (): void => {
    retry ??= setTimeout(() => {
      retry = null;
      requests.resend();
    }, 1);
  };
  const handler: ResponseHandler = {
    onResponse: (_id, buffer, offset) => {
      const nowMs = performance.now();
      requests.onAnswer(new DataView(buffer.buffer, buffer.byteOffset + offset, 8).getFloat64(SENT_MS_OFFSET, true), nowMs);
    },
    onError: (_id, _error: SkeinError) => {
      requestErrors++;
      if (!requests.isDone) retryLater();
    },
  };
  const requests = new SpacedRequests(
    config,
    (marker) => {
      payload[MARKER_OFFSET] = marker;
      view.setFloat64(SENT_MS_OFFSET, performance.now(), true);
      client.requestWith(payload, 0, payload.length, handler);
    },
    (metrics) => context.result({ ...metrics, requestErrors }),
  );
  context.ready();
  requests.start();
  return {
    stop: async () => {
      requests.stop();
      if (retry !== null) clearTimeout(retry);
      client.close();
      await skein.close({ timeoutMs: 1000 });
      return { requestErrors, skeinErrors: errors.count };
    },
  };
}
