/**
 * An archive and its clients over the control protocol on the wire (UDP, two drivers): clients
 * connect, two of them on one response channel each get only their own answers, a recording of
 * a UDP stream is started, queried, listed, stopped and replayed byte for byte, an archive error
 * comes back as ERR_SKEIN_ARCHIVE_REQUEST_FAILED with Aeron's code, and closing a client ends its
 * session at once (and waiting for that end is not counted as work).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Skein } from '../../../src/skein.js';
import { Archive } from '../../../src/archive/archive.js';
import { ArchiveClient, ArchiveRequestError, type RecordingSignalEvent } from '../../../src/archive/archive-client.js';
import type { ControlSessionEnd } from '../../../src/archive/control-session.js';
import { FragmentAssembler } from '../../../src/logbuffer/fragment-assembler.js';
import { ErrorCode, SkeinError } from '../../../src/util/errors.js';
import { freeUdpPort, waitFor } from '../../support/wait.js';

function messageOf(i: number): Uint8Array {
  const m = new Uint8Array(16 + ((i * 613) % 900));
  new DataView(m.buffer).setUint32(0, i, true);
  for (let j = 4; j < m.length; j++) m[j] = (i + j * 3) & 0xff;
  return m;
}

test('clients connect, record, list, stop, replay and close over the wire', { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'skein-archive-client-'));
  const archiveSkein = Skein.launch({ testProfile: true, seed: 81 });
  const clientSkein = Skein.launch({ testProfile: true, seed: 82 });
  const ends: [number, ControlSessionEnd][] = [];
  let archive: Archive | null = null;
  try {
    const controlPort = await freeUdpPort();
    archive = await Archive.launch(archiveSkein.client, {
      dir, controlChannel: `aeron:udp?endpoint=127.0.0.1:${controlPort}`, segmentFileLength: 64 * 1024, lowStorageSpaceThreshold: 0, seed: 5,
      onSessionEnd: (id, end) => ends.push([id, end]),
    });
    const responsePort = await freeUdpPort();
    const options = {
      controlRequestChannel: `aeron:udp?endpoint=127.0.0.1:${controlPort}`,
      controlResponseChannel: `aeron:udp?endpoint=127.0.0.1:${responsePort}`,
      messageTimeoutMs: 5000,
    };
    const signals: RecordingSignalEvent[] = [];
    const a = await ArchiveClient.connect(clientSkein.client, { ...options, onRecordingSignal: (s) => signals.push(s) });
    const b = await ArchiveClient.connect(clientSkein.client, options);
    assert.equal(a.state, 'CONNECTED');
    assert.notEqual(a.controlSessionId, b.controlSessionId);
    assert.equal(a.archiveId, archive.archiveId);
    assert.equal(a.archiveVersion, 0x010c00);
    assert.equal(archive.controlSessionCount, 2);

    const streamPort = await freeUdpPort();
    const channel = `aeron:udp?endpoint=127.0.0.1:${streamPort}`;
    const subscriptionId = await a.startRecording(channel, 1001, 'REMOTE');
    const publication = await clientSkein.addExclusivePublication(channel, 1001);
    await waitFor(() => signals.some((s) => s.signal === 'START'), 5000, 'START');
    assert.equal(signals[0]!.subscriptionId, subscriptionId);
    const count = 300;
    for (let i = 0; i < count; i++) {
      const m = messageOf(i);
      await waitFor(() => publication.offer(m) >= 0, 5000, `offer ${i}`);
    }
    const end = publication.position;
    await waitFor(() => false, 0).catch(() => undefined);
    let position = -1;
    for (let i = 0; i < 500 && position !== end; i++) {
      position = await a.getRecordingPosition(0);
      if (position !== end) await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal(position, end);
    // b asks at the same time on the same response channel: each gets its own answers.
    const [listedA, listedB] = await Promise.all([a.listRecordings(0, 10), b.listRecordings(0, 10)]);
    assert.equal(listedA.length, 1);
    assert.equal(listedB.length, 1);
    assert.equal(listedA[0]!.controlSessionId, a.controlSessionId, 'the descriptor says which session started the recording');
    assert.equal(listedA[0]!.streamId, 1001);
    assert.equal(listedA[0]!.strippedChannel, channel);
    assert.equal((await b.listRecording(0))!.recordingId, 0);
    assert.equal(await b.listRecording(5), null);
    assert.equal(await b.findLastMatchingRecording(0, `${streamPort}`, 1001, publication.sessionId), 0);
    const unknown = await b.getStopPosition(9).catch((e: unknown) => e);
    assert.ok(unknown instanceof ArchiveRequestError && unknown.code === ErrorCode.ARCHIVE_REQUEST_FAILED && unknown.archiveErrorCode === 5, String(unknown));
    assert.match(unknown.message, /getStopPosition 9 failed: UNKNOWN_RECORDING: unknown recording id: 9/);

    await a.stopRecordingSubscription(subscriptionId);
    await waitFor(() => signals.some((s) => s.signal === 'STOP'), 5000, 'STOP');
    assert.equal(signals.find((s) => s.signal === 'STOP')!.position, end);
    assert.equal(await a.getStopPosition(0), end);

    const replayPort = await freeUdpPort();
    const replaySessionId = await b.replay(0, 0, -2, `aeron:udp?endpoint=127.0.0.1:${replayPort}`, 2002);
    const replayed = await clientSkein.addSubscription(`aeron:udp?endpoint=127.0.0.1:${replayPort}|session-id=${Number(replaySessionId & 0xffffffffn) | 0}`, 2002);
    const got: Uint8Array[] = [];
    const assembler = new FragmentAssembler((buf: Uint8Array, off: number, len: number) => got.push(buf.slice(off, off + len)));
    await waitFor(() => {
      replayed.poll(assembler.onFragment, 100);
      return got.length === count;
    }, 10_000, 'the replay');
    for (let i = 0; i < count; i++) assert.ok(Buffer.from(messageOf(i)).equals(got[i]!), `message ${i}`);

    await a.close();
    await a.close();
    await waitFor(() => ends.some(([id]) => id === a.controlSessionId), 2000, "a's session to end");
    const endA = ends.find(([id]) => id === a.controlSessionId)![1];
    assert.equal(endA.reason, 'session closed');
    assert.equal(endA.normal, true);
    await assert.rejects(a.listRecordings(0, 1), (e: unknown) => e instanceof SkeinError && e.code === ErrorCode.NOT_CONNECTED && /the archive client is CLOSED/.test(e.message));
    assert.equal(archive.controlSessionCount, 1);
    // Waiting for the archive to end the session is not work: a runner may idle meanwhile instead
    // of keeping a core busy until the session's response stream goes.
    const closingB = b.close();
    assert.equal(b.doWork(clientSkein.client.nanoTime()), 0, 'a closing client with nothing to read reports no work');
    await closingB;
    assert.equal(b.state, 'CLOSED');
  } finally {
    archive?.close();
    await clientSkein.close();
    await archiveSkein.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a connect to no archive times out naming the step and the request channel', async () => {
  const skein = Skein.launch({ testProfile: true, seed: 83 });
  try {
    const port = await freeUdpPort();
    const error = await ArchiveClient.connect(skein.client, { controlRequestChannel: `aeron:udp?endpoint=127.0.0.1:${port}`, controlResponseChannel: 'aeron:udp?endpoint=127.0.0.1:0', messageTimeoutMs: 300 }).catch((e: unknown) => e);
    assert.ok(error instanceof SkeinError && error.code === ErrorCode.TIMEOUT, String(error));
    assert.match(error.message, new RegExp(`archive connect timeout: step=AWAIT_CONNECTED requestChannel=aeron:udp\\?endpoint=127\\.0\\.0\\.1:${port} requestStreamId=10 within messageTimeoutMs=300`));
  } finally {
    await skein.close();
  }
});

test('recording events: RecordingStarted, RecordingProgress up to the end, RecordingStopped', { timeout: 30_000 }, async () => {
  const codecs = await import('../../../src/archive/codecs/archive-codecs.js');
  const dir = mkdtempSync(join(tmpdir(), 'skein-archive-events-'));
  const skein = Skein.launch({ testProfile: true, seed: 84 });
  let archive: Archive | null = null;
  try {
    const controlPort = await freeUdpPort();
    const eventsPort = await freeUdpPort();
    const events = await skein.addSubscription(`aeron:udp?endpoint=127.0.0.1:${eventsPort}`, 30);
    archive = await Archive.launch(skein.client, {
      dir, controlChannel: `aeron:udp?endpoint=127.0.0.1:${controlPort}`, lowStorageSpaceThreshold: 0, segmentFileLength: 64 * 1024,
      recordingEventsEnabled: true, recordingEventsChannel: `aeron:udp?endpoint=127.0.0.1:${eventsPort}`,
    });
    await events.connected({ timeoutMs: 5000 });
    const client = await ArchiveClient.connect(skein.client, { controlRequestChannel: `aeron:udp?endpoint=127.0.0.1:${controlPort}`, controlResponseChannel: 'aeron:udp?endpoint=127.0.0.1:0' });
    const seen: { template: number; recordingId: number; a: number; b: number; text?: string }[] = [];
    const header = new codecs.MessageHeaderDecoder();
    const started = new codecs.RecordingStartedDecoder();
    const progress = new codecs.RecordingProgressDecoder();
    const stopped = new codecs.RecordingStoppedDecoder();
    const poll = (): number =>
      events.poll((b, o, l) => {
        const t = header.wrap(b, o, l).templateId();
        if (t === codecs.RecordingStartedDecoder.TEMPLATE_ID) {
          const d = started.wrapAndCheckHeader(b, o, l);
          seen.push({ template: t, recordingId: d.recordingIdAsNumber(), a: d.startPositionAsNumber(), b: d.streamId(), text: d.channel() });
        } else if (t === codecs.RecordingProgressDecoder.TEMPLATE_ID) {
          const d = progress.wrapAndCheckHeader(b, o, l);
          seen.push({ template: t, recordingId: d.recordingIdAsNumber(), a: d.startPositionAsNumber(), b: d.positionAsNumber() });
        } else if (t === codecs.RecordingStoppedDecoder.TEMPLATE_ID) {
          const d = stopped.wrapAndCheckHeader(b, o, l);
          seen.push({ template: t, recordingId: d.recordingIdAsNumber(), a: d.startPositionAsNumber(), b: d.stopPositionAsNumber() });
        }
      }, 100);
    const channel = `aeron:ipc?term-length=65536|alias=events`;
    await client.startRecording(channel, 1001, 'LOCAL');
    const publication = await skein.addExclusivePublication('aeron:ipc?term-length=65536', 1001);
    await waitFor(() => {
      poll();
      return seen.some((e) => e.template === codecs.RecordingStartedDecoder.TEMPLATE_ID);
    }, 5000, 'RecordingStarted');
    for (let i = 0; i < 100; i++) {
      const m = messageOf(i);
      await waitFor(() => {
        poll();
        return publication.offer(m) >= 0;
      }, 5000, 'offer');
    }
    const end = publication.position;
    publication.close();
    await waitFor(() => {
      poll();
      return seen.some((e) => e.template === codecs.RecordingStoppedDecoder.TEMPLATE_ID);
    }, 10_000, 'RecordingStopped');
    const first = seen[0]!;
    assert.deepEqual(first, { template: codecs.RecordingStartedDecoder.TEMPLATE_ID, recordingId: 0, a: 0, b: 1001, text: channel });
    const progressEvents = seen.filter((e) => e.template === codecs.RecordingProgressDecoder.TEMPLATE_ID);
    assert.ok(progressEvents.length > 0);
    assert.ok(progressEvents.every((e, i) => i === 0 || e.b > progressEvents[i - 1]!.b), 'progress only moves forward');
    assert.equal(progressEvents[progressEvents.length - 1]!.b, end);
    assert.deepEqual(seen[seen.length - 1], { template: codecs.RecordingStoppedDecoder.TEMPLATE_ID, recordingId: 0, a: 0, b: end });
    await client.close();
  } finally {
    archive?.close();
    await skein.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
