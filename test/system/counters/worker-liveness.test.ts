/**
 * Client liveness for a client in a worker thread: while the worker's event loop runs, its client
 * keeps alive however idle it is; when the worker blocks its thread for longer than the driver's
 * clientLivenessTimeoutNs, the driver closes its client, releases its publication and counts it
 * (Client liveness timeouts), and the worker, once running again, finds its client closed and
 * told why.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { Skein } from '../../../src/skein.js';
import { CounterTypeId, SystemCounterId } from '../../../src/agent/counter-types.js';
import { waitFor } from '../../support/wait.js';

const WORKER_FILE = new URL('../../fixtures/workers/stall-worker.js', import.meta.url);
const TIMEOUT_MS = 300;

interface WorkerEvent {
  readonly event: string;
  readonly isClosed?: boolean;
  readonly errors?: string[];
}

test('a worker whose thread stops for longer than the client liveness timeout has its client closed and counted', { timeout: 30_000 }, async () => {
  const skein = Skein.launch({ testProfile: true, seed: 21, errorHandler: () => {}, driver: { clientLivenessTimeoutNs: TIMEOUT_MS * 1e6 } });
  const timeouts = (): number => skein.driver.counters.get(skein.driver.counters.find(CounterTypeId.SYSTEM, SystemCounterId.CLIENT_TIMEOUTS));
  const link = skein.createWorkerLink();
  const worker = new Worker(WORKER_FILE, { workerData: { link, streamId: 31, stallMs: 4 * TIMEOUT_MS, deadlineMs: 10_000 }, transferList: [link.port] });
  const events: WorkerEvent[] = [];
  worker.on('message', (message: WorkerEvent) => events.push(message));
  worker.on('error', (error) => events.push({ event: 'error', errors: [String(error)] }));
  try {
    await waitFor(() => events.some((e) => e.event === 'ready'), 10_000, `the worker's publication (${JSON.stringify(events)})`);
    assert.equal(skein.driver.conductor.resourceCounts().ipcPublications, 1);
    await waitFor(() => timeouts() === 1, 10 * TIMEOUT_MS, 'the driver to time the silent client out');
    assert.equal(skein.driver.conductor.clientCount, 1, "only Skein's own client is left");
    await waitFor(() => skein.driver.conductor.resourceCounts().ipcPublications === 0, 5000, "the worker's publication released");
    assert.ok(skein.driver.errorLog.entries().some((e) => /sent no keepalive within clientLivenessTimeoutNs \(300 ms\)/.test(e.message)));
    await waitFor(() => events.some((e) => e.event === 'closed'), 10_000, `the worker to see its client closed (${JSON.stringify(events)})`);
    const resumed = events.find((e) => e.event === 'resumed');
    assert.ok(resumed !== undefined);
    const closed = events.find((e) => e.event === 'closed')!;
    assert.equal(closed.isClosed, true);
    assert.ok(closed.errors?.some((e) => /the driver closed this client, which sent no keepalive/.test(e)), JSON.stringify(closed.errors));
  } finally {
    await worker.terminate();
    skein.destroy();
  }
});

test('an idle worker client that keeps its event loop running is not timed out', { timeout: 30_000 }, async () => {
  const skein = Skein.launch({ testProfile: true, seed: 22, errorHandler: () => {}, driver: { clientLivenessTimeoutNs: TIMEOUT_MS * 1e6 } });
  const link = skein.createWorkerLink();
  // A stall shorter than the timeout, then idle: keepalives carry on.
  const worker = new Worker(WORKER_FILE, { workerData: { link, streamId: 32, stallMs: TIMEOUT_MS / 3, deadlineMs: 6 * TIMEOUT_MS }, transferList: [link.port] });
  const events: WorkerEvent[] = [];
  worker.on('message', (message: WorkerEvent) => events.push(message));
  try {
    await waitFor(() => events.some((e) => e.event === 'closed'), 20_000, `the worker's idle period to end (${JSON.stringify(events)})`);
    assert.equal(events.find((e) => e.event === 'closed')?.isClosed, false, 'still open after six timeouts of idleness');
    assert.equal(skein.driver.counters.get(skein.driver.counters.find(CounterTypeId.SYSTEM, SystemCounterId.CLIENT_TIMEOUTS)), 0);
    assert.equal(skein.driver.conductor.clientCount, 2);
  } finally {
    await worker.terminate();
    skein.destroy();
  }
});
