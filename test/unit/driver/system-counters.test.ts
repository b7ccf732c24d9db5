/**
 * Focused tests of the system counters that only faults or rare conditions move (the workload in
 * test/system/counters/counters-workload.test.ts covers the rest): each drives its condition in a
 * driver stepped by the simulator and checks that exactly the counters it names moved.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SimWorld } from '../../../src/sim/sim-world.js';
import { MediaDriver } from '../../../src/driver/media-driver.js';
import { TEST_PROFILE } from '../../../src/driver/driver-context.js';
import { SkeinClient } from '../../../src/client/skein-client.js';
import { CompositeAgent, type Agent } from '../../../src/agent/agent.js';
import { SystemCounterId } from '../../../src/agent/counter-types.js';
import { BufferClaim } from '../../../src/logbuffer/buffer-claim.js';
import { ErrorFlyweight } from '../../../src/protocol/error-flyweight.js';
import type { DriverConnection } from '../../../src/command/driver-connection.js';
import type { DriverResponse } from '../../../src/command/driver-messages.js';
import type { DatagramHandler, DatagramSocket, DatagramSocketOptions, DatagramTransport, SocketStatus } from '../../../src/env/datagram.js';
import { ErrorCode, SkeinError } from '../../../src/util/errors.js';
import { SimDriverPair, systemCounter } from '../../fuzz/harness/sim-driver-pair.js';
import { dataDatagram } from '../../fuzz/harness/frames.js';
import { runFor, settle } from '../../support/sim-node.js';

const MS = 1_000_000;

test('conductor, sender and receiver duty cycles are counted and timed in their own counters, and held to cycleTimeThresholdNs', () => {
  const tickNs = 2_000;
  // Every reading is one tick after the one before, so each timed cycle takes exactly one tick.
  const clock = {
    nowNs: 0,
    nanoTime(): number {
      return (this.nowNs += tickNs);
    },
  };
  const world = new SimWorld({ seed: 1 });
  const cases = [
    { options: { cycleTimeThresholdNs: 1_000 }, exceeds: true },
    { options: {}, exceeds: false },
  ];
  for (const { options, exceeds } of cases) {
    const driver = new MediaDriver({ ...TEST_PROFILE, ...options }, { clock, epochClock: world.clock, prng: world.prng.fork(), transport: world.network });
    const runs: Array<[Agent, number, SystemCounterId, SystemCounterId, SystemCounterId]> = [
      [driver.conductor, 3, SystemCounterId.CONDUCTOR_DUTY_CYCLES, SystemCounterId.CONDUCTOR_MAX_CYCLE_TIME, SystemCounterId.CONDUCTOR_CYCLE_TIME_THRESHOLD_EXCEEDED],
      [driver.sender, 5, SystemCounterId.SENDER_DUTY_CYCLES, SystemCounterId.SENDER_MAX_CYCLE_TIME, SystemCounterId.SENDER_CYCLE_TIME_THRESHOLD_EXCEEDED],
      [driver.receiver, 7, SystemCounterId.RECEIVER_DUTY_CYCLES, SystemCounterId.RECEIVER_MAX_CYCLE_TIME, SystemCounterId.RECEIVER_CYCLE_TIME_THRESHOLD_EXCEEDED],
    ];
    for (const [agent, cycles] of runs) {
      const composite = new CompositeAgent([agent]);
      for (let i = 0; i < cycles; i++) composite.doWork(clock.nanoTime());
    }
    for (const [agent, cycles, cyclesId, maxId, exceededId] of runs) {
      const what = `${agent.roleName} with ${JSON.stringify(options)}`;
      assert.equal(systemCounter(driver, cyclesId), cycles, `${what}: duty cycles`);
      assert.equal(systemCounter(driver, maxId), tickNs, `${what}: max cycle time`);
      assert.equal(systemCounter(driver, exceededId), exceeds ? cycles : 0, `${what}: cycles over the threshold`);
    }
    driver.close();
  }
});

/** Wraps a transport; its sockets can be told to refuse sends, or to take them and report a failure later. */
class FailingTransport implements DatagramTransport {
  mode: 'ok' | 'refuse' | 'fail-later' = 'ok';
  refused = 0;
  readonly failuresToReport: Array<() => void> = [];

