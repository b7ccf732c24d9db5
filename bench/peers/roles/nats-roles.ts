/**
 * NATS (nats-server, started by the suite, and the `nats` client): core publish/subscribe with a
 * credit window from the subscribers (core NATS has no flow control from subscriber to publisher:
 * a subscriber that falls behind is cut off as a slow consumer), request/reply through the
 * client's shared reply inbox, and JetStream publishes to a file-backed stream, each answered
 * by the server once the message is stored.
 */
import type { ChildConfig, ChildContext, RoleHandle } from '../../support/child-runtime.js';
import type { ThroughputWindow } from '../../transport/throughput-meter.js';
import { loadPeer, type NatsConnection } from '../peer-modules.js';
import { phaseCommand } from '../phases.js';
import { PhaseMeter } from './phase-meter.js';
import { CreditReporter, CreditWindow, SENT, SendLoop, sendingRole } from './send-loop.js';
import { RequestDriver } from './request-driver.js';

const REQUEST_TIMEOUT_MS = 10_000;

export interface NatsConfig extends ChildConfig, ThroughputWindow {
  /** `127.0.0.1:<port>` of the suite's nats-server. */
  readonly server: string;
  readonly subject: string;
  /** Subject the subscribers send credits on (one-way and fan-out). */
  readonly creditSubject: string;
  /** Subscribers a publisher waits for; this subscriber's index. */
  readonly receivers: number;
  readonly receiverIndex: number;
}

async function connect(config: NatsConfig, name: string): Promise<NatsConnection> {
  const nats = loadPeer('nats');
  return nats.connect({ servers: config.server, name, timeout: 5000 });
}

export async function natsPublisher(config: NatsConfig, context: ChildContext): Promise<RoleHandle> {
  const nc = await connect(config, 'bench-publisher');
  const credit = new CreditWindow(config.receivers, () => loop.wake());
  nc.subscribe(config.creditSubject, { callback: (error, msg) => (error === null ? credit.onCredit(msg.data) : context.fail(error)) });
  const { subject } = config;
  const loop = new SendLoop(
    {
      send: (buffer, length) => {
        nc.publish(subject, length === buffer.length ? buffer : buffer.subarray(0, length));
        return SENT;
      },
    },
    { batch: 256, credit },
  );
  await nc.flush();
  context.ready();
  return sendingRole(loop, () => nc.close());
}

export async function natsSubscriber(config: NatsConfig, context: ChildContext): Promise<RoleHandle> {
  const nc = await connect(config, `bench-subscriber-${config.receiverIndex}`);
  const meter = new PhaseMeter(config, (metrics) => context.result(metrics));
  const credits = new CreditReporter(config.receiverIndex, (credit) => nc.publish(config.creditSubject, credit));
  nc.subscribe(config.subject, {
    callback: (error, msg) => {
      if (error !== null) {
        context.fail(error);
        return;
      }
      const data = msg.data;
      if (meter.record(data, 0, data.length)) credits.onMessage(meter.phase, meter.phaseMessages, data.length);
    },
  });
  await nc.flush();
  context.ready();
  return {
    stop: async () => {
      meter.cancel();
      await nc.close();
      return { received: meter.messages };
    },
  };
}

export async function natsReplier(config: NatsConfig, context: ChildContext): Promise<RoleHandle> {
  const nc = await connect(config, 'bench-replier');
  let echoed = 0;
  nc.subscribe(config.subject, {
    callback: (error, msg) => {
      if (error !== null) {
        context.fail(error);
        return;
      }
      echoed++;
      msg.respond(msg.data);
    },
  });
  await nc.flush();
  context.ready();
  return {
    stop: async () => {
      await nc.close();
      return { echoed };
    },
  };
}

export async function natsRequester(config: NatsConfig, context: ChildContext): Promise<RoleHandle> {
  const nc = await connect(config, 'bench-requester');
  let failed = 0;
  const onFailure = (): void => void failed++;
  const driver = new RequestDriver(
    {
      send: (_slot, buffer) => {
        nc.request(config.subject, buffer, { timeout: REQUEST_TIMEOUT_MS }).then((msg) => driver.onResponse(msg.data, 0), onFailure);
      },
    },
    context,
    config,
  );
  await nc.flush();
  context.ready();
  return {
    command: (data) => driver.start(phaseCommand(data)),
    stop: async () => {
      driver.stop();
      await nc.close();
      return { completed: driver.completedTotal, stale: driver.stale, failed };
    },
  };
}

export interface JetStreamConfig extends NatsConfig {
  readonly stream: string;
}

/** Publishes to a file-backed JetStream stream; a request completes when its PubAck arrives. */
export async function natsJetStreamPublisher(config: JetStreamConfig, context: ChildContext): Promise<RoleHandle> {
  const nc = await connect(config, 'bench-jetstream');
  const jsm = await nc.jetstreamManager();
  await jsm.streams.add({ name: config.stream, subjects: [config.subject], storage: 'file', max_bytes: 1024 * 1024 * 1024 });
  const js = nc.jetstream();
  let failed = 0;
  const onFailure = (): void => void failed++;
  const driver = new RequestDriver(
    { send: (_slot, buffer) => void js.publish(config.subject, buffer).then(() => driver.onResponse(buffer, 0), onFailure) },
    context,
    config,
  );
  context.ready();
  return {
    command: (data) => driver.start(phaseCommand(data)),
    stop: async () => {
      driver.stop();
      await jsm.streams.delete(config.stream).catch(() => false);
      await nc.close();
      return { completed: driver.completedTotal, stale: driver.stale, failed };
    },
  };
}
