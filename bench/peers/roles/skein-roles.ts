/**
 * Skein in the peers suite: UDP publisher and subscriber in separate processes (one publication per
 * subscriber for fan-out, as Skein has no multicast yet), IPC with publisher and subscribers in one
 * process (IPC is between clients of one driver, and the driver is embedded), and request/response
 * both over two plain streams (ping and pong) and with the request/response layer (ResponseServer
 * and ResponseClient over response channels), N requests in flight. Messages longer than the MTU payload
 * are fragmented by the publication and put together again by a FragmentAssembler.
 */
import {
  Skein,
  ADMIN_ACTION,
  BACK_PRESSURED,
  CLOSED,
  MAX_POSITION_EXCEEDED,
  NOT_CONNECTED,
  FragmentAssembler,
  publicationCodeName,
  type FragmentHandler,
  type Publication,
  type Subscription,
  ResponseClient,
  ResponseServer,
  type ResponseHandler,
} from '../../../src/index.js';
import type { ChildConfig, ChildContext, RoleHandle } from '../../support/child-runtime.js';
import type { Metrics } from '../../support/child-messages.js';
import type { ThroughputWindow } from '../../transport/throughput-meter.js';
import { waitUntil } from '../../transport/payload.js';
import { benchSkeinOptions, systemCounters, udpChannel } from '../../transport/roles/skein-options.js';
import { combineSubscribers, phaseCommand } from '../phases.js';
import { PhaseMeter } from './phase-meter.js';
import { RETRY, SENT, SendLoop, type SendOutcome } from './send-loop.js';
import { RequestDriver } from './request-driver.js';

const FRAGMENT_LIMIT = 256;
const BATCH = 1024;

export interface SkeinSenderConfig extends ChildConfig {
  /** One publication per channel: one per subscriber (unicast), or one for all (multicast, MDC). */
  readonly channels: readonly string[];
  readonly streamId: number;
  readonly connectTimeoutMs: number;
  /** The publication channels' `mtu` parameter; the driver default (1408) when absent. */
  readonly mtu?: number;
}

export interface SkeinReceiverConfig extends ChildConfig, ThroughputWindow {
  readonly channel: string;
  readonly streamId: number;
}

export interface SkeinIpcConfig extends ChildConfig, ThroughputWindow {
  readonly streamId: number;
  readonly subscribers: number;
  readonly connectTimeoutMs: number;
}

export interface SkeinRequestConfig extends ChildConfig, ThroughputWindow {
  readonly pingPort: number;
  readonly pongPort: number;
  readonly streamId: number;
  readonly connectTimeoutMs: number;
}

/** Offers `buffer` to a publication: true when taken; throws on a publication that can no longer take anything. */
function offerOnce(publication: Publication, buffer: Uint8Array, offset: number, length: number): boolean {
  let result = ADMIN_ACTION;
  for (let attempt = 0; attempt < 3 && result === ADMIN_ACTION; attempt++) result = publication.offer(buffer, offset, length);
  if (result >= 0) return true;
  if (result === CLOSED || result === MAX_POSITION_EXCEEDED) throw new Error(`offer failed with ${publicationCodeName(result)}`);
  return false;
}

/**
 * Offers to several publications in turn; a publication that pushes back is retried on the next
 * call with the same message, without offering it again to those that already took it.
 */
class MultiOfferSink {
  backPressured = 0;
  private next = 0;

  constructor(private readonly publications: readonly Publication[]) {}

  send(buffer: Buffer, length: number): SendOutcome {
    while (this.next < this.publications.length) {
      if (!offerOnce(this.publications[this.next]!, buffer, 0, length)) {
        this.backPressured++;
        return RETRY;
      }
      this.next++;
    }
    this.next = 0;
    return SENT;
  }
}

/** Offers in order; what a publication cannot take now is copied and retried on later turns. */
class OrderedOffer {
  queued = 0;
  private readonly queue: Uint8Array[] = [];
  private scheduled = false;
  private readonly flushBound = (): void => this.flush();