  constructor(private readonly inner: DatagramTransport) {}

  open(options: DatagramSocketOptions): DatagramSocket {
    return new FailingSocket(this, this.inner.open(options), options.onSendError);
  }

  /** Reports the failures of sends taken in 'fail-later' mode, as an OS would after the fact. */
  reportLaterFailures(): number {
    const reports = this.failuresToReport.splice(0);
    for (const report of reports) report();
    return reports.length;
  }
}

class FailingSocket implements DatagramSocket {
  constructor(
    private readonly transport: FailingTransport,
    private readonly inner: DatagramSocket,
    private readonly onSendError: ((error: Error) => void) | undefined,
  ) {}
  get status(): SocketStatus {
    return this.inner.status;
  }
  get error(): Error | null {
    return this.inner.error;
  }
  get localAddress(): string {
    return this.inner.localAddress;
  }
  get localPort(): number {
    return this.inner.localPort;
  }
  get onDatagram(): DatagramHandler | null {
    return this.inner.onDatagram;
  }
  set onDatagram(handler: DatagramHandler | null) {
    this.inner.onDatagram = handler;
  }
  send(data: Uint8Array, offset: number, length: number, address: string, port: number): boolean {
    const failure = (reason: string): SkeinError =>
      new SkeinError(ErrorCode.TRANSPORT_SEND_FAILED, `send on test socket :${this.localPort} to ${address}:${port} failed: ${reason}`);
    if (this.transport.mode === 'refuse') {
      this.transport.refused++;
      this.onSendError?.(failure('ENOBUFS'));
      return false;
    }
    const sent = this.inner.send(data, offset, length, address, port);
    if (sent && this.transport.mode === 'fail-later') this.transport.failuresToReport.push(() => this.onSendError?.(failure('EHOSTUNREACH')));
    return sent;
  }
  close(): void {
    this.inner.close();
  }
}

test('send errors are counted (Socket send errors), logged and handed to the error handler; a refused send is also a short send', async () => {
  const world = new SimWorld({ seed: 2, tickNs: 50_000 });
  const transport = new FailingTransport(world.network);
  const handled: unknown[] = [];
  const driver = new MediaDriver(
    { ...TEST_PROFILE },
    { clock: world.clock, epochClock: world.clock, prng: world.prng.fork(), transport, errorHandler: (e) => void handled.push(e) },
  );
  const client = new SkeinClient({ connection: driver.connect(), clock: world.clock });
  for (const agent of driver.agents) world.addAgent(agent);
  world.addAgent(client);
  try {
    const channel = 'aeron:udp?endpoint=127.0.0.1:20300';
    const subscription = await settle(world, client.addSubscription(channel, 7));
    const publication = await settle(world, client.addPublication(channel, 7));
    assert.ok(world.runUntil(() => publication.isConnected && subscription.imageCount === 1, 20_000), 'connected');
    const counters = (): number[] => [SystemCounterId.SEND_ERRORS, SystemCounterId.SHORT_SENDS, SystemCounterId.ERRORS].map((id) => systemCounter(driver, id));
    assert.deepEqual(counters(), [0, 0, 0], 'a healthy stream moves none of them');

    transport.mode = 'refuse';
    for (let i = 0; i < 5; i++) publication.offer(new Uint8Array(100));
    runFor(world, 300 * MS);
    const refused = transport.refused;
    assert.ok(refused > 0, 'the driver tried to send (data, status messages, heartbeats)');
    assert.deepEqual(counters(), [refused, refused, refused], 'each refused send: one send error, one short send, one error');
    assert.ok(handled.length === refused && handled.every((e) => e instanceof SkeinError && e.code === ErrorCode.TRANSPORT_SEND_FAILED));
    assert.ok(driver.errorLog.entries().some((e) => e.code === ErrorCode.TRANSPORT_SEND_FAILED && /ENOBUFS/.test(e.message)), 'in the distinct error log');

    transport.mode = 'fail-later';
    runFor(world, 300 * MS);
    const later = transport.reportLaterFailures();
    assert.ok(later > 0);
    assert.deepEqual(counters(), [refused + later, refused, refused + later], 'a failure reported after the send was taken is a send error, not a short send');
  } finally {
    client.close();
    driver.close();
    world.close();
  }
});

