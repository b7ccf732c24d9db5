/**
 * The publisher thread of the two-thread Skein IPC measurement: a `SkeinWorker` client connected
 * to the driver in the main thread, offering `messageLength`-byte messages (sequence first) in
 * batches of at most `batchMessagesMax` per event-loop turn until told to stop; then it posts how
 * many it sent and closes.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { SkeinWorker, type WorkerLink } from '../../../src/index.js';
import { SequenceOfferer } from './sequence-offerer.js';

export interface IpcPublisherWorkerData {
  readonly link: WorkerLink;
  readonly streamId: number;
  readonly messageLength: number;
  readonly batchMessagesMax: number;
}

const data = workerData as IpcPublisherWorkerData;
const port = parentPort!;
const skein = SkeinWorker.connect(data.link, { errorHandler: (error) => port.postMessage({ error: String(error) }) });
const publication = await skein.addPublication('aeron:ipc', data.streamId);
const offerer = new SequenceOfferer(publication, data.messageLength, data.batchMessagesMax);
let running = true;
port.once('message', () => (running = false));

const turn = (): void => {
  if (!running) {
    port.postMessage({ sent: offerer.sent, backPressured: offerer.backPressured });
    skein.close();
    return;
  }
  if (!offerer.offerBatch()) {
    port.postMessage({ error: offerer.failure });
    skein.close();
    return;
  }
  setImmediate(turn);
};
port.postMessage({ ready: true });
setImmediate(turn);
