/**
 * The publisher thread of the archive suite's two-thread recording: a `SkeinWorker` client on the
 * main thread's driver offers `count` messages of `messageLength` bytes on an exclusive IPC
 * publication as fast as it takes them, then posts the publication's position and closes.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { ADMIN_ACTION, BACK_PRESSURED, NOT_CONNECTED, SkeinWorker, publicationCodeName, type WorkerLink } from '../../src/index.js';

export interface ArchivePublisherData {
  readonly link: WorkerLink;
  readonly channel: string;
  readonly streamId: number;
  readonly messageLength: number;
  readonly count: number;
  readonly warmupCount: number;
}

const data = workerData as ArchivePublisherData;
const port = parentPort!;
const skein = SkeinWorker.connect(data.link, { errorHandler: (error) => port.postMessage({ error: String(error) }) });
const publication = await skein.addExclusivePublication(data.channel, data.streamId);
const payload = new Uint8Array(data.messageLength);
for (let i = 0; i < payload.length; i++) payload[i] = (i * 7) & 0xff;
const view = new DataView(payload.buffer);
let sent = 0;
let target = 0;
port.on('message', (m: string) => {
  target = m === 'warm-up' ? data.warmupCount : data.warmupCount + data.count;
  setImmediate(turn);
});
port.postMessage({ ready: true });
const turn = (): void => {
  for (let k = 0; k < 4096 && sent < target; k++) {
    view.setUint32(0, sent, true);
    const result = publication.offer(payload, 0, payload.length);
    if (result >= 0) sent++;
    else if (result === BACK_PRESSURED || result === NOT_CONNECTED || result === ADMIN_ACTION) break;
    else {
      port.postMessage({ error: `offer failed with ${publicationCodeName(result)} after ${sent} messages` });
      return;
    }
  }
  if (sent < target) {
    setImmediate(turn);
    return;
  }
  port.postMessage(target === data.warmupCount ? { warm: true, position: publication.position } : { done: true, position: publication.position });
};
