/**
 * Skein IPC throughput in one process with one Skein: each event-loop turn offers up to
 * `batchMessagesMax` messages (stopping at back pressure) and then polls the subscription until it
 * is drained (at most `pollsPerTurnMax` polls of `fragmentLimit`), then yields with setImmediate
 * so the embedded driver's conductor can move the publisher limit on.
 */
import { Skein, type FragmentHandler } from '../../../src/index.js';
import type { ChildConfig, ChildContext, RoleHandle } from '../../support/child-runtime.js';
import { ThroughputMeter, type ThroughputWindow } from '../throughput-meter.js';
import { readSequence, waitUntil } from '../payload.js';
import { SequenceOfferer } from './sequence-offerer.js';
import { benchSkeinOptions, systemCounters } from './skein-options.js';

export interface SkeinIpcConfig extends ChildConfig, ThroughputWindow {
  readonly streamId: number;
  readonly messageLength: number;
  readonly batchMessagesMax: number;
  readonly fragmentLimit: number;
  readonly pollsPerTurnMax: number;
  readonly connectTimeoutMs: number;
}

export async function skeinIpc(config: SkeinIpcConfig, context: ChildContext): Promise<RoleHandle> {
  const errors = { count: 0 };
  const skein = Skein.launch(benchSkeinOptions(errors));
  const subscription = await skein.addSubscription('aeron:ipc', config.streamId);
  const publication = await skein.addPublication('aeron:ipc', config.streamId);
  await waitUntil(() => publication.isConnected && subscription.imageCount > 0, config.connectTimeoutMs, 'the IPC image');
  const meter = new ThroughputMeter(config, (metrics) => context.result(metrics));
  const handler: FragmentHandler = (buffer, offset, length) => meter.record(readSequence(buffer, offset), length);
  const offerer = new SequenceOfferer(publication, config.messageLength, config.batchMessagesMax);
  const { fragmentLimit, pollsPerTurnMax } = config;
  let running = true;
  const turn = (): void => {
    if (!running) return;
    if (!offerer.offerBatch()) {
      running = false;
      context.fail(new Error(offerer.failure ?? 'offer failed'));
      return;
    }
    for (let i = 0; i < pollsPerTurnMax && subscription.poll(handler, fragmentLimit) > 0; i++);
    setImmediate(turn);
  };
  context.ready();
  setImmediate(turn);
  return {
    stop: () => {
      running = false;
      meter.cancel();
      const final = { sent: offerer.sent, backPressured: offerer.backPressured, received: meter.messages, skeinErrors: errors.count, ...systemCounters(skein, 'ipc') };
      skein.destroy();
      return final;
    },
  };
}
