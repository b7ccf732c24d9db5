/**
 * The publisher thread of the two-thread Skein IPC measurement: a `SkeinWorker` client connected
 * to the driver in the main thread, offering `messageLength`-byte messages (sequence first) in
 * batches of at most `batchMessagesMax` per event-loop turn until told to stop; then it posts how
 * many it sent and closes.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { SkeinWorker, ADMIN_ACTION, BACK_PRESSURED, NOT_CONNECTED, publicationCodeName, type WorkerLink } from '../../../src/index.js';
import { patternPayload, writeSequence } from '../payload.js';

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
const payload = patternPayload(data.messageLength);
const { messageLength: length, batchMessagesMax: batchMax } = data;
let sent = 0;
let backPressured = 0;
let running = true;
port.once('message', () => (running = false));

const turn = (): void => {
  if (!running) {
    port.postMessage({ sent, backPressured });
    skein.close();
    return;
  }
  for (let offered = 0; offered < batchMax; ) {
    writeSequence(payload, 0, sent);
    const result = publication.offer(payload, 0, length);
    if (result >= 0) {
      sent++;
      offered++;
    } else if (result === BACK_PRESSURED || result === NOT_CONNECTED) {
      backPressured++;
      break;
    } else if (result !== ADMIN_ACTION) {
      port.postMessage({ error: `offer failed with ${publicationCodeName(result)} after ${sent} messages` });
      skein.close();
      return;
    }
  }
  setImmediate(turn);
};
port.postMessage({ ready: true });
setImmediate(turn);
