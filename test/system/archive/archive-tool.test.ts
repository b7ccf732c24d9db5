/**
 * `skein archive-tool` on a real archive directory: describe lists the catalog, verify passes a
 * whole recording and names the file, offset and reason of a damaged one (exit 1), dump prints
 * the frames, count-entries and mark-invalid/mark-valid change what is listed, migrate reports the
 * version, and a directory without a catalog is refused by name.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, openSync, rmSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSkein, stopAll } from '../../support/processes.js';
import { Skein } from '../../../src/skein.js';
import { Catalog } from '../../../src/archive/catalog.js';
import { RecordingWriter } from '../../../src/archive/recording-writer.js';
import { nodeFiles } from '../../../src/env/files.js';
import { waitFor } from '../../support/wait.js';

after(() => stopAll());

const TERM_LENGTH = 64 * 1024;

/** Records `count` messages of an IPC stream into a new archive directory, as the archive would. */
async function archiveWith(dir: string, count: number): Promise<{ stop: number }> {
  const skein = Skein.launch({ testProfile: true, seed: 41 });
  try {
    const channel = `aeron:ipc?term-length=${TERM_LENGTH}`;
    const subscription = await skein.addSubscription(channel, 1001);
    const publication = await skein.addExclusivePublication(channel, 1001);
    await subscription.connected({ timeoutMs: 5000 });
    const image = subscription.images[0]!;
    const catalog = Catalog.open({ files: nodeFiles, archiveDir: dir, syncLevel: 0 });
    const recordingId = catalog.addNewRecording({
      controlSessionId: 1, correlationId: 2, startTimestamp: 1_700_000_000_000, stopTimestamp: -1, startPosition: image.position, stopPosition: -1,
      initialTermId: image.initialTermId, segmentFileLength: 64 * 1024, termBufferLength: TERM_LENGTH, mtuLength: 1408, sessionId: image.sessionId, streamId: 1001,
      strippedChannel: 'aeron:ipc', originalChannel: channel, sourceIdentity: 'aeron:ipc',
    });
    const writer = new RecordingWriter({
      files: nodeFiles, archiveDir: dir, recordingId, startPosition: image.position, position: image.position,
      initialTermId: image.initialTermId, termLength: TERM_LENGTH, segmentLength: 64 * 1024, fileSyncLevel: 0,
    });
    for (let i = 0; i < count; i++) {
      const m = new Uint8Array(100 + (i % 7) * 300).fill(i & 0xff);
      await waitFor(() => {
        image.blockPoll(writer.onBlock, 8192);
        return publication.offer(m) >= 0;
      }, 5000, 'offer');
    }
    await waitFor(() => {
      image.blockPoll(writer.onBlock, 8192);
      return image.position === publication.position;
    }, 5000, 'recorded');
    writer.close();
    catalog.recordingStopped(recordingId, image.position, 1_700_000_001_000);
    catalog.addNewRecording({
      controlSessionId: 1, correlationId: 3, startTimestamp: 1_700_000_002_000, stopTimestamp: 1_700_000_002_000, startPosition: 0, stopPosition: 0,
      initialTermId: 0, segmentFileLength: 64 * 1024, termBufferLength: TERM_LENGTH, mtuLength: 1408, sessionId: 5, streamId: 1002,
      strippedChannel: 'aeron:udp?endpoint=localhost:40123', originalChannel: 'aeron:udp?endpoint=localhost:40123', sourceIdentity: '127.0.0.1:5555',
    });
    catalog.close();
    return { stop: image.position };
  } finally {
    await skein.close();
  }
}

async function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const p = startSkein(['archive-tool', ...args]);
  const status = await p.waitForExit(15_000);
  return { code: status.code, stdout: p.stdout, stderr: p.stderr };
}

test('archive-tool describes, verifies, dumps, counts and marks entries of an archive directory', { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'skein-archive-tool-'));
  try {
    const { stop } = await archiveWith(dir, 120);
    const described = await run(['describe', dir, '--json']);
    assert.equal(described.code, 0, described.stderr);
    const catalog = JSON.parse(described.stdout) as { nextRecordingId: number; recordings: { recordingId: number; stopPosition: number; streamId: number }[] };
    assert.equal(catalog.nextRecordingId, 2);
    assert.deepEqual(catalog.recordings.map((r) => [r.recordingId, r.stopPosition, r.streamId]), [[0, stop, 1001], [1, 0, 1002]]);
    const text = await run(['describe', dir, '0']);
    assert.match(text.stdout, /^MarkFile: none$/m, 'written without an archive: no mark file');
    assert.match(text.stdout, /RecordingDescriptor: recordingId=0 .* stopPosition=\d+ .* streamId=1001 strippedChannel=aeron:ipc/);

    const verified = await run(['verify', dir]);
    assert.equal(verified.code, 0, verified.stdout + verified.stderr);
    assert.match(verified.stdout, new RegExp(`recording 0: OK up to ${stop}\\nrecording 1: OK up to 0\\nverified 2 recordings`));

    const dumped = await run(['dump', dir, '0', '--limit', '5', '--json']);
    assert.equal(dumped.code, 0, dumped.stderr);
    const frames = (JSON.parse(dumped.stdout) as { frames: { position: number; type: string; length: number; payload: string }[] }).frames;
    assert.equal(frames.length, 5);
    assert.equal(frames[0]!.type, 'DATA');
    assert.equal(frames[0]!.length, 132);
    assert.equal(frames[0]!.payload, '00'.repeat(16));
    assert.equal(frames[1]!.position, frames[0]!.position + 160);

    // Damage the first frame's term id in the first segment.
    const fd = openSync(join(dir, '0-0.rec'), 'r+');
    writeSync(fd, Buffer.from([0x7f, 0x7f, 0x7f, 0x7f]), 0, 4, 20);
    closeSync(fd);
    const damaged = await run(['verify', dir, '0', '--json']);
    assert.equal(damaged.code, 1);
    const report = JSON.parse(damaged.stdout) as { verified: boolean; recordings: { problems: { file: string; fileOffset: number; reason: string }[] }[] };
    assert.equal(report.verified, false);
    assert.equal(report.recordings[0]!.problems[0]!.file, '0-0.rec');
    assert.equal(report.recordings[0]!.problems[0]!.fileOffset, 0);
    assert.match(report.recordings[0]!.problems[0]!.reason, /term id 2139062143 where -?\d+ belongs/);

    assert.deepEqual(JSON.parse((await run(['count-entries', dir, '--json'])).stdout), { entries: 2, INVALID: 0, VALID: 2, DELETED: 0 });
    assert.match((await run(['mark-invalid', dir, '1'])).stdout, /recording 1: VALID -> INVALID/);
    assert.deepEqual(JSON.parse((await run(['count-entries', dir, '--json'])).stdout), { entries: 2, INVALID: 1, VALID: 1, DELETED: 0 });
    const gone = await run(['describe', dir, '1']);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /recording 1 is not a valid recording of this catalog \(state INVALID\)/);
    assert.match((await run(['mark-valid', dir, '1'])).stdout, /recording 1: INVALID -> VALID/);
    assert.match((await run(['migrate', dir])).stdout, /current version 3\.1\.0: nothing to migrate/);
    const unknown = await run(['mark-valid', dir, '9']);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /recording 9 has no entry in this catalog \(2 entries\)/);
    const empty = mkdtempSync(join(tmpdir(), 'skein-archive-tool-empty-'));
    const none = await run(['describe', empty]);
    rmSync(empty, { recursive: true, force: true });
    assert.equal(none.code, 1);
    assert.match(none.stderr, /no archive in '.*': archive\.catalog is missing/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
