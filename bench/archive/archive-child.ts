/**
 * One measurement of the archive suite, in a process of its own:
 * `node archive-child.js '<json config>'` prints one JSON line with the result.
 *
 * - `raw-write`: sequential writes of `totalBytes` in `chunkBytes` pieces to a new file
 *   (writeSync, then fdatasync when `fsync`), the baseline for the recorder; with `preallocate`
 *   the file is sized first, as segment files are.
 * - `record`: an embedded Skein with an archive records its own IPC stream (LOCAL): messages of
 *   `messageLength` are offered as fast as the publication takes them until `count` are sent;
 *   the time runs until the recording's position reaches the publication's. Then, when
 *   `replay` is set, the recording is replayed to an IPC subscription and timed until every
 *   message arrived; when `latencySamples` is set, single messages are offered one at a time
 *   and the time from offer to recorded position is measured for each.
 */
import { closeSync, fdatasyncSync, ftruncateSync, mkdtempSync, openSync, readdirSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ADMIN_ACTION, BACK_PRESSURED, NOT_CONNECTED, Skein, publicationCodeName, type Publication } from '../../src/index.js';
import { Archive } from '../../src/archive/archive.js';
import { ArchiveClient } from '../../src/archive/archive-client.js';
import { freeUdpPort } from '../../src/cli/free-port.js';
import { Worker } from 'node:worker_threads';
import type { ArchivePublisherData } from './archive-publisher-worker.js';

export interface RawWriteConfig {
  readonly mode: 'raw-write';
  readonly totalBytes: number;
  readonly chunkBytes: number;
  readonly fsync: boolean;
  /** Size the file first (ftruncate), as segment files are, so the writes do not extend it. */
  readonly preallocate: boolean;
}

export interface RecordConfig {
  readonly mode: 'record';
  readonly messageLength: number;
  readonly count: number;
  readonly replay: boolean;
  readonly latencySamples: number;
  readonly termLength: number;
  /** Offer from a worker thread (its own client on this driver) instead of the archive's thread. */
  readonly publisherThread: boolean;
  /** Messages recorded (and synced) before the clock starts: warms the code up. */
  readonly warmupCount: number;
  /** Push the segment files to the device (fdatasync) at the end, inside the timed window. */
  readonly fsync: boolean;
}

export type ArchiveChildConfig = RawWriteConfig | RecordConfig;

const STREAM = 1001;

function elapsedSeconds(startNs: bigint): number {
  return Number(process.hrtime.bigint() - startNs) / 1e9;
}

