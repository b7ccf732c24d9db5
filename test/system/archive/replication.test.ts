/**
 * Replication and replay merge with real processes: two `skein archive` processes; this process
 * publishes a stream the first one records; `skein replicate` copies the stopped recording into the
 * second archive (REPLICATE, EXTEND, SYNC, REPLICATE_END in its JSON summary) and the copy replays
 * byte for byte from the second archive. Then a live stream recorded by the first archive is read
 * by a late subscriber in this process through ReplayMerge: every message once, in order, across
 * the switch from the replay to the live stream.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSkein, stopAll, type StartedProcess } from '../../support/processes.js';
import { Skein } from '../../../src/skein.js';
import { ArchiveClient } from '../../../src/archive/archive-client.js';
import { ReplayMerge } from '../../../src/archive/replay-merge.js';
import { FragmentAssembler } from '../../../src/logbuffer/fragment-assembler.js';
import { freeUdpPort, waitFor } from '../../support/wait.js';

after(() => stopAll());

function messageOf(i: number): Uint8Array {
  const m = new Uint8Array(40 + ((i * 577) % 2000));
  new DataView(m.buffer).setUint32(0, i, true);
  for (let j = 4; j < m.length; j++) m[j] = (i * 31 + j) & 0xff;
  return m;
}

function same(buffer: Uint8Array, offset: number, length: number, i: number): boolean {
  const expected = messageOf(i);
  return length === expected.length && Buffer.from(buffer.buffer, buffer.byteOffset + offset, length).equals(Buffer.from(expected));
}

async function startArchive(dir: string, controlPort: number): Promise<StartedProcess> {
  const archive = startSkein([
    'archive', '--archive-dir', dir, '--control-channel', `aeron:udp?endpoint=127.0.0.1:${controlPort}`, '--segment-length', '65536',
    '--replication-channel', 'aeron:udp?endpoint=127.0.0.1:0', '--test-profile',
  ]);
  await archive.waitForLine(/listening on/, 15_000, 'stderr');
  return archive;
}

test('skein replicate copies a recording between two archive processes; a late subscriber merges a replay with the live stream', { timeout: 120_000 }, async () => {
  const srcDir = mkdtempSync(join(tmpdir(), 'skein-sys-repl-src-'));
  const dstDir = mkdtempSync(join(tmpdir(), 'skein-sys-repl-dst-'));
  const skein = Skein.launch({ testProfile: true, seed: 131 });
  const reader = Skein.launch({ testProfile: true, seed: 132 });
  const clients: ArchiveClient[] = [];
  try {
    const srcPort = await freeUdpPort();
    const dstPort = await freeUdpPort();
    await startArchive(srcDir, srcPort);
    await startArchive(dstDir, dstPort);
    const src = await ArchiveClient.connect(skein.client, { controlRequestChannel: `aeron:udp?endpoint=127.0.0.1:${srcPort}`, controlResponseChannel: 'aeron:udp?endpoint=127.0.0.1:0' });
    clients.push(src);

    // A stopped recording on the first archive.
    const channel = `aeron:udp?endpoint=127.0.0.1:${await freeUdpPort()}`;
    await src.startRecording(channel, 1001);
    const publication = await skein.addExclusivePublication(channel, 1001);
    await publication.connected({ timeoutMs: 5000 });
    const count = 600;
    for (let i = 0; i < count; i++) {
      const m = messageOf(i);
      await waitFor(() => publication.offer(m) >= 0, 5000, `offer ${i}`);
    }
    const end = publication.position;
    await waitFor(() => false, 0).catch(() => undefined);
    for (let i = 0; i < 500 && (await src.getRecordingPosition(0)) !== end; i++) await new Promise((r) => setTimeout(r, 10));
    await src.stopRecording(channel, 1001);
    publication.close();

    // skein replicate: into the second archive.
    const replicate = startSkein([
      'replicate', '--archive-channel', `aeron:udp?endpoint=127.0.0.1:${dstPort}`, '--src-channel', `aeron:udp?endpoint=127.0.0.1:${srcPort}`,
      '--src-recording-id', '0', '--test-profile',
    ]);
    const status = await replicate.waitForExit(30_000);
    assert.equal(status.code, 0, replicate.describe());
    const summary = replicate.lastJson<{ dstRecordingId: number; signals: { signal: string; position: number }[]; error: string | null }>();
    assert.equal(summary.error, null);
    assert.deepEqual(summary.signals.map((s) => s.signal).filter((s) => s !== 'STOP'), ['REPLICATE', 'EXTEND', 'SYNC', 'REPLICATE_END']);
    assert.equal(summary.signals.find((s) => s.signal === 'SYNC')!.position, end);

    // The copy replays byte for byte from the second archive.
    const dst = await ArchiveClient.connect(reader.client, { controlRequestChannel: `aeron:udp?endpoint=127.0.0.1:${dstPort}`, controlResponseChannel: 'aeron:udp?endpoint=127.0.0.1:0' });
    clients.push(dst);
    const copy = (await dst.listRecording(summary.dstRecordingId))!;
    assert.equal(copy.stopPosition, end);
    const replayChannel = `aeron:udp?endpoint=127.0.0.1:${await freeUdpPort()}`;
    const replayed = await reader.addSubscription(replayChannel, 3001);
    await dst.replay(summary.dstRecordingId, 0, -2, replayChannel, 3001);
    let next = 0;
    const problems: string[] = [];
    const assembler = new FragmentAssembler((buffer, offset, length) => {
      if (!same(buffer, offset, length, next)) problems.push(`replayed message ${next} differs`);
      next++;
    });
    await waitFor(() => {
      replayed.poll(assembler.onFragment, 100);
      return next >= count || problems.length > 0;
    }, 20_000, 'the replay of the copy');
    assert.deepEqual(problems, []);
    assert.equal(next, count);

    // Replay merge against the archive process: a live MDC stream, recorded while it runs.
    const mdcControl = `127.0.0.1:${await freeUdpPort()}`;
    // The archive process joins the dynamic MDC publication as one of its subscribers.
    await src.startRecording(`aeron:udp?endpoint=127.0.0.1:${await freeUdpPort()}|control=${mdcControl}`, 1002);
    const live = await skein.addExclusivePublication(`aeron:udp?control=${mdcControl}|control-mode=dynamic`, 1002);
    await live.connected({ timeoutMs: 5000 });
    let sent = 0;
    let publishing = true;
    const publisher = (async () => {
      while (publishing && sent < 20_000) {
        for (let k = 0; k < 4; k++) {
          if (live.offer(messageOf(sent)) < 0) break;
          sent++;
        }
        await new Promise((r) => setTimeout(r, 2));
      }
    })();
    await waitFor(() => sent >= 800, 20_000, 'live messages before the late subscriber');
    const liveRecording = (await src.listRecordingsForUri(0, 10, `control=${mdcControl}`, 1002))[0]!.recordingId;
    const srcForReader = await ArchiveClient.connect(reader.client, { controlRequestChannel: `aeron:udp?endpoint=127.0.0.1:${srcPort}`, controlResponseChannel: 'aeron:udp?endpoint=127.0.0.1:0' });
    clients.push(srcForReader);
    const subscription = await reader.addSubscription('aeron:udp?control-mode=manual', 1002);
    const merge = new ReplayMerge({
      subscription, archive: srcForReader, recordingId: liveRecording, startPosition: 0,
      replayChannel: `aeron:udp?session-id=${live.sessionId}`,
      replayDestination: `aeron:udp?endpoint=127.0.0.1:${await freeUdpPort()}`,
      liveDestination: `aeron:udp?endpoint=127.0.0.1:${await freeUdpPort()}|control=${mdcControl}`,
    });
    let expected = 0;
    let mergedAt = -1;
    const liveProblems: string[] = [];
    const liveAssembler = new FragmentAssembler((buffer, offset, length) => {
      const i = new DataView(buffer.buffer, buffer.byteOffset + offset).getUint32(0, true);
      if (i !== expected || !same(buffer, offset, length, i)) liveProblems.push(`expected message ${expected}, got ${i}`);
      expected = i + 1;
    });
    const deadline = Date.now() + 40_000;
    while (Date.now() < deadline && liveProblems.length === 0) {
      merge.poll(liveAssembler.onFragment, 50);
      if (merge.hasFailed) throw merge.error!;
      if (merge.isMerged && mergedAt < 0) mergedAt = expected;
      if (mergedAt >= 0 && expected >= mergedAt + 300) publishing = false;
      if (!publishing && expected === sent) break;
      await new Promise((r) => setImmediate(r));
    }
    publishing = false;
    await publisher;
    assert.deepEqual(liveProblems, []);
    assert.ok(merge.isMerged, `merged (state ${merge.state})`);
    assert.ok(mergedAt > 800, `replayed the recorded messages first (${mergedAt})`);
    assert.equal(expected, sent, `every live message once (${expected} of ${sent})`);
    merge.close();
    live.close();
  } finally {
    for (const c of clients) await c.close();
    await reader.close();
    await skein.close();
    await stopAll();
    rmSync(srcDir, { recursive: true, force: true });
    rmSync(dstDir, { recursive: true, force: true });
  }
});