  constructor(
    private readonly publication: Publication,
    private readonly context: ChildContext,
  ) {}

  offer(buffer: Uint8Array, offset: number, length: number): void {
    if (this.queue.length === 0 && this.tryOffer(buffer, offset, length)) return;
    this.queued++;
    this.queue.push(buffer.slice(offset, offset + length));
    this.schedule();
  }

  private tryOffer(buffer: Uint8Array, offset: number, length: number): boolean {
    try {
      return offerOnce(this.publication, buffer, offset, length);
    } catch (error) {
      this.context.fail(error);
      return false;
    }
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(this.flushBound);
  }

  private flush(): void {
    this.scheduled = false;
    while (this.queue.length > 0) {
      const head = this.queue[0]!;
      if (!this.tryOffer(head, 0, head.length)) {
        this.schedule();
        return;
      }
      this.queue.shift();
    }
  }
}

export async function skeinUdpSender(config: SkeinSenderConfig, context: ChildContext): Promise<RoleHandle> {
  const errors = { count: 0 };
  const skein = Skein.launch(benchSkeinOptions(errors));
  const publications: Publication[] = [];
  const mtuParam = config.mtu === undefined ? '' : `|mtu=${config.mtu}`;
  for (const channel of config.channels) publications.push(await skein.addPublication(`${channel}${mtuParam}`, config.streamId));
  await waitUntil(() => publications.every((p) => p.isConnected), config.connectTimeoutMs, `subscribers of ${config.channels.join(', ')}`);
  const sink = new MultiOfferSink(publications);
  const loop = new SendLoop(
    {
      send: (buffer, length) => {
        try {
          return sink.send(buffer, length);
        } catch (error) {
          loop.stop();
          context.fail(error);
          return RETRY;
        }
      },
    },
    { batch: BATCH },
  );
  context.ready();
  return {
    command: (data) => loop.start(phaseCommand(data)),
    stop: () => {
      loop.stop();
      const final = { sent: loop.sent, backPressured: sink.backPressured, skeinErrors: errors.count, ...systemCounters(skein, 'pub') };
      skein.destroy();
      return final;
    },
  };
}

export async function skeinUdpReceiver(config: SkeinReceiverConfig, context: ChildContext): Promise<RoleHandle> {
  const errors = { count: 0 };
  const skein = Skein.launch(benchSkeinOptions(errors));
  const subscription = await skein.addSubscription(config.channel, config.streamId);
  const meter = new PhaseMeter(config, (metrics) => context.result(metrics));
  const handler: FragmentHandler = (buffer, offset, length) => void meter.record(buffer, offset, length);
  subscription.onFragment(new FragmentAssembler(handler).onFragment, FRAGMENT_LIMIT);
  context.ready();
  return {
    stop: () => {
      meter.cancel();
      const final = { received: meter.messages, skeinErrors: errors.count, ...systemCounters(skein, 'sub') };
      skein.destroy();
      return final;
    },
  };
}

/**
 * IPC in one process: a publication and `subscribers` subscriptions on one stream. Each turn
 * offers a batch, then polls every subscription until it is drained; with several subscribers
 * the phase result is the slowest one's rate (see combineSubscribers).
 */
