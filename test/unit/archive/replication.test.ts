/**
 * Replication between two archives over the wire (two drivers, UDP): a stopped recording is
 * copied whole, then continued after the source was extended; a live recording is copied and
 * merged with the live stream; a tagged replication records through a tagged multi-destination
 * subscription; failures (unknown source recording, unreachable source, unknown replication,
 * a destination that is recording) come back with Aeron's error codes. The destination's segment
 * bytes equal the source's, position for position.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Skein } from '../../../src/skein.js';
import { Archive } from '../../../src/archive/archive.js';
import { ArchiveClient, ArchiveRequestError, type RecordingSignalEvent } from '../../../src/archive/archive-client.js';
import type { RecordingDescriptor } from '../../../src/archive/catalog.js';
import { segmentFileName } from '../../../src/archive/segment-files.js';
import type { Publication } from '../../../src/client/publication.js';
import { SkeinError } from '../../../src/util/errors.js';
import { freeUdpPort, waitFor } from '../../support/wait.js';

const STREAM = 1002;

/** The recorded bytes of [from, to) of a recording (segments of `segmentLength`, recording starting at 0). */
function recordedBytes(dir: string, recordingId: number, from: number, to: number, segmentLength: number): Buffer {
  const parts: Buffer[] = [];
  for (let position = from; position < to; ) {
    const base = Math.floor(position / segmentLength) * segmentLength;
    const file = readFileSync(join(dir, segmentFileName(recordingId, base)));
    const end = Math.min(to, base + segmentLength);
    parts.push(file.subarray(position - base, end - base));
    position = end;
  }
  return Buffer.concat(parts);
}

async function publish(publication: Publication, first: number, count: number): Promise<void> {
  for (let i = first; i < first + count; i++) {
    const m = new Uint8Array(24 + ((i * 131) % 700));
    new DataView(m.buffer).setUint32(0, i, true);
    for (let j = 4; j < m.length; j++) m[j] = (i ^ j) & 0xff;
    await waitFor(() => publication.offer(m) >= 0, 5000, `offer ${i}`);
  }
}

function signalsOf(signals: RecordingSignalEvent[], replicationId: number): string[] {
  return signals.filter((s) => s.correlationId === replicationId).map((s) => s.signal);
}

