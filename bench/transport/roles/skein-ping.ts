/**
 * Skein UDP ping: one message in flight. Sends a ping (its sequence number first), waits for the
 * pong to come back through its subscription (polled by the client's agent as data arrives),
 * records the round trip and sends the next at once.
 */
import { Skein, ADMIN_ACTION, CLOSED, MAX_POSITION_EXCEEDED, publicationCodeName, type FragmentHandler } from '../../../src/index.js';
import type { ChildConfig, ChildContext, RoleHandle } from '../../support/child-runtime.js';
import { LatencyMeter } from '../latency-meter.js';
import type { ThroughputWindow } from '../throughput-meter.js';
import { patternPayload, readSequence, waitUntil, writeSequence } from '../payload.js';
import { benchSkeinOptions, systemCounters, udpChannel } from './skein-options.js';

export interface SkeinPingConfig extends ChildConfig, ThroughputWindow {
  readonly pingPort: number;
  readonly pongPort: number;
  readonly pingStreamId: number;
  readonly pongStreamId: number;
  readonly messageLength: number;
  readonly connectTimeoutMs: number;
}

export async function skeinPing(config: SkeinPingConfig, context: ChildContext): Promise<RoleHandle> {
  const errors = { count: 0 };
  const skein = Skein.launch(benchSkeinOptions(errors));
  const subscription = await skein.addSubscription(udpChannel(config.pingPort), config.pongStreamId);
  const publication = await skein.addPublication(udpChannel(config.pongPort), config.pingStreamId);
  await waitUntil(() => publication.isConnected && subscription.imageCount > 0, config.connectTimeoutMs, 'the pong to connect');
  const meter = new LatencyMeter(config);
  const payload = patternPayload(config.messageLength);
  let sequence = 0;
  let sentMs = 0;
  let retries = 0;
  let running = true;
  const send = (): void => {
    if (!running) return;
    writeSequence(payload, 0, sequence);
    let result = ADMIN_ACTION;
    for (let attempt = 0; attempt < 3 && result === ADMIN_ACTION; attempt++) {
      sentMs = performance.now();
      result = publication.offer(payload, 0, payload.length);
    }
    if (result >= 0) return;
    if (result === CLOSED || result === MAX_POSITION_EXCEEDED) {
      running = false;
      context.fail(new Error(`ping offer failed with ${publicationCodeName(result)}`));
      return;
    }
    retries++;
    setImmediate(send);
  };
  const handler: FragmentHandler = (buffer, offset) => {
    const nowMs = performance.now();
    if (!running || readSequence(buffer, offset) !== sequence) return;
    sequence = (sequence + 1) >>> 0;
    if (meter.record(sentMs, nowMs)) {
      send();
      return;
    }
    running = false;
    context.result({ ...meter.summary(nowMs), retries });
  };
  subscription.onFragment(handler, 16);
  context.ready();
  send();
  return {
    stop: () => {
      running = false;
      const final = { roundTrips: sequence, retries, skeinErrors: errors.count, ...systemCounters(skein, 'ping') };
      skein.destroy();
      return final;
    },
  };
}