export async function skeinIpc(config: SkeinIpcConfig, context: ChildContext): Promise<RoleHandle> {
  const errors = { count: 0 };
  const skein = Skein.launch(benchSkeinOptions(errors));
  const subscriptions: Subscription[] = [];
  for (let i = 0; i < config.subscribers; i++) subscriptions.push(await skein.addSubscription('aeron:ipc', config.streamId));
  const publication = await skein.addPublication('aeron:ipc', config.streamId);
  await waitUntil(() => publication.isConnected && subscriptions.every((s) => s.imageCount > 0), config.connectTimeoutMs, 'the IPC images');
  const pending: Metrics[] = [];
  const onResult = (metrics: Metrics): void => {
    pending.push(metrics);
    if (pending.length < subscriptions.length) return;
    const phase = metrics.phase as number;
    context.result(subscriptions.length === 1 ? pending[0]! : { ...combineSubscribers(pending), phase });
    pending.length = 0;
  };
  const meters = subscriptions.map(() => new PhaseMeter(config, onResult));
  const handlers = meters.map((meter) => new FragmentAssembler((buffer, offset, length) => void meter.record(buffer, offset, length)).onFragment);
  const poll = (): void => {
    for (let s = 0; s < subscriptions.length; s++) {
      for (let i = 0; i < 64 && subscriptions[s]!.poll(handlers[s]!, FRAGMENT_LIMIT) > 0; i++);
    }
  };
  let backPressured = 0;
  const loop = new SendLoop(
    {
      send: (buffer, length) => {
        const result = publication.offer(buffer, 0, length);
        if (result >= 0) return SENT;
        if (result === BACK_PRESSURED || result === NOT_CONNECTED || result === ADMIN_ACTION) {
          backPressured++;
          return RETRY;
        }
        loop.stop();
        context.fail(new Error(`IPC offer failed with ${publicationCodeName(result)}`));
        return RETRY;
      },
    },
    { batch: BATCH, afterTurn: poll },
  );
  context.ready();
  return {
    command: (data) => loop.start(phaseCommand(data)),
    stop: () => {
      loop.stop();
      for (const meter of meters) meter.cancel();
      const final = { sent: loop.sent, backPressured, skeinErrors: errors.count, ...systemCounters(skein, 'ipc') };
      skein.destroy();
      return final;
    },
  };
}

/** Echoes every message of the ping stream onto the pong stream. */
export async function skeinUdpEcho(config: SkeinRequestConfig, context: ChildContext): Promise<RoleHandle> {
  const errors = { count: 0 };
  const skein = Skein.launch(benchSkeinOptions(errors));
  const subscription = await skein.addSubscription(udpChannel(config.pingPort), config.streamId);
  const publication = await skein.addPublication(udpChannel(config.pongPort), config.streamId + 1);
  const echo = new OrderedOffer(publication, context);
  let echoed = 0;
  subscription.onFragment(
    new FragmentAssembler((buffer, offset, length) => {
      echoed++;
      echo.offer(buffer, offset, length);
    }).onFragment,
    FRAGMENT_LIMIT,
  );
  context.ready();
  return {
    stop: () => {
      const final = { echoed, echoQueued: echo.queued, skeinErrors: errors.count, ...systemCounters(skein, 'echo') };
      skein.destroy();
      return final;
    },
  };
}

/** Sends requests on the ping stream, takes responses from the pong stream. */
export async function skeinUdpRequester(config: SkeinRequestConfig, context: ChildContext): Promise<RoleHandle> {
  const errors = { count: 0 };
  const skein = Skein.launch(benchSkeinOptions(errors));
  const subscription = await skein.addSubscription(udpChannel(config.pongPort), config.streamId + 1);
  const publication = await skein.addPublication(udpChannel(config.pingPort), config.streamId);
  await waitUntil(() => publication.isConnected && subscription.imageCount > 0, config.connectTimeoutMs, 'the echo to connect');
  const requests = new OrderedOffer(publication, context);
  const driver = new RequestDriver({ send: (_slot, buffer) => requests.offer(buffer, 0, buffer.length) }, context, config);
  subscription.onFragment(new FragmentAssembler((buffer, offset) => driver.onResponse(buffer, offset)).onFragment, FRAGMENT_LIMIT);
  context.ready();
  return {
    command: (data) => driver.start(phaseCommand(data)),
    stop: () => {
      driver.stop();
      const final = { completed: driver.completedTotal, stale: driver.stale, requestsQueued: requests.queued, skeinErrors: errors.count, ...systemCounters(skein, 'req') };
      skein.destroy();
      return final;
    },
  };
}