/** Takes the responses waiting for a raw connection. */
function responses(connection: DriverConnection): DriverResponse[] {
  const out: DriverResponse[] = [];
  connection.toClient.drain((r) => out.push(r), 1000);
  return out;
}

test('a client that keeps alive and falls silent is closed by the driver and counted; one that never kept alive is not held to it', () => {
  const world = new SimWorld({ seed: 3, tickNs: MS });
  const driver = new MediaDriver(
    { ...TEST_PROFILE, clientLivenessTimeoutNs: 200 * MS },
    { clock: world.clock, epochClock: world.clock, prng: world.prng.fork(), transport: world.network, errorHandler: () => {} },
  );
  for (const agent of driver.agents) world.addAgent(agent);
  try {
    const silent = driver.connect();
    const lively = driver.connect();
    const embedded = driver.connect();
    const keepalive = (c: DriverConnection): boolean => c.toDriver.offer({ type: 'CLIENT_KEEPALIVE', clientId: c.clientId });
    silent.toDriver.offer({ type: 'ADD_PUBLICATION', clientId: silent.clientId, correlationId: driver.nextCorrelationId(), channel: 'aeron:ipc', streamId: 9, exclusive: false });
    keepalive(silent);
    for (let t = 0; t < 1000; t += 50) {
      keepalive(lively);
      runFor(world, 50 * MS);
    }
    assert.equal(systemCounter(driver, SystemCounterId.CLIENT_TIMEOUTS), 1);
    assert.deepEqual(responses(silent).map((r) => r.type), ['PUBLICATION_READY', 'CLIENT_TIMEOUT']);
    assert.deepEqual(responses(lively), []);
    assert.equal(driver.conductor.clientCount, 2, 'the client that kept alive and the one that never did are still there');
    const counts = driver.conductor.resourceCounts();
    assert.equal(counts.publicationLinks, 0, "the silent client's publication was released");
    assert.equal(counts.ipcPublications, 0);
    assert.ok(driver.errorLog.entries().some((e) => /client 1 sent no keepalive within clientLivenessTimeoutNs \(200 ms\)/.test(e.message)));
    assert.equal(systemCounter(driver, SystemCounterId.ERRORS), 1);

    // The driver's own thread stalls for longer than the timeout: the keepalives that could not
    // reach it are not held against the client; it gets a fresh timeout.
    keepalive(lively);
    runFor(world, 10 * MS);
    world.clock.advance(1_000 * MS);
    runFor(world, 100 * MS);
    assert.equal(systemCounter(driver, SystemCounterId.CLIENT_TIMEOUTS), 1, 'no client blamed for the driver stalling');
    runFor(world, 300 * MS);
    assert.equal(systemCounter(driver, SystemCounterId.CLIENT_TIMEOUTS), 2, 'silent after the stall for longer than the timeout: closed');
    assert.deepEqual(responses(lively).map((r) => r.type), ['CLIENT_TIMEOUT']);
    assert.equal(driver.conductor.clientCount, 1);
    assert.deepEqual(responses(embedded), []);
  } finally {
    driver.close();
    world.close();
  }
});

test('a client liveness timeout as short as the timer interval is still enforced', () => {
  const world = new SimWorld({ seed: 4, tickNs: MS });
  const driver = new MediaDriver(
    { ...TEST_PROFILE, timerIntervalNs: 50 * MS, clientLivenessTimeoutNs: 50 * MS },
    { clock: world.clock, epochClock: world.clock, prng: world.prng.fork(), transport: world.network, errorHandler: () => {} },
  );
  for (const agent of driver.agents) world.addAgent(agent);
  try {
    const client = driver.connect();
    client.toDriver.offer({ type: 'CLIENT_KEEPALIVE', clientId: client.clientId });
    runFor(world, 300 * MS);
    assert.equal(systemCounter(driver, SystemCounterId.CLIENT_TIMEOUTS), 1, 'checks a timer interval apart are not a stalled driver');
    assert.equal(driver.conductor.clientCount, 0);
  } finally {
    driver.close();
    world.close();
  }
});

