/**
 * Skein UDP pong: echoes every ping back at once from the fragment handler (the client's agent
 * polls as data arrives). With one ping in flight an echo is never back pressured; if it is, the
 * message is copied and retried on the next turn.
 */
import { Skein, ADMIN_ACTION, type FragmentHandler } from '../../../src/index.js';
import type { ChildConfig, ChildContext, RoleHandle } from '../../support/child-runtime.js';
import { benchSkeinOptions, systemCounters, udpChannel } from './skein-options.js';

export interface SkeinPongConfig extends ChildConfig {
  readonly pingPort: number;
  readonly pongPort: number;
  readonly pingStreamId: number;
  readonly pongStreamId: number;
}

export async function skeinPong(config: SkeinPongConfig, context: ChildContext): Promise<RoleHandle> {
  const errors = { count: 0 };
  const skein = Skein.launch(benchSkeinOptions(errors));
  const subscription = await skein.addSubscription(udpChannel(config.pongPort), config.pingStreamId);
  const publication = await skein.addPublication(udpChannel(config.pingPort), config.pongStreamId);
  let echoed = 0;
  let retries = 0;
  let pending: Uint8Array | null = null;
  const offer = (buffer: Uint8Array, offset: number, length: number): boolean => {
    let result = ADMIN_ACTION;
    for (let attempt = 0; attempt < 3 && result === ADMIN_ACTION; attempt++) result = publication.offer(buffer, offset, length);
    if (result >= 0) echoed++;
    return result >= 0;
  };
  const flush = (): void => {
    if (pending === null) return;
    if (offer(pending, 0, pending.length)) pending = null;
    else {
      retries++;
      setImmediate(flush);
    }
  };
  const handler: FragmentHandler = (buffer, offset, length) => {
    if (pending === null && offer(buffer, offset, length)) return;
    // Only the newest ping matters: the pinger sends the next one after this echo.
    const first = pending === null;
    pending = buffer.slice(offset, offset + length);
    if (first) setImmediate(flush);
  };
  subscription.onFragment(handler, 16);
  context.ready();
  return {
    stop: () => {
      const final = { echoed, retries, skeinErrors: errors.count, ...systemCounters(skein, 'pong') };
      skein.destroy();
      return final;
    },
  };
}