/** Request/response over two IPC streams in one process: the echo and the requester share a driver. */
export async function skeinIpcRequester(config: SkeinIpcConfig, context: ChildContext): Promise<RoleHandle> {
  const errors = { count: 0 };
  const skein = Skein.launch(benchSkeinOptions(errors));
  const pingSubscription = await skein.addSubscription('aeron:ipc', config.streamId);
  const pongSubscription = await skein.addSubscription('aeron:ipc', config.streamId + 1);
  const pingPublication = await skein.addPublication('aeron:ipc', config.streamId);
  const pongPublication = await skein.addPublication('aeron:ipc', config.streamId + 1);
  await waitUntil(
    () => pingPublication.isConnected && pongPublication.isConnected && pingSubscription.imageCount > 0 && pongSubscription.imageCount > 0,
    config.connectTimeoutMs,
    'the IPC images',
  );
  const echo = new OrderedOffer(pongPublication, context);
  const requests = new OrderedOffer(pingPublication, context);
  const driver = new RequestDriver({ send: (_slot, buffer) => requests.offer(buffer, 0, buffer.length) }, context, config);
  pingSubscription.onFragment(new FragmentAssembler((buffer, offset, length) => echo.offer(buffer, offset, length)).onFragment, FRAGMENT_LIMIT);
  pongSubscription.onFragment(new FragmentAssembler((buffer, offset) => driver.onResponse(buffer, offset)).onFragment, FRAGMENT_LIMIT);
  context.ready();
  return {
    command: (data) => driver.start(phaseCommand(data)),
    stop: () => {
      driver.stop();
      const final = { completed: driver.completedTotal, stale: driver.stale, skeinErrors: errors.count, ...systemCounters(skein, 'ipc') };
      skein.destroy();
      return final;
    },
  };
}

export interface SkeinRrConfig extends ChildConfig, ThroughputWindow {
  readonly requestPort: number;
  readonly controlPort: number;
  readonly connectTimeoutMs: number;
}

function rrChannels(config: SkeinRrConfig): { requestChannel: string; responseControlChannel: string } {
  return { requestChannel: udpChannel(config.requestPort), responseControlChannel: `aeron:udp?control=127.0.0.1:${config.controlPort}` };
}

/** Skein's request/response layer, server side: a ResponseServer echoing each request (raw handler). */
export async function skeinRrServer(config: SkeinRrConfig, context: ChildContext): Promise<RoleHandle> {
  const errors = { count: 0 };
  const skein = Skein.launch(benchSkeinOptions(errors));
  let answered = 0;
  const server = await ResponseServer.start(skein.client, {
    ...rrChannels(config),
    errorHandler: () => errors.count++,
    onRequest: (session, correlationId, buffer, offset, length) => {
      answered++;
      session.respond(correlationId, buffer, offset, length);
    },
  });
  context.ready();
  return {
    stop: () => {
      server.close();
      const final = { answered, skeinErrors: errors.count, ...systemCounters(skein, 'rrserver') };
      skein.destroy();
      return final;
    },
  };
}

/** Skein's request/response layer, client side: a ResponseClient with the allocation-free requestWith. */
export async function skeinRrRequester(config: SkeinRrConfig, context: ChildContext): Promise<RoleHandle> {
  const errors = { count: 0 };
  const skein = Skein.launch(benchSkeinOptions(errors));
  const client = new ResponseClient(skein.client, { ...rrChannels(config), maxInFlight: 128, requestTimeoutMs: 10_000 });
  await client.connected({ timeoutMs: config.connectTimeoutMs });
  let requestErrors = 0;
  const handler: ResponseHandler = {
    onResponse: (_correlationId, buffer, offset) => driver.onResponse(buffer, offset),
    onError: () => requestErrors++,
  };
  const driver = new RequestDriver({ send: (_slot, buffer) => void client.requestWith(buffer, 0, buffer.length, handler) }, context, config);
  context.ready();
  return {
    command: (data) => driver.start(phaseCommand(data)),
    stop: () => {
      driver.stop();
      const final = { completed: driver.completedTotal, stale: driver.stale, requestErrors, skeinErrors: errors.count, ...systemCounters(skein, 'rrclient') };
      client.close();
      skein.destroy();
      return final;
    },
  };
}