test('an ERR frame from a receiver is counted (Error frames received) and logged', async () => {
  const pair = await SimDriverPair.open({ seed: 5 });
  try {
    const bytes = new Uint8Array(128);
    const length = new ErrorFlyweight().wrap(bytes, 0, bytes.length).write({
      flags: 0,
      sessionId: pair.publication.sessionId,
      streamId: pair.streamId,
      receiverId: 42n,
      groupTag: 0n,
      errorCode: 1,
      errorMessage: 'image rejected by the test',
    });
    assert.ok(pair.sendFromAttacker(bytes, length, pair.sendPort));
    runFor(pair.world, 5 * MS);
    assert.equal(systemCounter(pair.publisher.driver, SystemCounterId.ERROR_FRAMES_RECEIVED), 1);
    assert.equal(systemCounter(pair.subscriber.driver, SystemCounterId.ERROR_FRAMES_RECEIVED), 0);
    assert.ok(pair.publisher.driverErrors.some((e) => /receiver rejected the stream \(code 1\): image rejected by the test/.test(String(e))));
  } finally {
    pair.close();
  }
});

test('DATA below the position the receiver already acknowledged is a flow-control under-run, dropped', async () => {
  const pair = await SimDriverPair.open({ seed: 6 });
  try {
    let received = 0;
    pair.subscription.onFragment(() => received++);
    for (let i = 0; i < 20; i++) assert.ok(pair.publication.offer(new Uint8Array(200)) > 0);
    const image = pair.subscription.images[0]!;
    // The subscriber consumed all and a status message reported it.
    assert.ok(pair.stepUntil(() => received === 20, 20_000));
    runFor(pair.world, 300 * MS);
    const before = systemCounter(pair.subscriber.driver, SystemCounterId.FLOW_CONTROL_UNDER_RUNS);
    const old = dataDatagram({ frameLength: 64, termOffset: 0, sessionId: image.sessionId, streamId: pair.streamId, termId: image.initialTermId });
    assert.ok(pair.sendFromAttacker(old, old.length, pair.receivePort));
    runFor(pair.world, 5 * MS);
    assert.equal(systemCounter(pair.subscriber.driver, SystemCounterId.FLOW_CONTROL_UNDER_RUNS), before + 1);
    assert.equal(received, 20, 'nothing delivered again');
  } finally {
    pair.close();
  }
});

test('a claim never committed on a UDP publication is padded over after publicationUnblockTimeoutNs and counted (Unblocked publications)', async () => {
  const pair = await SimDriverPair.open({ seed: 7, driver: { publicationUnblockTimeoutNs: 100 * MS } });
  try {
    const received: number[] = [];
    pair.subscription.onFragment((buffer, offset, length) => received.push(length));
    assert.ok(pair.publication.offer(new Uint8Array(10)) > 0);
    assert.ok(pair.publication.tryClaim(64, new BufferClaim()) > 0, 'claimed, never committed');
    assert.ok(pair.publication.offer(new Uint8Array(30)) > 0);
    runFor(pair.world, 50 * MS);
    assert.deepEqual(received, [10], 'the stream is stuck behind the claim');
    assert.equal(systemCounter(pair.publisher.driver, SystemCounterId.UNBLOCKED_PUBLICATIONS), 0);
    runFor(pair.world, 300 * MS);
    assert.equal(systemCounter(pair.publisher.driver, SystemCounterId.UNBLOCKED_PUBLICATIONS), 1);
    assert.deepEqual(received, [10, 30], 'the claim became padding and the stream moved on');
  } finally {
    pair.close();
  }
});
