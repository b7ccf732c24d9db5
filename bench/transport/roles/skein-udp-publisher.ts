/**
 * Publishes on a Skein UDP stream as fast as flow control allows: each event-loop turn offers up
 * to `batchMessagesMax` messages, stopping early at back pressure, then yields with setImmediate
 * so the embedded driver (on the same event loop) can send.
 */
import { Skein, ADMIN_ACTION, BACK_PRESSURED, NOT_CONNECTED, publicationCodeName } from '../../../src/index.js';
import type { ChildConfig, ChildContext, RoleHandle } from '../../support/child-runtime.js';
import { patternPayload, waitUntil, writeSequence } from '../payload.js';
import { benchSkeinOptions, cpuPercent, systemCounters, udpChannel } from './skein-options.js';

export interface SkeinUdpPublisherConfig extends ChildConfig {
  readonly port: number;
  readonly streamId: number;
  readonly messageLength: number;
  readonly batchMessagesMax: number;
  readonly connectTimeoutMs: number;
  /** The channel's `mtu` parameter; the driver default (1408) when absent. */
  readonly mtu?: number;
}

export async function skeinUdpPublisher(config: SkeinUdpPublisherConfig, context: ChildContext): Promise<RoleHandle> {
  const errors = { count: 0 };
  const skein = Skein.launch(benchSkeinOptions(errors));
  const channel = config.mtu === undefined ? udpChannel(config.port) : `${udpChannel(config.port)}|mtu=${config.mtu}`;
  const publication = await skein.addPublication(channel, config.streamId);
  await waitUntil(() => publication.isConnected, config.connectTimeoutMs, `a subscriber on ${channel}`);
  const payload = patternPayload(config.messageLength);
  const length = config.messageLength;
  const batchMax = config.batchMessagesMax;
  let sent = 0;
  let backPressured = 0;
  let notConnected = 0;
  let running = true;
  const startMs = performance.now();
  const startCpu = process.cpuUsage();
  const turn = (): void => {
    if (!running) return;
    let offered = 0;
    while (offered < batchMax) {
      writeSequence(payload, 0, sent);
      const result = publication.offer(payload, 0, length);
      if (result >= 0) {
        sent++;
        offered++;
      } else if (result === BACK_PRESSURED) {
        backPressured++;
        break;
      } else if (result === NOT_CONNECTED) {
        notConnected++;
        break;
      } else if (result !== ADMIN_ACTION) {
        running = false;
        context.fail(new Error(`offer failed with ${publicationCodeName(result)} after ${sent} messages`));
        return;
      }
    }
    setImmediate(turn);
  };
  context.ready({ sessionId: publication.sessionId });
  setImmediate(turn);
  return {
    stop: () => {
      running = false;
      const elapsedMs = performance.now() - startMs;
      const metrics = {
        sent,
        backPressured,
        notConnected,
        senderMsgsPerSec: (sent * 1000) / elapsedMs,
        senderCpuPct: cpuPercent(startCpu, elapsedMs),
        skeinErrors: errors.count,
        ...systemCounters(skein, 'pub'),
      };
      skein.destroy();
      return metrics;
    },
  };
}
