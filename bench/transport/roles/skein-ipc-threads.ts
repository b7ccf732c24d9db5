/**
 * Skein IPC throughput across two threads: the driver and the subscriber in the main thread, the
 * publisher in a worker thread with its own client (`SkeinWorker`, over a worker link). The log is
 * shared memory both threads use in place; the main thread polls until drained (at most
 * `pollsPerTurnMax` polls of `fragmentLimit`) and yields with setImmediate so the driver's
 * conductor moves the publisher limit on.
 */
import { Worker } from 'node:worker_threads';
import { Skein, type FragmentHandler } from '../../../src/index.js';
import type { ChildContext, RoleHandle } from '../../support/child-runtime.js';
import type { Metrics } from '../../support/child-messages.js';
import { ThroughputMeter } from '../throughput-meter.js';
import type { SkeinIpcConfig } from './skein-ipc.js';
import { readSequence, waitUntil } from '../payload.js';
import { benchSkeinOptions, systemCounters } from './skein-options.js';
import type { IpcPublisherWorkerData } from './skein-ipc-publisher-worker.js';

/** The same configuration as the one-thread role. */
export type SkeinIpcThreadsConfig = SkeinIpcConfig;

export async function skeinIpcThreads(config: SkeinIpcThreadsConfig, context: ChildContext): Promise<RoleHandle> {
  const errors = { count: 0 };
  const skein = Skein.launch(benchSkeinOptions(errors));
  const subscription = await skein.addSubscription('aeron:ipc', config.streamId);
  const link = skein.createWorkerLink();
  const data: IpcPublisherWorkerData = { link, streamId: config.streamId, messageLength: config.messageLength, batchMessagesMax: config.batchMessagesMax };
  const worker = new Worker(new URL('./skein-ipc-publisher-worker.js', import.meta.url), { workerData: data, transferList: [link.port] });
  let running = true;
  let publisherResult: Metrics = {};
  const finished = new Promise<void>((resolve) => {
    worker.on('message', (message: { error?: string; sent?: number; backPressured?: number }) => {
      if (message.error !== undefined && running) {
        running = false;
        context.fail(new Error(`publisher thread: ${message.error}`));
      }
      if (message.sent !== undefined) {
        publisherResult = { sent: message.sent, backPressured: message.backPressured ?? 0 };
        resolve();
      }
    });
    worker.once('exit', () => resolve());
  });
  worker.once('error', (error) => {
    if (running) context.fail(error);
  });
  await waitUntil(() => subscription.imageCount > 0, config.connectTimeoutMs, 'the image of the publisher thread');
  const meter = new ThroughputMeter(config, (metrics) => context.result(metrics));
  const handler: FragmentHandler = (buffer, offset, length) => meter.record(readSequence(buffer, offset), length);
  const { fragmentLimit, pollsPerTurnMax } = config;
  const turn = (): void => {
    if (!running) return;
    for (let i = 0; i < pollsPerTurnMax && subscription.poll(handler, fragmentLimit) > 0; i++);
    setImmediate(turn);
  };
  context.ready();
  setImmediate(turn);
  return {
    stop: async () => {
      running = false;
      meter.cancel();
      worker.postMessage('stop');
      await Promise.race([finished, new Promise((resolve) => setTimeout(resolve, 1000))]);
      await worker.terminate();
      const final = { ...publisherResult, received: meter.messages, skeinErrors: errors.count, ...systemCounters(skein, 'ipc') };
      skein.destroy();
      return final;
    },
  };
}