async function until<T>(what: string, get: () => Promise<T>, ok: (value: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await get();
    if (ok(value)) return value;
    if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(value)} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('replication: whole, continued, live with merge, tagged, and its failures', { timeout: 120_000 }, async () => {
  const srcDir = mkdtempSync(join(tmpdir(), 'skein-repl-src-'));
  const dstDir = mkdtempSync(join(tmpdir(), 'skein-repl-dst-'));
  const srcSkein = Skein.launch({ testProfile: true, seed: 101 });
  const dstSkein = Skein.launch({ testProfile: true, seed: 102 });
  const archives: Archive[] = [];
  const clients: ArchiveClient[] = [];
  let publishing = false;
  try {
    const segmentFileLength = 64 * 1024;
    const srcControl = `aeron:udp?endpoint=127.0.0.1:${await freeUdpPort()}`;
    const dstControl = `aeron:udp?endpoint=127.0.0.1:${await freeUdpPort()}`;
    archives.push(await Archive.launch(srcSkein.client, { dir: srcDir, controlChannel: srcControl, segmentFileLength, lowStorageSpaceThreshold: 0, seed: 11 }));
    archives.push(
      await Archive.launch(dstSkein.client, {
        dir: dstDir, controlChannel: dstControl, segmentFileLength, lowStorageSpaceThreshold: 0, seed: 12, messageTimeoutNs: 2_000_000_000,
        replicationChannel: 'aeron:udp?endpoint=127.0.0.1:0', replicationResponseChannel: `aeron:udp?endpoint=127.0.0.1:${await freeUdpPort()}`,
      }),
    );
    const src = await ArchiveClient.connect(srcSkein.client, { controlRequestChannel: srcControl, controlResponseChannel: `aeron:udp?endpoint=127.0.0.1:${await freeUdpPort()}`, messageTimeoutMs: 5000 });
    clients.push(src);
    const signals: RecordingSignalEvent[] = [];
    const errors: SkeinError[] = [];
    const dst = await ArchiveClient.connect(dstSkein.client, {
      controlRequestChannel: dstControl, controlResponseChannel: `aeron:udp?endpoint=127.0.0.1:${await freeUdpPort()}`, messageTimeoutMs: 5000,
      onRecordingSignal: (s) => signals.push(s), onError: (e) => errors.push(e),
    });
    clients.push(dst);

    // --- A stopped recording, copied whole.
    const channel = `aeron:udp?endpoint=127.0.0.1:${await freeUdpPort()}`;
    await src.startRecording(channel, STREAM, 'REMOTE');
    const publication = await srcSkein.addExclusivePublication(channel, STREAM);
    await publish(publication, 0, 400);
    const end1 = publication.position;
    await until('source recorded', () => src.getRecordingPosition(0), (p) => p === end1);
    await src.stopRecording(channel, STREAM);
    const source = await until('source stopped', () => src.listRecording(0), (d) => d !== null && d.stopPosition === end1);

    const replicationId = await dst.replicate(0, 10, srcControl);
    await waitFor(() => signalsOf(signals, replicationId).includes('REPLICATE_END'), 20_000, 'REPLICATE_END of the first replication');
    const first = signalsOf(signals, replicationId);
    assert.deepEqual(first.filter((s) => s !== 'STOP'), ['REPLICATE', 'EXTEND', 'SYNC', 'REPLICATE_END'], `signals ${first.join(',')}`);
    assert.equal(first.at(-1), 'REPLICATE_END', 'REPLICATE_END comes last');
    const copy = await until('copy stopped', () => dst.listRecording(0), (d) => d !== null && d.stopPosition === end1);
    const same = (d: RecordingDescriptor): unknown[] => [d.startPosition, d.stopPosition, d.initialTermId, d.segmentFileLength, d.termBufferLength, d.mtuLength, d.sessionId, d.streamId, d.strippedChannel, d.originalChannel, d.sourceIdentity];
    assert.deepEqual(same(copy!), same(source!));
    assert.ok(recordedBytes(dstDir, 0, 0, end1, source!.segmentFileLength).equals(recordedBytes(srcDir, 0, 0, end1, source!.segmentFileLength)), 'the copy is byte for byte the source');

    // --- The source is extended; the copy is continued from its stop position.
    await src.extendRecording(0, channel, STREAM, 'REMOTE');
    await publish(publication, 400, 300);
    const end2 = publication.position;
    await until('source extended', () => src.getRecordingPosition(0), (p) => p === end2);
    await src.stopRecording(channel, STREAM);
    await until('source stopped again', () => src.getStopPosition(0), (p) => p === end2);
    const continued = await dst.replicate(0, 10, srcControl, { dstRecordingId: 0 });
    await waitFor(() => signalsOf(signals, continued).includes('REPLICATE_END'), 20_000, 'REPLICATE_END of the continuation');
    assert.deepEqual(signalsOf(signals, continued).filter((s) => s !== 'STOP'), ['EXTEND', 'SYNC', 'REPLICATE_END']);
    await until('copy continued', () => dst.getStopPosition(0), (p) => p === end2);
    assert.ok(recordedBytes(dstDir, 0, 0, end2, source!.segmentFileLength).equals(recordedBytes(srcDir, 0, 0, end2, source!.segmentFileLength)));
    // Nothing new: in sync at once.
    const again = await dst.replicate(0, 10, srcControl, { dstRecordingId: 0 });
    await waitFor(() => signalsOf(signals, again).includes('REPLICATE_END'), 10_000, 'REPLICATE_END of the no-op');
    assert.deepEqual(signalsOf(signals, again), ['SYNC', 'REPLICATE_END']);

    // --- Tagged: recorded through a tagged multi-destination subscription, which a subscription
    // made beforehand with the same tags shares: it receives the replicated stream too.
    const follower = await dstSkein.addSubscription('aeron:udp?control-mode=manual|rejoin=false|tags=7,8', STREAM);
    const followed: number[] = [];
    follower.onFragment((buffer, offset) => followed.push(new DataView(buffer.buffer, buffer.byteOffset + offset, 4).getUint32(0, true)));
    const tagged = await dst.replicate(0, 10, srcControl, { channelTagId: 7, subscriptionTagId: 8, replicationChannel: `aeron:udp?endpoint=127.0.0.1:${await freeUdpPort()}` });
    await waitFor(() => signalsOf(signals, tagged).includes('REPLICATE_END'), 20_000, 'REPLICATE_END of the tagged replication');
    await waitFor(() => followed.length >= 700, 5000, 'the tagged follower to receive the replicated stream');
    assert.deepEqual(followed, Array.from({ length: 700 }, (_, i) => i), 'the follower sees every replicated message once, in order');
    follower.close();
    assert.deepEqual(signalsOf(signals, tagged).filter((s) => s !== 'STOP'), ['REPLICATE', 'EXTEND', 'SYNC', 'REPLICATE_END']);
    const taggedCopy = (await dst.listRecording(1))!;
    assert.equal(taggedCopy.stopPosition, end2);
    assert.equal(taggedCopy.originalChannel, source!.originalChannel, 'a copy is described with the source recording\'s channels');
    assert.ok(recordedBytes(dstDir, 1, 0, end2, source!.segmentFileLength).equals(recordedBytes(srcDir, 0, 0, end2, source!.segmentFileLength)));

    // --- Live: the source is recording a live MDC stream; the copy catches up and merges with it.
    const mdcControl = `127.0.0.1:${await freeUdpPort()}`;
    const liveChannel = `aeron:udp?control=${mdcControl}|control-mode=dynamic|ssc=true`;
    await src.startRecording(liveChannel, STREAM + 1, 'LOCAL');
    const live = await srcSkein.addExclusivePublication(liveChannel, STREAM + 1);
    await publish(live, 0, 300);
    const liveRecording = (await src.listRecordingsForUri(0, 10, `control=${mdcControl}`, STREAM + 1))[0]!.recordingId;
    publishing = true;
    let next = 300;
    const background = (async () => {
      while (publishing) {
        await publish(live, next, 5);
        next += 5;
        await new Promise((r) => setTimeout(r, 3));
      }
    })();
    const merged = await dst.replicate(liveRecording, 10, srcControl, {
      liveDestination: `aeron:udp?endpoint=127.0.0.1:${await freeUdpPort()}|control=${mdcControl}`,
      replicationChannel: `aeron:udp?endpoint=127.0.0.1:${await freeUdpPort()}`,
    });
    await waitFor(() => signalsOf(signals, merged).includes('REPLICATE_END'), 30_000, 'REPLICATE_END of the live replication');
    assert.deepEqual(signalsOf(signals, merged), ['REPLICATE', 'EXTEND', 'MERGE', 'REPLICATE_END'], `signals ${signalsOf(signals, merged).join(',')}`);
    const liveCopyId = signals.find((s) => s.correlationId === merged && s.signal === 'REPLICATE')!.recordingId;
    const liveCopy = await dst.listRecording(liveCopyId);
    assert.ok(liveCopy !== null && liveCopy.streamId === STREAM + 1, 'the live copy is in the catalog');
    // A tagged replication following the live recording: its recording subscription is a tagged
    // multi-destination one, and it runs until it is stopped.
    const follow = await dst.replicate(liveRecording, 10, srcControl, { channelTagId: 7, subscriptionTagId: 8, replicationChannel: `aeron:udp?endpoint=127.0.0.1:${await freeUdpPort()}` });
    const tagSubscriptions = await until('the tagged recording subscription', () => dst.listRecordingSubscriptions(0, 10, 'tags=7,8', STREAM + 1, true), (l) => l.length === 1);
    assert.match(tagSubscriptions[0]!.strippedChannel, /control-mode=manual/);
    await waitFor(() => signalsOf(signals, follow).includes('EXTEND'), 10_000, 'the following copy records');
    await dst.stopReplication(follow);
    await waitFor(() => signalsOf(signals, follow).includes('REPLICATE_END'), 10_000, 'REPLICATE_END of the stopped replication');
    await until('the tagged subscription is gone', () => dst.listRecordingSubscriptions(0, 10, 'tags=7,8', STREAM + 1, true), (l) => l.length === 0);

    // After the merge the copy goes on from the live stream alone.
    const mergedAt = next;
    await waitFor(() => next >= mergedAt + 200, 20_000, 'more live traffic after the merge');
    publishing = false;
    await background;
    const liveEnd = live.position;
    await until('source has it all', () => src.getRecordingPosition(liveRecording), (p) => p === liveEnd);
    await until('the copy has it all, from the live stream', () => dst.getRecordingPosition(liveCopy!.recordingId), (p) => p === liveEnd);
    assert.equal(archives[1]!.activeReplayCount + archives[0]!.activeReplayCount, 0, 'no replay left running');
    const liveSource = (await src.listRecording(liveRecording))!;
    assert.ok(
      recordedBytes(dstDir, liveCopy!.recordingId, 0, liveEnd, liveSource.segmentFileLength).equals(recordedBytes(srcDir, liveRecording, 0, liveEnd, liveSource.segmentFileLength)),
      'the live copy is byte for byte the source',
    );
    live.close();
    await until('the copy stops with the live stream', () => dst.getStopPosition(liveCopy!.recordingId), (p) => p === liveEnd);

    // --- Failures.
    const unknownSource = await dst.replicate(99, 10, srcControl);
    await waitFor(() => errors.some((e) => e.subject?.correlationId === unknownSource), 10_000, 'the unknown-source error');
    const unknownError = errors.find((e) => e.subject?.correlationId === unknownSource) as ArchiveRequestError;
    assert.equal(unknownError.archiveErrorCode, 5);
    assert.match(unknownError.message, /unknown src recording id 99/);
    await waitFor(() => signalsOf(signals, unknownSource).includes('REPLICATE_END'), 10_000, 'REPLICATE_END after the failure');

    const nowhere = await dst.replicate(0, 10, `aeron:udp?endpoint=127.0.0.1:${await freeUdpPort()}`);
    await waitFor(() => errors.some((e) => e.subject?.correlationId === nowhere), 15_000, 'the connection failure');
    const nowhereError = errors.find((e) => e.subject?.correlationId === nowhere) as ArchiveRequestError;
    assert.equal(nowhereError.archiveErrorCode, 14, nowhereError.message);
    assert.match(nowhereError.message, /Replication connection failed/);

    await assert.rejects(dst.stopReplication(12345), (e: unknown) => e instanceof ArchiveRequestError && e.archiveErrorCode === 12 && /unknown replication id 12345/.test(e.message));
    await assert.rejects(dst.replicate(0, 10, srcControl, { dstRecordingId: 77 }), (e: unknown) => e instanceof ArchiveRequestError && e.archiveErrorCode === 5);
    await assert.rejects(
      dst.replicate(0, 10, srcControl, { liveDestination: 'aeron:udp?endpoint=127.0.0.1:9', replicationChannel: 'aeron:udp?endpoint=127.0.0.1:0' }),
      (e: unknown) => e instanceof ArchiveRequestError && /port other than 0/.test(e.message),
    );
  } finally {
    publishing = false;
    for (const c of clients) await c.close();
    for (const a of archives) a.close();
    await dstSkein.close();
    await srcSkein.close();
    rmSync(srcDir, { recursive: true, force: true });
    rmSync(dstDir, { recursive: true, force: true });
  }
});
