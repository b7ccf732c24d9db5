/**
 * A full disk, for real: the archive directory is a 3 MiB tmpfs the test mounts (root only; CI
 * runs as root). A recording that outgrows it stops with ERR STORAGE_SPACE naming ENOSPC and the
 * position, and a STOP signal; the catalog holds that stop position; `verify` finds the recording
 * whole; and the replay of what was recorded is the published messages, byte for byte. The mount
 * is removed whatever happens.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Skein } from '../../../src/skein.js';
import { Archive } from '../../../src/archive/archive.js';
import { ArchiveClient, ArchiveRequestError, type RecordingSignalEvent } from '../../../src/archive/archive-client.js';
import { verifyRecording } from '../../../src/archive/segment-scan.js';
import { readMarkFileErrors } from '../../../src/archive/archive-mark-file.js';
import { nodeFiles } from '../../../src/env/files.js';
import { FragmentAssembler } from '../../../src/logbuffer/fragment-assembler.js';
import type { SkeinError } from '../../../src/util/errors.js';
import { freeUdpPort, waitFor } from '../../support/wait.js';

function messageOf(i: number): Uint8Array {
  const m = new Uint8Array(900);
  new DataView(m.buffer).setUint32(0, i, true);
  for (let j = 4; j < m.length; j++) m[j] = (i * 13 + j) & 0xff;
  return m;
}

function tryMount(dir: string): string | null {
  if (process.getuid?.() !== 0) return 'needs root to mount a tmpfs';
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=3m', 'tmpfs', dir], { stdio: 'pipe' });
    return null;
  } catch (error) {
    return `mount -t tmpfs failed: ${(error as Error).message}`;
  }
}

test('a recording that fills the disk stops with STORAGE_SPACE and a STOP signal; what it holds is whole and replays byte for byte', { timeout: 60_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'skein-full-disk-'));
  const why = tryMount(dir);
  if (why !== null) {
    rmSync(dir, { recursive: true, force: true });
    t.skip(why);
    return;
  }
  const reported: unknown[] = [];
  const skein = Skein.launch({ testProfile: true, seed: 121, errorHandler: (e) => reported.push(e) });
  let archive: Archive | null = null;
  let client: ArchiveClient | null = null;
  try {
    const control = `aeron:udp?endpoint=127.0.0.1:${await freeUdpPort()}`;
    archive = await Archive.launch(skein.client, { dir, controlChannel: control, segmentFileLength: 64 * 1024, lowStorageSpaceThreshold: 0 });
    const signals: RecordingSignalEvent[] = [];
    const errors: SkeinError[] = [];
    client = await ArchiveClient.connect(skein.client, {
      controlRequestChannel: control, controlResponseChannel: `aeron:udp?endpoint=127.0.0.1:${await freeUdpPort()}`,
      onRecordingSignal: (s) => signals.push(s), onError: (e) => errors.push(e),
    });
    const channel = 'aeron:ipc?term-length=64k';
    await client.startRecording(channel, 1005, 'LOCAL');
    const publication = await skein.addExclusivePublication(channel, 1005);
    // More than the filesystem holds; the recording stops part way.
    let sent = 0;
    for (; sent < 6000 && !signals.some((s) => s.signal === 'STOP'); sent++) {
      const m = messageOf(sent);
      await waitFor(() => publication.offer(m) >= 0 || signals.some((s) => s.signal === 'STOP'), 10_000, `offer ${sent}`);
    }
    await waitFor(() => signals.some((s) => s.signal === 'STOP') && errors.length > 0, 10_000, 'the STOP signal and the error');
    const stop = signals.find((s) => s.signal === 'STOP')!;
    const error = errors[0] as ArchiveRequestError;
    assert.ok(error instanceof ArchiveRequestError, String(error));
    assert.equal(error.archiveErrorCode, 11, 'STORAGE_SPACE');
    assert.match(error.message, new RegExp(`recording 0 stopped at position ${stop.position}: .*ENOSPC`));
    assert.ok(stop.position > 1024 * 1024, `a good part was recorded before the disk filled (${stop.position})`);
    assert.ok(stop.position < publication.position, 'the recording stopped before the stream did');
    assert.equal(await client.getStopPosition(0), stop.position, 'the catalog holds the stop position');
    assert.ok(reported.some((e) => /ENOSPC/.test(String(e))), 'the archive reports the failure to its error handler too');
    assert.ok(readMarkFileErrors(nodeFiles, dir).some((e) => /ENOSPC/.test(e.text) && e.observationCount === 1), 'and to the error log of its mark file');

    const d = (await client.listRecording(0))!;
    const layout = { recordingId: 0, startPosition: d.startPosition, initialTermId: d.initialTermId, termLength: d.termBufferLength, segmentLength: d.segmentFileLength, streamId: d.streamId };
    assert.deepEqual(verifyRecording(nodeFiles, dir, layout, stop.position), [], 'verify finds the recording whole');

    // The replay of what was recorded is the published messages, in order, byte for byte.
    const replayed = await skein.addSubscription('aeron:ipc', 2005);
    await client.replay(0, 0, stop.position, 'aeron:ipc', 2005);
    const problems: string[] = [];
    let next = 0;
    const assembler = new FragmentAssembler((buffer, offset, length) => {
      const expected = messageOf(next);
      if (length !== expected.length || !Buffer.from(buffer.subarray(offset, offset + length)).equals(Buffer.from(expected))) problems.push(`message ${next} differs`);
      next++;
    });
    await waitFor(() => {
      replayed.poll(assembler.onFragment, 100);
      return replayed.images[0]?.isEndOfStream === true || replayed.images[0]?.position === stop.position;
    }, 20_000, 'the replay to the stop position');
    assert.deepEqual(problems, []);
    assert.ok(next > 1000 && next <= sent, `replayed ${next} of ${sent} messages`);
  } finally {
    await client?.close();
    archive?.close();
    await skein.close();
    try {
      execFileSync('umount', [dir], { stdio: 'pipe' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
});
