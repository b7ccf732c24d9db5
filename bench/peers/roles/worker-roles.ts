/**
 * In-process peers: worker_threads postMessage (a worker thread sends, the main thread of the
 * child receives; credit through a shared Int32Array), request/response with a worker that echoes,
 * and the SharedArrayBuffer SPSC ring of the transport suite between two worker threads (the
 * in-process ceiling), fresh for every phase.
 */
import { Worker } from 'node:worker_threads';
import type { ChildConfig, ChildContext, RoleHandle } from '../../support/child-runtime.js';
import type { Metrics } from '../../support/child-messages.js';
import type { ThroughputWindow } from '../../transport/throughput-meter.js';
import { SpscRing } from '../../transport/roles/spsc-ring.js';
import type { SabRingWorkerData } from '../../transport/roles/sab-ring-worker.js';
import { creditEveryMessages, phaseCommand, type PhaseCommand } from '../phases.js';
import { PhaseMeter } from './phase-meter.js';
import { RequestDriver } from './request-driver.js';
import { CONTROL, type PostWorkerData } from './post-control.js';

const POST_WORKER = new URL('./post-worker.js', import.meta.url);
const RING_WORKER = new URL('../../transport/roles/sab-ring-worker.js', import.meta.url);

export type InProcessConfig = ChildConfig & ThroughputWindow;

function failOnExit(worker: Worker, context: ChildContext, what: string, stopping: () => boolean): void {
  worker.once('error', (error) => context.fail(error));
  worker.once('exit', (code) => {
    if (!stopping()) context.fail(new Error(`${what} worker exited with code ${code}`));
  });
}

export async function workerPost(config: InProcessConfig, context: ChildContext): Promise<RoleHandle> {
  const controlBuffer = new SharedArrayBuffer(CONTROL.size * 4);
  const control = new Int32Array(controlBuffer);
  control[CONTROL.phase] = -1;
  control[CONTROL.receivedPhase] = -1;
  const data: PostWorkerData = { mode: 'send', control: controlBuffer };
  const worker = new Worker(POST_WORKER, { workerData: data });
  let stopping = false;
  failOnExit(worker, context, 'postMessage sender', () => stopping);
  const meter = new PhaseMeter(config, (metrics) => context.result(metrics));
  worker.on('message', (message: Uint8Array) => {
    if (!meter.record(message, 0, message.length)) return;
    if (Atomics.load(control, CONTROL.receivedPhase) !== meter.phase) {
      Atomics.store(control, CONTROL.received, 0);
      Atomics.store(control, CONTROL.receivedPhase, meter.phase);
    }
    if (meter.phaseMessages % Math.min(64, creditEveryMessages(meter.phaseLength)) === 0) {
      Atomics.store(control, CONTROL.received, meter.phaseMessages);
      Atomics.notify(control, CONTROL.received);
    }
  });
  await new Promise<void>((resolve) => worker.once('online', () => resolve()));
  context.ready();
  return {
    command: (message) => {
      const command = phaseCommand(message);
      Atomics.store(control, CONTROL.length, command.length);
      Atomics.store(control, CONTROL.phase, command.phase);
      Atomics.notify(control, CONTROL.phase);
    },
    stop: async () => {
      stopping = true;
      meter.cancel();
      Atomics.store(control, CONTROL.stop, 1);
      Atomics.notify(control, CONTROL.phase);
      Atomics.notify(control, CONTROL.received);
      await worker.terminate();
      return { received: meter.messages };
    },
  };
}

export async function workerPostRequester(config: InProcessConfig, context: ChildContext): Promise<RoleHandle> {
  const data: PostWorkerData = { mode: 'echo' };
  const worker = new Worker(POST_WORKER, { workerData: data });
  let stopping = false;
  failOnExit(worker, context, 'postMessage echo', () => stopping);
  const driver = new RequestDriver({ send: (_slot, buffer) => worker.postMessage(buffer) }, context, config);
  worker.on('message', (message: Uint8Array) => driver.onResponse(message, 0));
  await new Promise<void>((resolve) => worker.once('online', () => resolve()));
  context.ready();
  return {
    command: (message) => driver.start(phaseCommand(message)),
    stop: async () => {
      stopping = true;
      driver.stop();
      await worker.terminate();
      return { completed: driver.completedTotal, stale: driver.stale };
    },
  };
}

/** Ring capacity for a message length: room for at least 16 records, at least 1 MiB. */
function ringCapacity(length: number): number {
  let capacity = 1 << 20;
  while (capacity < 16 * (length + 16)) capacity *= 2;
  return capacity;
}

export async function sabRing(config: InProcessConfig, context: ChildContext): Promise<RoleHandle> {
  let workers: Worker[] = [];
  let stopping = false;
  const runPhase = (command: PhaseCommand): void => {
    const capacity = ringCapacity(command.length);
    const shared = new SharedArrayBuffer(SpscRing.sharedLength(capacity));
    const start = (role: 'producer' | 'consumer'): Worker => {
      const data: SabRingWorkerData = { role, shared, capacity, messageLength: command.length, warmupMs: config.warmupMs, measureMs: config.measureMs };
      const worker = new Worker(RING_WORKER, { workerData: data });
      worker.once('error', (error) => context.fail(error));
      return worker;
    };
    const consumer = start('consumer');
    workers = [consumer, start('producer')];
    // The consumer reports and sets the ring's stop flag; then both threads run out and exit.
    consumer.once('message', (metrics: Metrics) => context.result({ ...metrics, phase: command.phase }));
  };
  context.ready();
  return {
    command: (message) => {
      if (!stopping) runPhase(phaseCommand(message));
    },
    stop: async () => {
      stopping = true;
      await Promise.all(workers.map((w) => w.terminate()));
      return {};
    },
  };
}
