/**
 * Recording and replay sessions on real streams: a recording follows its image until the stream
 * ends and keeps its rec-pos counter at the recorded position; a live replay over UDP follows the
 * recording as it grows and ends, byte for byte, at its stop position; a full disk stops the
 * recording with an error naming the position, and what was recorded before stays intact; a
 * replay whose publication never connects ends with an error naming the channel and timeout.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Skein } from '../../../src/skein.js';
import { MemoryFiles } from '../../../src/env/memory-files.js';
import { RecordingWriter } from '../../../src/archive/recording-writer.js';
import { RecordingReader } from '../../../src/archive/recording-reader.js';
import { RecordingSession, type RecordingSessionListener } from '../../../src/archive/recording-session.js';
import { ReplaySession, type ReplayLimit } from '../../../src/archive/replay-session.js';
import { verifyRecording, type RecordingLayout } from '../../../src/archive/segment-scan.js';
import { FragmentAssembler } from '../../../src/logbuffer/fragment-assembler.js';
import type { Header } from '../../../src/logbuffer/header.js';
import { ErrorCode, SkeinError } from '../../../src/util/errors.js';
import { freeUdpPort, waitFor } from '../../support/wait.js';

const DIR = '/archive';
const TERM_LENGTH = 64 * 1024;

function messageOf(i: number): Uint8Array {
  const length = 8 + ((i * 7717) % 1800);
  const m = new Uint8Array(length);
  new DataView(m.buffer).setUint32(0, i, true);
  for (let j = 4; j < length; j++) m[j] = (i ^ j) & 0xff;
  return m;
}

interface Done {
  stopPosition: number;
  error: SkeinError | null;
}

async function startRecording(skein: Skein, files: MemoryFiles, streamId: number) {
  const channel = `aeron:ipc?term-length=${TERM_LENGTH}`;
  const subscription = await skein.addSubscription(channel, streamId);
  const publication = await skein.addExclusivePublication(channel, streamId);
  await subscription.connected({ timeoutMs: 5000 });
  const image = subscription.images[0]!;
  const startPosition = image.position;
  const writer = new RecordingWriter({
    files, archiveDir: DIR, recordingId: 0, startPosition, position: startPosition,
    initialTermId: image.initialTermId, termLength: TERM_LENGTH, segmentLength: 64 * 1024, fileSyncLevel: 0,
  });
  const counter = await skein.client.addCounter(100, `rec-pos: 0 ${image.sessionId} ${streamId} ${channel}`, { recordingId: 0, sessionId: image.sessionId });
  const done: Done[] = [];
  const listener: RecordingSessionListener = { onRecordingDone: (_s, stopPosition, error) => done.push({ stopPosition, error }) };
  const recording = new RecordingSession({ recordingId: 0, image, writer, position: counter, blockLengthLimit: 16 * 1024, listener });
  const layout: RecordingLayout = { recordingId: 0, startPosition, initialTermId: image.initialTermId, termLength: TERM_LENGTH, segmentLength: 64 * 1024, streamId, sessionId: image.sessionId };
  return { publication, subscription, recording, counter, done, layout, image };
}

test('a live replay over UDP follows a recording as it grows and ends at its stop position, byte for byte', async () => {
  const skein = Skein.launch({ testProfile: true, seed: 31 });
  try {
    const files = new MemoryFiles();
    files.mkdirs(DIR);
    const { publication, recording, counter, done, layout } = await startRecording(skein, files, 1001);
    const port = await freeUdpPort();
    const replayChannel = `aeron:udp?endpoint=127.0.0.1:${port}|term-length=${TERM_LENGTH}|init-term-id=${layout.initialTermId}|term-id=${layout.initialTermId}|term-offset=${layout.startPosition}`;
    const replaySubscription = await skein.addSubscription(`aeron:udp?endpoint=127.0.0.1:${port}`, 2002);
    const replayPublication = await skein.addExclusivePublication(replayChannel, 2002);
    const liveLimit: ReplayLimit = { position: () => recording.recordedPosition, isFinal: () => recording.state === 'DONE' };
    const replayDone: (SkeinError | null)[] = [];
    const replay = new ReplaySession({
      replaySessionId: (1n << 32n) | BigInt(replayPublication.sessionId >>> 0), recordingId: 0, publication: replayPublication,
      reader: new RecordingReader(files, DIR, layout, layout.startPosition, 64 * 1024), endPosition: Number.POSITIVE_INFINITY,
      limit: liveLimit, connectDeadlineNs: skein.client.nanoTime() + 5e9, connectTimeoutMs: 5000,
      listener: { onReplayDone: (_s, error) => replayDone.push(error) },
    });
    const received: Uint8Array[] = [];
    let lastPosition = 0;
    const assembler = new FragmentAssembler((buffer: Uint8Array, offset: number, length: number, header: Header) => {
      received.push(buffer.slice(offset, offset + length));
      lastPosition = header.position;
    });
    const work = (): void => {
      recording.doWork();
      replay.doWork(skein.client.nanoTime());
      replaySubscription.poll(assembler.onFragment, 64);
    };
    const count = 600;
    for (let i = 0; i < count; i++) {
      const m = messageOf(i);
      await waitFor(() => {
        work();
        return publication.offer(m) >= 0;
      }, 5000, `offer ${i}`);
      if (i === count / 2) {
        await waitFor(() => {
          work();
          return received.length >= i;
        }, 5000, 'the replay to keep up with the live recording');
        assert.equal(replay.state, 'REPLAYING');
      }
    }
    const end = publication.position;
    await waitFor(() => {
      work();
      return counter.isClosed || counter.value === end;
    }, 5000, 'the rec-pos counter to reach the end');
    publication.close();
    await waitFor(() => {
      work();
      return done.length === 1 && replayDone.length === 1;
    }, 10_000, 'the recording and then the replay to end');
    assert.deepEqual(done[0], { stopPosition: end, error: null });
    assert.equal(replayDone[0], null);
    // The replay has appended everything; the subscriber takes the rest from its image.
    await waitFor(() => {
      replaySubscription.poll(assembler.onFragment, 64);
      return received.length === count;
    }, 5000, 'the subscriber to take the last replayed messages');
    for (let i = 0; i < count; i++) assert.ok(Buffer.from(messageOf(i)).equals(received[i]!), `message ${i}`);
    assert.equal(lastPosition, end, 'replayed positions equal recorded positions');
    assert.ok(counter.isClosed, 'the rec-pos counter is freed when the recording ends');
    assert.deepEqual(verifyRecording(files, DIR, layout, end), []);
  } finally {
    await skein.close();
  }
});

test('a full disk stops the recording with an error naming the position; what was recorded stays intact', async () => {
  const skein = Skein.launch({ testProfile: true, seed: 32 });
  try {
    const files = new MemoryFiles();
    files.mkdirs(DIR);
    const { publication, recording, done, layout } = await startRecording(skein, files, 1003);
    for (let i = 0; i < 50; i++) {
      const m = messageOf(i);
      await waitFor(() => {
        recording.doWork();
        return publication.offer(m) >= 0;
      }, 5000, `offer ${i}`);
    }
    await waitFor(() => {
      recording.doWork();
      return recording.recordedPosition === publication.position;
    }, 5000, 'the first 50 messages recorded');
    const intact = recording.recordedPosition;
    files.setCapacity(files.usedBytes + 100);
    for (let i = 50; i < 60; i++) publication.offer(messageOf(i));
    await waitFor(() => {
      recording.doWork();
      return done.length === 1;
    }, 5000, 'the recording to stop');
    const { stopPosition, error } = done[0]!;
    assert.ok(error instanceof SkeinError && error.code === ErrorCode.STORAGE_FAILED, String(error));
    assert.match(error.message, new RegExp(`recording 0 stopped at position ${stopPosition}: .*ENOSPC`));
    assert.equal(error.subject.streamId, 1003);
    assert.ok(stopPosition >= intact, `stop ${stopPosition} >= ${intact}`);
    assert.deepEqual(verifyRecording(files, DIR, layout, stopPosition), [], 'everything up to the stop position is whole');
    assert.equal(recording.doWork(), 0);
  } finally {
    await skein.close();
  }
});

test('a replay whose publication never connects ends with an error naming the channel and the timeout', async () => {
  const skein = Skein.launch({ testProfile: true, seed: 33 });
  try {
    const files = new MemoryFiles();
    files.mkdirs(DIR);
    const port = await freeUdpPort();
    const publication = await skein.addExclusivePublication(`aeron:udp?endpoint=127.0.0.1:${port}`, 7);
    const layout: RecordingLayout = { recordingId: 4, startPosition: 0, initialTermId: 0, termLength: TERM_LENGTH, segmentLength: 64 * 1024, streamId: 7 };
    const errors: (SkeinError | null)[] = [];
    const start = skein.client.nanoTime();
    const replay = new ReplaySession({
      replaySessionId: 9n, recordingId: 4, publication, reader: new RecordingReader(files, DIR, layout, 0, 8192), endPosition: 1024,
      limit: { position: () => 1024, isFinal: () => true }, connectDeadlineNs: start + 200e6, connectTimeoutMs: 200,
      listener: { onReplayDone: (_s, error) => errors.push(error) },
    });
    await waitFor(() => {
      replay.doWork(skein.client.nanoTime());
      return errors.length === 1;
    }, 5000, 'the replay to give up');
    const error = errors[0]!;
    assert.ok(error instanceof SkeinError && error.code === ErrorCode.TIMEOUT);
    assert.match(error.message, /no connection established for replayChannel=aeron:udp\?endpoint=127\.0\.0\.1:\d+ within connectTimeoutMs=200/);
    assert.equal(error.subject.state, 'CONNECTING');
    assert.ok(publication.isClosed, 'the replay publication is closed');
    replay.stop();
    assert.equal(errors.length, 1, 'done once');
  } finally {
    await skein.close();
  }
});
