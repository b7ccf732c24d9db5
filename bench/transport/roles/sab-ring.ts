/**
 * SharedArrayBuffer ring baseline: a producer and a consumer worker_thread hand `messageLength`-byte
 * messages over an {@link SpscRing}; the consumer measures the rate.
 */
import { Worker } from 'node:worker_threads';
import type { ChildConfig, ChildContext, RoleHandle } from '../../support/child-runtime.js';
import type { ThroughputWindow } from '../throughput-meter.js';
import type { Metrics } from '../../support/child-messages.js';
import { SpscRing } from './spsc-ring.js';
import type { SabRingWorkerData } from './sab-ring-worker.js';

export interface SabRingConfig extends ChildConfig, ThroughputWindow {
  readonly capacity: number;
  readonly messageLength: number;
}

export async function sabRing(config: SabRingConfig, context: ChildContext): Promise<RoleHandle> {
  const shared = new SharedArrayBuffer(SpscRing.sharedLength(config.capacity));
  const start = (role: 'producer' | 'consumer'): { worker: Worker; done: Promise<Metrics> } => {
    const data: SabRingWorkerData = { role, shared, ...config };
    const worker = new Worker(new URL('./sab-ring-worker.js', import.meta.url), { workerData: data });
    const done = new Promise<Metrics>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`${role} worker exited with code ${code} before reporting`)));
    });
    return { worker, done };
  };
  let stopping = false;
  const fail = (error: unknown): void => {
    if (!stopping) context.fail(error);
  };
  const consumer = start('consumer');
  const producer = start('producer');
  consumer.done.then((metrics) => context.result(metrics), fail);
  producer.done.catch(fail);
  context.ready();
  return {
    stop: async () => {
      stopping = true;
      new SpscRing(shared, config.capacity).stop();
      const final = await Promise.race([producer.done, new Promise<Metrics>((resolve) => setTimeout(() => resolve({}), 1000))]);
      await Promise.all([producer.worker.terminate(), consumer.worker.terminate()]);
      return final;
    },
  };
}
