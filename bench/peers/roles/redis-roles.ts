/**
 * Redis publish/subscribe (redis-server, started by the suite, and `ioredis`). A subscribed
 * connection can only receive, so every process that both sends and receives opens two. Redis has
 * no flow control from subscriber to publisher (a subscriber that falls behind has its output
 * buffer grow until the server drops it), so publishers keep within a credit window that the
 * subscribers return on a second channel.
 */
import type { ChildConfig, ChildContext, RoleHandle } from '../../support/child-runtime.js';
import type { ThroughputWindow } from '../../transport/throughput-meter.js';
import { loadPeer, type RedisClient } from '../peer-modules.js';
import { phaseCommand } from '../phases.js';
import { PhaseMeter } from './phase-meter.js';
import { CreditReporter, CreditWindow, SENT, SendLoop, sendingRole } from './send-loop.js';
import { RequestDriver } from './request-driver.js';

export interface RedisConfig extends ChildConfig, ThroughputWindow {
  readonly port: number;
  readonly channel: string;
  /** Credits (one-way, fan-out) or responses (request/response) come back on this channel. */
  readonly returnChannel: string;
  readonly receivers: number;
  readonly receiverIndex: number;
}

function client(config: RedisConfig, context: ChildContext): RedisClient {
  const { Redis } = loadPeer('ioredis');
  const redis = new Redis({ host: '127.0.0.1', port: config.port, maxRetriesPerRequest: 1, connectTimeout: 5000 });
  redis.on('error', (error) => context.fail(error));
  return redis;
}

async function subscribed(config: RedisConfig, context: ChildContext, channel: string, onMessage: (message: Buffer) => void): Promise<RedisClient> {
  const redis = client(config, context);
  redis.on('messageBuffer', (_channel, message) => onMessage(message));
  await redis.subscribe(channel);
  return redis;
}

export async function redisPublisher(config: RedisConfig, context: ChildContext): Promise<RoleHandle> {
  const publisher = client(config, context);
  const credit = new CreditWindow(config.receivers, () => loop.wake());
  const credits = await subscribed(config, context, config.returnChannel, (message) => credit.onCredit(message));
  const onError = (error: unknown): void => context.fail(error);
  const { channel } = config;
  const loop = new SendLoop(
    {
      send: (buffer, length) => {
        publisher.publish(channel, length === buffer.length ? buffer : buffer.subarray(0, length)).catch(onError);
        return SENT;
      },
    },
    { batch: 256, credit },
  );
  context.ready();
  return sendingRole(loop, () => {
    publisher.disconnect();
    credits.disconnect();
  });
}

export async function redisSubscriber(config: RedisConfig, context: ChildContext): Promise<RoleHandle> {
  const creditClient = client(config, context);
  const onError = (error: unknown): void => context.fail(error);
  const reporter = new CreditReporter(config.receiverIndex, (credit) => void creditClient.publish(config.returnChannel, credit).catch(onError));
  const meter = new PhaseMeter(config, (metrics) => context.result(metrics));
  const subscriber = await subscribed(config, context, config.channel, (message) => {
    if (meter.record(message, 0, message.length)) reporter.onMessage(meter.phase, meter.phaseMessages, message.length);
  });
  context.ready();
  return {
    stop: () => {
      meter.cancel();
      subscriber.disconnect();
      creditClient.disconnect();
      return { received: meter.messages };
    },
  };
}

/** Publishes every message of `channel` back on `returnChannel`. */
export async function redisEcho(config: RedisConfig, context: ChildContext): Promise<RoleHandle> {
  const publisher = client(config, context);
  const onError = (error: unknown): void => context.fail(error);
  let echoed = 0;
  const subscriber = await subscribed(config, context, config.channel, (message) => {
    echoed++;
    publisher.publish(config.returnChannel, message).catch(onError);
  });
  context.ready();
  return {
    stop: () => {
      subscriber.disconnect();
      publisher.disconnect();
      return { echoed };
    },
  };
}

export async function redisRequester(config: RedisConfig, context: ChildContext): Promise<RoleHandle> {
  const publisher = client(config, context);
  const onError = (error: unknown): void => context.fail(error);
  const driver = new RequestDriver({ send: (_slot, buffer) => void publisher.publish(config.channel, buffer).catch(onError) }, context, config);
  const subscriber = await subscribed(config, context, config.returnChannel, (message) => driver.onResponse(message, 0));
  context.ready();
  return {
    command: (data) => driver.start(phaseCommand(data)),
    stop: () => {
      driver.stop();
      subscriber.disconnect();
      publisher.disconnect();
      return { completed: driver.completedTotal, stale: driver.stale };
    },
  };
}
