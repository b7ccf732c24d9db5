import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { Skein, SkeinWorker, ResponseServer, ErrorCode, SkeinError, BACK_PRESSURED, NOT_CONNECTED, ADMIN_ACTION, type WorkerLink } from '../../../src/index.js';
import { MIXED_SIZES, fillMessage, messageLength } from '../../fixtures/sequence-payload.js';
import { CheckedReceiver, receiveChecked } from '../../fixtures/receive-checked.js';
import { freeUdpPort, waitFor } from '../../support/wait.js';

/**
 * Clients in worker threads (Skein.createWorkerLink / SkeinWorker.connect): streams between a
 * worker and the driver's thread over IPC and UDP, whole and in order; a terminated worker's
 * publications released by the driver; a closed Skein closing its workers' clients.
 */

const WORKER_FILE = new URL('../../fixtures/workers/link-worker.js', import.meta.url);
const DEADLINE_MS = 30_000;

interface WorkerEvent {
  readonly event: string;
  readonly [key: string]: unknown;
}

interface LinkedWorker {
  readonly worker: Worker;
  readonly events: WorkerEvent[];
  next(event: string, timeoutMs: number): Promise<WorkerEvent>;
  exited(timeoutMs: number): Promise<number>;
}

const started: Worker[] = [];
const skeins: Skein[] = [];

afterEach(async () => {
  await Promise.all(started.splice(0).map((worker) => worker.terminate()));
  for (const skein of skeins.splice(0)) skein.destroy();
});

function launch(seed: number): Skein {
  const skein = Skein.launch({ testProfile: true, seed, errorHandler: () => {} });
  skeins.push(skein);
  return skein;
}

function startWorker(
  skein: Skein,
  data: { role: 'publish' | 'subscribe' | 'request'; channel: string; streamId: number; count: number; responseChannel?: string },
): LinkedWorker {
  const link = skein.createWorkerLink();
  const worker = new Worker(WORKER_FILE, { workerData: { ...data, link, deadlineMs: DEADLINE_MS }, transferList: [link.port] });
  started.push(worker);
  const events: WorkerEvent[] = [];
  let exitCode: number | null = null;
  worker.on('message', (message: WorkerEvent) => events.push(message));
  worker.on('error', (error) => events.push({ event: 'error', message: String(error) }));
  worker.on('exit', (code) => (exitCode = code));
  const describe = (): string => JSON.stringify(events);
  return {
    worker,
    events,
    async next(event, timeoutMs) {
      await waitFor(() => events.some((e) => e.event === event || e.event === 'error'), timeoutMs, `worker event '${event}' (events: ${describe()})`);
      const found = events.find((e) => e.event === event);
      assert.ok(found !== undefined, `worker reported an error instead of '${event}': ${describe()}`);
      return found;
    },
    async exited(timeoutMs) {
      await waitFor(() => exitCode !== null, timeoutMs, `the worker to exit (events: ${describe()})`);
      return exitCode!;
    },
  };
}

test('IPC from a worker thread: every message arrives once, in order, byte-identical', { timeout: 60_000 }, async () => {
  const skein = launch(71);
  const count = 100_000;
  const subscription = await skein.addSubscription('aeron:ipc', 2001);
  const publisher = startWorker(skein, { role: 'publish', channel: 'aeron:ipc', streamId: 2001, count });
  await publisher.next('ready', 10_000);
  await waitFor(() => subscription.imageCount === 1, 10_000, 'the worker publication image');
  publisher.worker.postMessage({ go: true });
  const result = await receiveChecked(subscription, count, DEADLINE_MS);
  assert.deepEqual(result, { received: count, errors: [] });
  assert.equal((await publisher.next('sent', 10_000)).sent, count);
  assert.equal(subscription.images[0]!.logBuffers.metaData.sharedAcrossThreads, true, 'a log handed to a worker is published with Atomics');
  const local = await skein.addPublication('aeron:ipc', 2011);
  const localSubscription = await skein.addSubscription('aeron:ipc', 2011);
  await waitFor(() => localSubscription.imageCount === 1 && local.isConnected, 5000, 'the local IPC image');
  assert.equal(localSubscription.images[0]!.logBuffers.metaData.sharedAcrossThreads, false, 'a log used in one thread only is not marked');
});

