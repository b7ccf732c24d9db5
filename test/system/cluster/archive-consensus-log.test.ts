/**
 * The consensus log as an archive recording, with a real Skein and archive: entries of every size
 * (padded at term ends, fragmented) land in the recording at the positions the log gives them and
 * become durable as the archive records them; a truncation below what was recorded stops,
 * truncates and extends the one recording; the log reads back whole after a close and after its
 * Skein and archive are destroyed under it (a crash), from the same recording.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Skein } from '../../../src/skein.js';
import { Archive } from '../../../src/archive/archive.js';
import { ArchiveClient } from '../../../src/archive/archive-client.js';
import { nodeFiles } from '../../../src/env/files.js';
import { ArchiveConsensusLog } from '../../../src/cluster/archive-consensus-log.js';
import { ArchiveSnapshotStore, DEFAULT_SNAPSHOT_STREAM_ID } from '../../../src/cluster/archive-snapshot-store.js';
import { ErrorCode, SkeinError } from '../../../src/util/errors.js';
import type { ConsensusLog } from '../../../src/cluster/consensus/consensus-log.js';
import { waitFor } from '../../support/wait.js';

const ipc = 'aeron:ipc?term-length=64k';

async function start(root: string, seed: number, retainedBytes?: number): Promise<{ skein: Skein; archive: Archive; client: ArchiveClient; log: ArchiveConsensusLog }> {
  const skein = Skein.launch({ testProfile: true, seed, dir: join(root, `skein-${seed}`) });
  try {
    const archive = await Archive.launch(skein.client, { dir: join(root, 'archive'), controlChannelEnabled: false, localControlChannel: ipc, lowStorageSpaceThreshold: 0, segmentFileLength: 256 * 1024 });
    const client = await ArchiveClient.connect(skein.client, { controlRequestChannel: ipc, controlRequestStreamId: 10, controlResponseChannel: ipc, controlResponseStreamId: 20 });
    const release = retainedBytes === undefined ? {} : { archiveDir: archive.settings.dir, retainedBytes };
    const log = await ArchiveConsensusLog.open({ client: skein.client, archive: client, files: nodeFiles, dir: join(root, 'member'), termLength: 64 * 1024, mtu: 1408, ...release });
    return { skein, archive, client, log };
  } catch (error) {
    skein.destroy();
    throw error;
  }
}

/** Closes the log, its archive client, the archive and the Skein, in that order. */
async function stop(r: Awaited<ReturnType<typeof start>>): Promise<void> {
  r.log.close();
  await r.client.close().catch(() => {});
  r.archive.close();
  await r.skein.close();
}

const data = (i: number): Uint8Array => new Uint8Array(i % 5 === 0 ? 1500 + ((i * 977) % 4000) : 10 + (i % 200)).fill(i & 0xff);

function content(log: ConsensusLog) {
  return { end: log.appendPosition, term: log.logTermId, candidate: log.candidateTermId, entries: log.entriesFrom(0, Infinity).map((e) => [e.termId, e.position, e.length, e.data.length, e.data[0]]) };
}

