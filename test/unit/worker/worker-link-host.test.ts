import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MessageChannel } from 'node:worker_threads';
import { WorkerLinkHost } from '../../../src/worker-link.js';
import { MessageQueue } from '../../../src/command/message-queue.js';
import { createResponseQueue, type DriverConnection } from '../../../src/command/driver-connection.js';
import type { DriverCommand } from '../../../src/command/driver-messages.js';

/** A driver connection whose command queue holds one command, so a test can fill it. */
function connection(): DriverConnection & { readonly toDriver: MessageQueue<DriverCommand> } {
  return {
    clientId: 7,
    toDriver: new MessageQueue<DriverCommand>(1),
    toClient: createResponseQueue(),
    counters: { values: new Float64Array(new SharedArrayBuffer(8)) },
    handlerErrorsCounterId: 0,
    wake: () => {},
    notifyProgress: () => {},
    nextCorrelationId: () => 1,
    clientLivenessTimeoutNs: 1e9,
    isDriverClosed: false,
  };
}

test('a link closed while the driver queue is full closes the client once there is room, not before', () => {
  const conn = connection();
  const { port1, port2 } = new MessageChannel();
  let closedCalls = 0;
  const host = new WorkerLinkHost(conn, port1, () => {}, () => closedCalls++);
  assert.equal(conn.toDriver.offer({ type: 'CLIENT_KEEPALIVE', clientId: 7 }), true, 'the queue is now full');
  host.close();
  assert.equal(host.isClosed, false, 'CLIENT_CLOSE did not fit: the link must not say it is closed');
  assert.equal(closedCalls, 0);
  assert.equal(host.doWork(), 1);
  assert.equal(host.isClosed, false);
  assert.equal(conn.toDriver.poll()?.type, 'CLIENT_KEEPALIVE');
  host.doWork();
  assert.equal(host.isClosed, true);
  assert.equal(closedCalls, 1);
  assert.deepEqual(conn.toDriver.poll(), { type: 'CLIENT_CLOSE', clientId: 7 });
  host.close();
  host.doWork();
  assert.equal(closedCalls, 1, 'close is idempotent');
  assert.equal(conn.toDriver.poll(), undefined);
  port2.close();
});

test('a keepalive reaches the driver without waking it; a CLIENT_TIMEOUT is passed on and closes the link without a CLIENT_CLOSE', async () => {
  const conn = { ...connection(), toDriver: new MessageQueue<DriverCommand>(4) };
  const { port1, port2 } = new MessageChannel();
  let wakes = 0;
  let closedCalls = 0;
  const host = new WorkerLinkHost(conn, port1, () => wakes++, () => closedCalls++);
  const arrived: unknown[] = [];
  port2.on('message', (message: unknown) => arrived.push(message));
  const portClosed = new Promise<void>((resolve) => port2.once('close', () => resolve()));
  port2.postMessage({ type: 'CLIENT_KEEPALIVE', clientId: 99 });
  port2.postMessage({ type: 'REMOVE_SUBSCRIPTION', clientId: 7, correlationId: 5, registrationId: 3 });
  for (let i = 0; i < 100 && conn.toDriver.size < 2; i++) await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(conn.toDriver.poll(), { type: 'CLIENT_KEEPALIVE', clientId: 7 }, "under the link's own client id");
  assert.equal(conn.toDriver.poll()?.type, 'REMOVE_SUBSCRIPTION');
  assert.equal(wakes, 1, 'only the command woke the driver');

  conn.toClient.offer({ type: 'CLIENT_TIMEOUT', clientId: 7 });
  host.doWork();
  assert.equal(host.isClosed, true);
  assert.equal(closedCalls, 1);
  assert.equal(conn.toDriver.poll(), undefined, 'the driver already closed the client: no CLIENT_CLOSE');
  await portClosed;
  assert.deepEqual(arrived, [{ type: 'CLIENT_TIMEOUT', clientId: 7 }], 'the worker is told why before the port closes');
});