test('IPC to a worker thread: a subscriber in a worker receives every message in order', { timeout: 60_000 }, async () => {
  const skein = launch(72);
  const count = 100_000;
  const subscriber = startWorker(skein, { role: 'subscribe', channel: 'aeron:ipc', streamId: 2002, count });
  await subscriber.next('ready', 10_000);
  const publication = await skein.addPublication('aeron:ipc', 2002);
  await waitFor(() => publication.isConnected, 10_000, 'the worker subscription to connect');
  const buffer = new Uint8Array(4096);
  let sequence = 0;
  const deadline = Date.now() + DEADLINE_MS;
  while (sequence < count && Date.now() < deadline) {
    const length = messageLength(sequence, MIXED_SIZES);
    fillMessage(buffer, 0, sequence, length);
    const result = publication.offer(buffer, 0, length);
    if (result >= 0) sequence++;
    else if (result === BACK_PRESSURED || result === NOT_CONNECTED || result === ADMIN_ACTION) await new Promise((resolve) => setImmediate(resolve));
    else assert.fail(`offer failed with ${result} at ${sequence}`);
  }
  const received = await subscriber.next('received', DEADLINE_MS);
  assert.deepEqual({ received: received.received, errors: received.errors }, { received: count, errors: [] });
});

test('UDP from a worker thread: the driver thread sends what the worker offers', { timeout: 60_000 }, async () => {
  const skein = launch(73);
  const channel = `aeron:udp?endpoint=127.0.0.1:${await freeUdpPort()}`;
  const count = 30_000;
  const subscription = await skein.addSubscription(channel, 2003);
  const publisher = startWorker(skein, { role: 'publish', channel, streamId: 2003, count });
  await publisher.next('ready', 10_000);
  await waitFor(() => subscription.imageCount === 1, 10_000, 'the worker publication image');
  publisher.worker.postMessage({ go: true });
  const result = await receiveChecked(subscription, count, DEADLINE_MS);
  assert.deepEqual(result, { received: count, errors: [] });
});

test('request/response from a worker thread: a ResponseClient there, the ResponseServer in the driver thread', { timeout: 60_000 }, async () => {
  const skein = launch(79);
  const requestChannel = `aeron:udp?endpoint=127.0.0.1:${await freeUdpPort()}`;
  const responseChannel = `aeron:udp?control=127.0.0.1:${await freeUdpPort()}`;
  const decoder = new TextDecoder();
  const server = await ResponseServer.start(skein.client, {
    requestChannel,
    responseControlChannel: responseChannel,
    handler: (request) => `echo ${decoder.decode(request)}`,
  });
  try {
    const requester = startWorker(skein, { role: 'request', channel: requestChannel, responseChannel, streamId: 0, count: 2000 });
    await requester.next('ready', 15_000);
    const result = await requester.next('answered', DEADLINE_MS);
    assert.deepEqual({ answered: result.answered, wrong: result.wrong }, { answered: 2000, wrong: 0 });
  } finally {
    server.close();
  }
});

test('a publication added from a worker has a session of its own', { timeout: 30_000 }, async () => {
  const skein = launch(74);
  const local = await skein.addPublication('aeron:ipc', 2004);
  const publisher = startWorker(skein, { role: 'publish', channel: 'aeron:ipc', streamId: 2004, count: 0 });
  const ready = await publisher.next('ready', 10_000);
  assert.equal(typeof ready.sessionId, 'number');
  assert.notEqual(ready.sessionId, local.sessionId, 'the worker must not append to a log this thread appends to');
});

test('a terminated worker: the driver releases its client and its publication goes away', { timeout: 30_000 }, async () => {
  const skein = launch(75);
  const clientsBefore = skein.driver.conductor.resourceCounts().clients;
  const subscription = await skein.addSubscription('aeron:ipc', 2005);
  const publisher = startWorker(skein, { role: 'publish', channel: 'aeron:ipc', streamId: 2005, count: 0 });
  await publisher.next('ready', 10_000);
  await waitFor(() => subscription.imageCount === 1, 10_000, 'the worker publication image');
  assert.equal(skein.driver.conductor.resourceCounts().clients, clientsBefore + 1);
  await publisher.worker.terminate();
  await waitFor(() => skein.driver.conductor.resourceCounts().clients === clientsBefore, 5000, 'the driver to drop the worker client');
  await waitFor(() => subscription.imageCount === 0, 5000, 'the image of the terminated worker to go unavailable');
  assert.equal(skein.driver.conductor.resourceCounts().ipcPublications, 0);
});