test('the consensus log as an archive recording: placed, recorded, truncated, read back after a close and after a crash', { timeout: 120_000 }, async () => {
  const root = mkdtempSync(join(tmpdir(), 'skein-archive-log-'));
  let running: Awaited<ReturnType<typeof start>> | null = null;
  try {
    running = await start(root, 1);
    let { log } = running;
    assert.equal(log.appendPosition, 0);
    log.candidateTermId = 2;
    log.joinTerm(2, 0);
    for (let i = 0; i < 150; i++) log.append(2, data(i));
    await waitFor(() => log.durablePosition === log.appendPosition, 20_000, 'the archive records every entry');
    const entries = log.entriesFrom(0, Infinity);
    assert.ok(entries.some((e, i) => i > 0 && e.position !== entries[i - 1]!.position + entries[i - 1]!.length), 'an entry was placed after padding at a term end');
    assert.ok(entries.some((e) => e.data.length > 1376), 'and some were fragmented');
    const recording = log.recordingId;
    const descriptor = await running.client.listRecording(recording);
    assert.equal(descriptor!.termBufferLength, 64 * 1024);
    assert.equal(await running.client.getRecordingPosition(recording), log.appendPosition, 'recording position = log position');

    // Truncate below what was recorded (as a follower whose entries were not the leader's), then go on in a newer term.
    const keep = entries[99]!.position + entries[99]!.length;
    log.truncate(keep);
    log.joinTerm(4, keep);
    for (let i = 0; i < 20; i++) log.append(4, data(1000 + i));
    await waitFor(() => log.state === 'WRITING' && log.durablePosition === log.appendPosition, 20_000, 'the recording truncated, extended and caught up');
    assert.equal(log.recordingId, recording, 'still the one recording');
    assert.equal(await running.client.getRecordingPosition(recording), log.appendPosition);
    const before = content(log);

    // An orderly close, then open again: the same log, from the same recording.
    log.close();
    await running.client.close();
    running.archive.close();
    await running.skein.close();
    running = await start(root, 2);
    log = running.log;
    assert.deepEqual(content(log), before);
    assert.equal(before.entries.length, 120);
    assert.deepEqual([before.term, before.candidate], [4, 2], 'the terms and the candidate term from the state file');
    assert.equal(log.recordingId, recording);
    assert.equal((await running.client.listRecordings(0, 10)).length, 1, 'one recording holds the whole history');

    // A crash: the Skein (driver, archive, member) goes away under the log; what was recorded comes back.
    for (let i = 0; i < 30; i++) log.append(4, data(2000 + i));
    await waitFor(() => log.durablePosition === log.appendPosition, 20_000, 'recorded before the crash');
    const recorded = content(log);
    running.skein.destroy();
    // Read back from the segment files this time (the archive's directory given), releasing as it reads.
    running = await start(root, 3, 1024);
    assert.ok(running.log.releasedPosition > 0, 'most of the log left memory as it was read');
    assert.deepEqual(content(running.log), recorded);
    assert.equal(recorded.entries.length, 150);
    assert.equal(running.log.failure, null);
  } finally {
    if (running !== null) await stop(running);
    rmSync(root, { recursive: true, force: true });
  }
});

test('entries applied long ago leave memory and are read back from the recording, in batches too, before and after a restart', { timeout: 120_000 }, async () => {
  const root = mkdtempSync(join(tmpdir(), 'skein-archive-log-release-'));
  let running: Awaited<ReturnType<typeof start>> | null = null;
  const batches = (log: ConsensusLog) => {
    const out: unknown[] = [];
    let at = 0;
    for (let e = log.entriesFrom(at, 16 * 1024); e.length > 0; e = log.entriesFrom(at, 16 * 1024)) {
      assert.equal(e[0]!.position >= at, true);
      out.push(...e.map((x) => [x.termId, x.position, x.length, x.data.length, x.data[0]]));
      at = e[e.length - 1]!.position + e[e.length - 1]!.length;
    }
    return out;
  };
  try {
    running = await start(root, 11, 8 * 1024);
    let { log } = running;
    log.joinTerm(1, 0);
    for (let i = 0; i < 100; i++) log.append(1, data(i));
    log.joinTerm(3, log.appendPosition);
    for (let i = 100; i < 200; i++) log.append(3, data(i));
    const whole = content(log);
    log.releaseBefore(log.appendPosition);
    assert.equal(log.releasedPosition, 0, 'nothing leaves memory before the archive has recorded it');
    await waitFor(() => log.durablePosition === log.appendPosition, 20_000, 'the archive records every entry');
    log.releaseBefore(log.appendPosition);
    assert.ok(log.releasedPosition > log.appendPosition - 32 * 1024, `released to ${log.releasedPosition} of ${log.appendPosition}`);
    assert.ok(log.heldEntries < 40, `${log.heldEntries} entries held`);
    assert.deepEqual(content(log), whole, 'read back whole from the recording (padding, fragments, both terms)');
    assert.deepEqual(batches(log), whole.entries, 'and in 16 KiB batches, as a leader streams to a follower far behind');
    for (const [, position] of whole.entries as [number, number][]) assert.equal(log.entryFrom(position)!.position, position);
    // Below memory, entry ends are told from the recording: every entry's end is one (the last of a
    // term too, where padding follows), a position inside an entry is not.
    let padded = 0;
    for (const [, position, length] of whole.entries as [number, number, number][]) {
      const end = position + length;
      if (end >= log.releasedPosition) break;
      if (end % (64 * 1024) !== 0 && log.entryFrom(end)!.position !== end) padded++;
      assert.equal(log.isEntryEnd(end), true, `the entry ending at ${end}`);
      assert.equal(log.isEntryEnd(position + 32), false, `inside the entry at ${position}`);
    }
    assert.ok(padded > 0, 'some entry below memory is followed by padding');
    // Appends go on after a release; a restart reads the same log back.
    for (let i = 200; i < 220; i++) log.append(3, data(i));
    await waitFor(() => log.durablePosition === log.appendPosition, 20_000, 'recorded');
    const after = content(log);
    await stop(running);
    running = await start(root, 12, 8 * 1024);
    log = running.log;
    assert.deepEqual(content(log), after);
    for (let i = 220; i < 240; i++) log.append(3, data(i));
    await waitFor(() => log.durablePosition === log.appendPosition, 20_000, 'recorded after the restart');
    log.releaseBefore(log.appendPosition);
    assert.ok(log.releasedPosition > 0);
    assert.deepEqual(batches(log), content(log).entries);
    assert.equal(log.failure, null);
  } finally {
    if (running !== null) await stop(running);
    rmSync(root, { recursive: true, force: true });
  }
});

