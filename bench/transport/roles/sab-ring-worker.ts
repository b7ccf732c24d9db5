/**
 * A worker thread of the SharedArrayBuffer ring baseline. The producer offers `messageLength`-byte
 * messages (its sequence first) until the stop flag is set and then posts how many it sent; the
 * consumer spins on poll, measures its rate over the window and sets the stop flag.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { SpscRing } from './spsc-ring.js';
import { patternPayload, readSequence, writeSequence } from '../payload.js';

export interface SabRingWorkerData {
  readonly role: 'producer' | 'consumer';
  readonly shared: SharedArrayBuffer;
  readonly capacity: number;
  readonly messageLength: number;
  readonly warmupMs: number;
  readonly measureMs: number;
}

const CLOCK_CHECK_INTERVAL = 1024;
/** Records one poll reads at most before zeroing them and publishing its head. */
const POLL_LIMIT = 256;

function produce(ring: SpscRing, data: SabRingWorkerData): void {
  const payload = patternPayload(data.messageLength);
  const length = data.messageLength;
  let sent = 0;
  let full = 0;
  const startMs = performance.now();
  while (true) {
    writeSequence(payload, 0, sent);
    if (ring.offer(payload, length)) {
      sent++;
    } else {
      full++;
      if ((full & 1023) === 0 && ring.stopped) break;
    }
    if ((sent & 0xffff) === 0 && ring.stopped) break;
  }
  const elapsedMs = performance.now() - startMs;
  parentPort!.postMessage({ sent, full, producerMsgsPerSec: (sent * 1000) / elapsedMs });
}

function consume(ring: SpscRing, data: SabRingWorkerData): void {
  let messages = 0;
  let bytes = 0;
  let expected = 0;
  let sequenceErrors = 0;
  const handler = (buffer: Uint8Array, offset: number, length: number): void => {
    const sequence = readSequence(buffer, offset);
    if (sequence !== expected) sequenceErrors++;
    expected = (sequence + 1) >>> 0;
    messages++;
    bytes += length;
  };
  while (messages === 0) ring.poll(handler, POLL_LIMIT);
  const warmEndMs = performance.now() + data.warmupMs;
  let spins = 0;
  while (performance.now() < warmEndMs) for (spins = 0; spins < CLOCK_CHECK_INTERVAL; spins++) ring.poll(handler, POLL_LIMIT);
  const startMessages = messages;
  const startBytes = bytes;
  const startErrors = sequenceErrors;
  const startCpu = process.cpuUsage();
  const startMs = performance.now();
  const endMs = startMs + data.measureMs;
  let nowMs = startMs;
  while (nowMs < endMs) {
    for (spins = 0; spins < CLOCK_CHECK_INTERVAL; spins++) ring.poll(handler, POLL_LIMIT);
    nowMs = performance.now();
  }
  ring.stop();
  const elapsedMs = nowMs - startMs;
  const cpu = process.cpuUsage(startCpu);
  parentPort!.postMessage({
    msgsPerSec: ((messages - startMessages) * 1000) / elapsedMs,
    mbPerSec: (bytes - startBytes) / 1000 / elapsedMs,
    messages: messages - startMessages,
    elapsedMs,
    sequenceErrors: sequenceErrors - startErrors,
    // Process-wide (both worker threads), so up to 200 %.
    receiverCpuPct: (cpu.user + cpu.system) / 10 / elapsedMs,
  });
}

const data = workerData as SabRingWorkerData;
const ring = new SpscRing(data.shared, data.capacity);
if (data.role === 'producer') produce(ring, data);
else consume(ring, data);
