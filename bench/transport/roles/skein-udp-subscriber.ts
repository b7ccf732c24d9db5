/** Receives a Skein UDP stream and measures its rate (messages counted by the client's agent). */
import { Skein, type FragmentHandler } from '../../../src/index.js';
import type { ChildConfig, ChildContext, RoleHandle } from '../../support/child-runtime.js';
import { ThroughputMeter, type ThroughputWindow } from '../throughput-meter.js';
import { readSequence } from '../payload.js';
import { benchSkeinOptions, systemCounters, udpChannel } from './skein-options.js';

export interface SkeinUdpSubscriberConfig extends ChildConfig, ThroughputWindow {
  readonly port: number;
  readonly streamId: number;
  /** Fragments the client's agent reads per duty cycle. */
  readonly fragmentLimit: number;
}

export async function skeinUdpSubscriber(config: SkeinUdpSubscriberConfig, context: ChildContext): Promise<RoleHandle> {
  const errors = { count: 0 };
  const skein = Skein.launch(benchSkeinOptions(errors));
  const subscription = await skein.addSubscription(udpChannel(config.port), config.streamId);
  const meter = new ThroughputMeter(config, (metrics) => context.result(metrics));
  const handler: FragmentHandler = (buffer, offset, length) => meter.record(readSequence(buffer, offset), length);
  subscription.onFragment(handler, config.fragmentLimit);
  context.ready();
  return {
    stop: () => {
      meter.cancel();
      const final = { received: meter.messages, images: subscription.imageCount, skeinErrors: errors.count, ...systemCounters(skein, 'sub') };
      skein.destroy();
      return final;
    },
  };
}
