/**
 * The worker thread of the worker_threads peer. `send`: posts messages of the phase set in the
 * shared control block to its parent as fast as the credit allows (the parent stores how many of
 * the phase it received), sleeping in Atomics.wait when the window is full. `echo`: posts every
 * message it receives back.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { patternPayload, writeSequence } from '../../transport/payload.js';
import { PHASE_OFFSET, SEQUENCE_OFFSET, creditWindowMessages } from '../phases.js';
import { CONTROL, type PostWorkerData } from './post-control.js';


const CHECK_EVERY = 64;

function send(control: Int32Array): void {
  let phase = -1;
  let length = 0;
  let sent = 0;
  let payload: Uint8Array = new Uint8Array(0);
  let windowMessages = 0;
  while (Atomics.load(control, CONTROL.stop) === 0) {
    const current = Atomics.load(control, CONTROL.phase);
    if (current < 0) {
      Atomics.wait(control, CONTROL.phase, current, 50);
      continue;
    }
    if (current !== phase) {
      phase = current;
      length = Atomics.load(control, CONTROL.length);
      payload = patternPayload(length);
      windowMessages = creditWindowMessages(length);
      sent = 0;
    }
    const credited = Atomics.load(control, CONTROL.receivedPhase) === phase ? Atomics.load(control, CONTROL.received) : 0;
    if (sent - credited >= windowMessages) {
      Atomics.wait(control, CONTROL.received, credited, 5);
      continue;
    }
    for (let i = 0; i < CHECK_EVERY && sent - credited < windowMessages; i++) {
      writeSequence(payload, SEQUENCE_OFFSET, sent);
      writeSequence(payload, PHASE_OFFSET, phase);
      // Structured clone copies the bytes, so the payload can be rewritten at once.
      parentPort!.postMessage(payload);
      sent++;
    }
  }
  parentPort!.close();
}

const data = workerData as PostWorkerData;
if (data.mode === 'send') send(new Int32Array(data.control!));
else parentPort!.on('message', (message: Uint8Array) => parentPort!.postMessage(message));