function rawWrite(config: RawWriteConfig): Record<string, number> {
  const dir = mkdtempSync(join(tmpdir(), 'skein-bench-raw-'));
  try {
    const chunk = new Uint8Array(config.chunkBytes);
    for (let i = 0; i < chunk.length; i++) chunk[i] = i & 0xff;
    const fd = openSync(join(dir, 'raw.dat'), 'w');
    if (config.preallocate) ftruncateSync(fd, config.totalBytes);
    const start = process.hrtime.bigint();
    for (let written = 0; written < config.totalBytes; ) {
      const n = Math.min(chunk.length, config.totalBytes - written);
      written += writeSync(fd, chunk, 0, n);
    }
    if (config.fsync) fdatasyncSync(fd);
    const seconds = elapsedSeconds(start);
    closeSync(fd);
    return { seconds, bytesPerSec: config.totalBytes / seconds };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** fdatasync of every segment file of the archive directory. */
function syncSegments(dir: string): void {
  for (const name of readdirSync(dir)) {
    if (!name.endsWith('.rec')) continue;
    const fd = openSync(join(dir, name), 'r+');
    fdatasyncSync(fd);
    closeSync(fd);
  }
}

function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

async function waitFor(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await turn();
  }
}

function offerOrFail(publication: Publication, payload: Uint8Array, length: number): boolean {
  const result = publication.offer(payload, 0, length);
  if (result >= 0) return true;
  if (result === BACK_PRESSURED || result === NOT_CONNECTED || result === ADMIN_ACTION) return false;
  throw new Error(`offer failed with ${publicationCodeName(result)}`);
}

async function record(config: RecordConfig): Promise<Record<string, number>> {
  const dir = mkdtempSync(join(tmpdir(), 'skein-bench-archive-'));
  const errors: string[] = [];
  const skein = Skein.launch({ driver: { publishSnapshots: false }, ...(process.env.BENCH_IDLE ? { idle: JSON.parse(process.env.BENCH_IDLE) } : {}), errorHandler: (e) => errors.push(e instanceof Error ? e.message : String(e)) });
  let archive: Archive | null = null;
  let client: ArchiveClient | null = null;
  try {
    const control = `aeron:udp?endpoint=127.0.0.1:${await freeUdpPort()}`;
    archive = await Archive.launch(skein.client, { dir, controlChannel: control, lowStorageSpaceThreshold: 0 });
    client = await ArchiveClient.connect(skein.client, { controlRequestChannel: control, controlResponseChannel: `aeron:udp?endpoint=127.0.0.1:${await freeUdpPort()}` });
    const channel = `aeron:ipc?term-length=${config.termLength}`;
    await client.startRecording(channel, STREAM, 'LOCAL');
    const a = archive;
    if (config.publisherThread) return { ...(await recordFromThread(skein, a, channel, config, dir)), errors: errors.length };
    const publication = await skein.addExclusivePublication(channel, STREAM);
    await waitFor(() => a.recordedPosition(0) >= 0, 10_000, 'the recording to start');

    const payload = new Uint8Array(config.messageLength);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 7) & 0xff;
    const payloadView = new DataView(payload.buffer);
    let sent = 0;
    const offerUntil = async (total: number): Promise<void> => {
      const deadline = Date.now() + 120_000;
      while (sent < total) {
        for (let k = 0; k < 4096 && sent < total; k++) {
          payloadView.setUint32(0, sent, true);
          if (!offerOrFail(publication, payload, payload.length)) break;
          sent++;
        }
        if (Date.now() > deadline) throw new Error(`only ${sent} of ${total} messages offered in 120 s`);
        await turn();
      }
    };
    await offerUntil(config.warmupCount);
    const warmEnd = publication.position;
    await waitFor(() => a.recordedPosition(0) >= warmEnd, 120_000, `warm-up recorded position ${warmEnd}`);
    syncSegments(dir);
    const start = process.hrtime.bigint();
    await offerUntil(config.warmupCount + config.count);
    const end = publication.position;
    await waitFor(() => a.recordedPosition(0) >= end, 120_000, `recorded position ${end}`);
    if (config.fsync) syncSegments(dir);
    const seconds = elapsedSeconds(start);
    const result: Record<string, number> = { seconds, msgsPerSec: config.count / seconds, bytesPerSec: (end - warmEnd) / seconds, recordedBytes: end - warmEnd };

    if (config.replay) {
      const subscription = await skein.addSubscription('aeron:ipc', STREAM + 1);
      let received = 0;
      let receivedBytes = 0;
      const replayStart = process.hrtime.bigint();
      await client.replay(0, 0, end, 'aeron:ipc', STREAM + 1);
      const handler = (_b: Uint8Array, _o: number, length: number): void => {
        received++;
        receivedBytes += length;
      };
      const replayDeadline = Date.now() + 120_000;
      const total = config.warmupCount + config.count;
      while (received < total) {
        if (subscription.poll(handler, 4096) === 0) await turn();
        if (Date.now() > replayDeadline) throw new Error(`replay delivered ${received} of ${total} messages in 120 s`);
      }
      const replaySeconds = elapsedSeconds(replayStart);
      result.replayMsgsPerSec = received / replaySeconds;
      result.replayBytesPerSec = end / replaySeconds;
      result.replayPayloadBytes = receivedBytes;
      subscription.close();
    }

    if (config.latencySamples > 0) {
      const samples = new Float64Array(config.latencySamples);
      for (let i = 0; i < config.latencySamples; i++) {
        const t0 = process.hrtime.bigint();
        while (!offerOrFail(publication, payload, payload.length)) await turn();
        const target = publication.position;
        while (a.recordedPosition(0) < target) await turn();
        samples[i] = Number(process.hrtime.bigint() - t0) / 1000;
      }
      samples.sort();
      result.latencyP50Us = samples[Math.floor(samples.length * 0.5)]!;
      result.latencyP99Us = samples[Math.floor(samples.length * 0.99)]!;
      result.latencyMaxUs = samples[samples.length - 1]!;
    }
    result.errors = errors.length;
    return result;
  } finally {
    await client?.close().catch(() => undefined);
    archive?.close();
    await skein.close();
    rmSync(dir, { recursive: true, force: true });
    if (errors.length > 0) process.stderr.write(`archive child errors: ${errors.slice(0, 5).join('; ')}\n`);
  }
}

/** Recording while a worker thread offers: the archive's thread only records. */
async function recordFromThread(skein: Skein, archive: Archive, channel: string, config: RecordConfig, dir: string): Promise<Record<string, number>> {
  const link = skein.createWorkerLink();
  const data: ArchivePublisherData = { link, channel, streamId: STREAM, messageLength: config.messageLength, count: config.count, warmupCount: config.warmupCount };
  const worker = new Worker(new URL('./archive-publisher-worker.js', import.meta.url), { workerData: data, transferList: [link.port] });
  let ready = false;
  let warmEnd = -1;
  let end = -1;
  let failure: string | null = null;
  worker.on('message', (m: { ready?: boolean; warm?: boolean; done?: boolean; position?: number; error?: string }) => {
    if (m.ready === true) ready = true;
    if (m.warm === true) warmEnd = m.position!;
    if (m.done === true) end = m.position!;
    if (m.error !== undefined) failure = m.error;
  });
  worker.once('error', (e) => (failure = String(e)));
  try {
    await waitFor(() => ready || failure !== null, 10_000, 'the publisher thread');
    worker.postMessage('warm-up');
    await waitFor(() => warmEnd >= 0 || failure !== null, 120_000, 'the warm-up messages');
    await waitFor(() => archive.recordedPosition(0) >= warmEnd || failure !== null, 120_000, 'the warm-up recorded');
    syncSegments(dir);
    const start = process.hrtime.bigint();
    worker.postMessage('go');
    await waitFor(() => end >= 0 || failure !== null, 120_000, 'the publisher thread to offer every message');
    if (failure !== null) throw new Error(`publisher thread: ${failure}`);
    await waitFor(() => archive.recordedPosition(0) >= end, 120_000, `recorded position ${end}`);
    if (config.fsync) syncSegments(dir);
    const seconds = elapsedSeconds(start);
    return { seconds, msgsPerSec: config.count / seconds, bytesPerSec: (end - warmEnd) / seconds, recordedBytes: end - warmEnd };
  } finally {
    await worker.terminate();
  }
}

const config = JSON.parse(process.argv[2] ?? '{}') as ArchiveChildConfig;
const result = config.mode === 'raw-write' ? rawWrite(config) : await record(config);
process.stdout.write(`${JSON.stringify(result)}\n`);
process.exit(0);