test('a worker terminated while it offers: what arrived is intact and in order, and the stream ends', { timeout: 60_000 }, async () => {
  const skein = launch(80);
  const subscription = await skein.addSubscription('aeron:ipc', 2008);
  const publisher = startWorker(skein, { role: 'publish', channel: 'aeron:ipc', streamId: 2008, count: 1e9 });
  await publisher.next('ready', 10_000);
  await waitFor(() => subscription.imageCount === 1, 10_000, 'the worker publication image');
  publisher.worker.postMessage({ go: true });
  const receiver = new CheckedReceiver();
  const pump = setInterval(() => {
    for (let i = 0; i < 64 && subscription.poll(receiver.assembler.onFragment, 256) > 0; i++);
  }, 1);
  try {
    await waitFor(() => receiver.received >= 20_000, 20_000, '20k messages from the worker');
    await publisher.worker.terminate();
    // A frame the worker had claimed but not published is padded after publicationUnblockTimeoutNs (15 s).
    await waitFor(() => subscription.imageCount === 0, 30_000, 'the image of the terminated worker to go unavailable');
  } finally {
    clearInterval(pump);
  }
  assert.deepEqual(receiver.errors, [], `${receiver.received} messages received`);
  assert.equal(skein.driver.conductor.resourceCounts().ipcPublications, 0);
});

test('a worker that closes its client exits on its own, and the driver drops the client', { timeout: 30_000 }, async () => {
  const skein = launch(76);
  const clientsBefore = skein.driver.conductor.resourceCounts().clients;
  const publisher = startWorker(skein, { role: 'publish', channel: 'aeron:ipc', streamId: 2006, count: 0 });
  await publisher.next('ready', 10_000);
  publisher.worker.postMessage({ close: true });
  assert.equal((await publisher.next('closed', 5000)).isClosed, true);
  assert.equal(await publisher.exited(5000), 0, 'nothing keeps the worker alive after close');
  await waitFor(() => skein.driver.conductor.resourceCounts().clients === clientsBefore, 5000, 'the driver to drop the worker client');
  await waitFor(() => skein.driver.conductor.resourceCounts().ipcPublications === 0, 5000, 'the IPC publication to be released');
});

test('closing Skein closes the clients of its workers, which then exit', { timeout: 30_000 }, async () => {
  const skein = launch(77);
  const publisher = startWorker(skein, { role: 'publish', channel: 'aeron:ipc', streamId: 2007, count: 0 });
  await publisher.next('ready', 10_000);
  skein.destroy();
  await publisher.next('driver-closed', 5000);
  assert.equal(await publisher.exited(5000), 0);
});

test('a bad or reused link is rejected with an error naming what is wrong; an unused one is released when its port closes', async () => {
  const skein = launch(78);
  const link = skein.createWorkerLink();
  try {
    assert.throws(
      () => SkeinWorker.connect({ ...link, version: 99 } as WorkerLink),
      (error: unknown) => error instanceof SkeinError && error.code === ErrorCode.ARG_INVALID && /link version 99/.test(error.message),
    );
    assert.throws(
      () => SkeinWorker.connect({ ...link, counterValues: new ArrayBuffer(8) } as unknown as WorkerLink),
      (error: unknown) => error instanceof SkeinError && /not SharedArrayBuffers/.test(error.message),
    );
    assert.throws(() => SkeinWorker.connect(undefined as unknown as WorkerLink), /link is undefined/);
  } finally {
    link.port.close();
  }
  // Closing an unused link's port releases the client the driver made for it.
  await waitFor(() => skein.driver.conductor.resourceCounts().clients === 1, 5000, 'the unused link to be released');

  const second = skein.createWorkerLink();
  const first = SkeinWorker.connect(second);
  assert.throws(
    () => SkeinWorker.connect(second),
    (error: unknown) => error instanceof SkeinError && error.code === ErrorCode.ARG_INVALID && /already connected/.test(error.message),
  );
  first.close();
  skein.destroy();
  assert.throws(() => skein.createWorkerLink(), (error: unknown) => error instanceof SkeinError && error.code === ErrorCode.CLOSED);
});