test('snapshots as archive recordings: written in order between SnapshotMarkers, read back whole; one cut short is refused', { timeout: 60_000 }, async () => {
  const root = mkdtempSync(join(tmpdir(), 'skein-archive-snapshots-'));
  const running = await start(root, 7);
  try {
    const store = new ArchiveSnapshotStore({ client: running.skein.client, archive: running.client });
    const big = Uint8Array.from({ length: 20_000 }, (_, i) => (i * 7) & 0xff);
    const meta = { position: 4096, termId: 3, timestamp: 1 };
    const [a, b, c] = await Promise.all([store.write(big, { ...meta, serviceId: 0 }), store.write(new Uint8Array(0), { ...meta, serviceId: -1 }), store.write(Uint8Array.of(1, 2, 3), { ...meta, serviceId: 0 })]);
    assert.ok(a! < b! && b! < c!, `recordings in the order written: ${a}, ${b}, ${c}`);
    const again = new ArchiveSnapshotStore({ client: running.skein.client, archive: running.client });
    assert.equal(again.read(a!), undefined, 'nothing before it is fetched');
    assert.deepEqual(await again.prefetch(a!), big);
    assert.deepEqual(again.read(a!), big);
    assert.deepEqual(await again.prefetch(b!), new Uint8Array(0));
    assert.deepEqual(await again.prefetch(c!), Uint8Array.of(1, 2, 3));
    // A recording of the snapshot stream that is not a whole snapshot (no END marker).
    await running.client.startRecording('aeron:ipc', DEFAULT_SNAPSHOT_STREAM_ID, 'LOCAL', true);
    const publication = await running.skein.addExclusivePublication('aeron:ipc?term-length=64k', DEFAULT_SNAPSHOT_STREAM_ID);
    await waitFor(() => publication.offer(Uint8Array.of(9, 9, 9)) >= 0, 5000, 'offer');
    const torn = await (async () => {
      for (;;) {
        const id = await running.client.findLastMatchingRecording(0, 'aeron:ipc', DEFAULT_SNAPSHOT_STREAM_ID, publication.sessionId);
        if (id >= 0 && (await running.client.getRecordingPosition(id)) === publication.position) return id;
      }
    })();
    publication.close();
    await assert.rejects(again.prefetch(torn), (e: unknown) => e instanceof SkeinError && e.code === ErrorCode.SNAPSHOT_INVALID && /does not begin with a SnapshotMarker BEGIN/.test(e.message));
    await assert.rejects(again.prefetch(999), /snapshot recording 999 is not in the archive/);
  } finally {
    running.log.close();
    await running.client.close().catch(() => {});
    running.archive.close();
    await running.skein.close();
    rmSync(root, { recursive: true, force: true });
  }
});
