/**
 * Catalog operations over the wire on recordings that span several segment files: detach, delete
 * detached, attach, purge segments, truncate, migrate (one recording's segments moved in front of
 * the recording that continues it, then replayed as one), purge, and their refusals.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Skein } from '../../../src/skein.js';
import { Archive } from '../../../src/archive/archive.js';
import { ArchiveClient, ArchiveRequestError, type RecordingSignalEvent } from '../../../src/archive/archive-client.js';
import { verifyRecording } from '../../../src/archive/segment-scan.js';
import { nodeFiles } from '../../../src/env/files.js';
import { FragmentAssembler } from '../../../src/logbuffer/fragment-assembler.js';
import type { Publication } from '../../../src/client/publication.js';
import { freeUdpPort, waitFor } from '../../support/wait.js';

const SEGMENT = 64 * 1024;

function messageOf(i: number): Uint8Array {
  const m = new Uint8Array(1000);
  new DataView(m.buffer).setUint32(0, i, true);
  m.fill(i & 0xff, 4);
  return m;
}

async function send(publication: Publication, from: number, count: number): Promise<void> {
  for (let i = from; i < from + count; i++) {
    const m = messageOf(i);
    await waitFor(() => publication.offer(m) >= 0, 5000, `offer ${i}`);
  }
}

test('detach, delete, attach, purge segments, truncate, migrate and purge a recording', { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'skein-archive-segments-'));
  const archiveSkein = Skein.launch({ testProfile: true, seed: 111 });
  const clientSkein = Skein.launch({ testProfile: true, seed: 112 });
  let archive: Archive | null = null;
  try {
    const controlPort = await freeUdpPort();
    archive = await Archive.launch(archiveSkein.client, { dir, controlChannel: `aeron:udp?endpoint=127.0.0.1:${controlPort}`, segmentFileLength: SEGMENT, lowStorageSpaceThreshold: 0, seed: 1 });
    const signals: RecordingSignalEvent[] = [];
    const client = await ArchiveClient.connect(clientSkein.client, {
      controlRequestChannel: `aeron:udp?endpoint=127.0.0.1:${controlPort}`, controlResponseChannel: 'aeron:udp?endpoint=127.0.0.1:0', messageTimeoutMs: 5000,
      onRecordingSignal: (s) => signals.push(s),
    });
    const record = async (channel: string, from: number, count: number): Promise<{ recordingId: number; publication: Publication }> => {
      const subscriptionId = await client.startRecording(channel, 1001);
      const publication = await clientSkein.addExclusivePublication(channel, 1001);
      await waitFor(() => signals.some((s) => s.signal === 'START' && s.subscriptionId === subscriptionId), 5000, 'START');
      const recordingId = signals.find((s) => s.signal === 'START' && s.subscriptionId === subscriptionId)!.recordingId;
      await send(publication, from, count);
      const end = publication.position;
      for (let i = 0; i < 500 && (await client.getRecordingPosition(recordingId)) !== end; i++) await new Promise((r) => setTimeout(r, 10));
      await client.stopRecordingSubscription(subscriptionId);
      await waitFor(() => signals.some((s) => s.signal === 'STOP' && s.recordingId === recordingId), 5000, 'STOP');
      return { recordingId, publication };
    };
    const files = (): string[] => readdirSync(dir).filter((n) => n.endsWith('.rec')).sort();

    // Recording 0: about 5 segments.
    const { recordingId: r0 } = await record(`aeron:udp?endpoint=127.0.0.1:${await freeUdpPort()}|term-length=65536`, 0, 300);
    const d0 = (await client.listRecording(r0))!;
    assert.ok(d0.stopPosition > 4 * SEGMENT, `stop ${d0.stopPosition}`);
    assert.deepEqual(files().filter((f) => f.startsWith(`${r0}-`)).length, Math.ceil(d0.stopPosition / SEGMENT));

    await assert.rejects(client.detachSegments(r0, 1000), (e: unknown) => e instanceof ArchiveRequestError && e.archiveErrorCode === 16 && /a segment boundary after 0/.test(e.message));
    await client.detachSegments(r0, SEGMENT);
    assert.equal(await client.getStartPosition(r0), SEGMENT);
    assert.ok(existsSync(join(dir, `${r0}-0.rec`)), 'detached files stay');
    assert.equal(await client.attachSegments(r0), 1);
    assert.equal(await client.getStartPosition(r0), 0);
    await client.detachSegments(r0, SEGMENT);
    assert.equal(await client.deleteDetachedSegments(r0), 1);
    assert.ok(!existsSync(join(dir, `${r0}-0.rec`)));
    assert.equal(await client.attachSegments(r0), 0, 'nothing left to attach');
    assert.equal(await client.purgeSegments(r0, 2 * SEGMENT), 1);
    assert.equal(await client.getStartPosition(r0), 2 * SEGMENT);
    const lastBase = Math.floor(d0.stopPosition / SEGMENT) * SEGMENT;
    await assert.rejects(client.truncateRecording(r0, 2 * SEGMENT + 16), (e: unknown) => e instanceof ArchiveRequestError && e.archiveErrorCode === 16);
    const later = files().filter((f) => f.startsWith(`${r0}-`) && Number(f.slice(f.indexOf('-') + 1, -4)) >= lastBase).length;
    assert.equal(await client.truncateRecording(r0, lastBase), later);
    assert.equal(await client.getStopPosition(r0), lastBase);
    assert.deepEqual(
      verifyRecording(nodeFiles, dir, { recordingId: r0, startPosition: 2 * SEGMENT, initialTermId: d0.initialTermId, termLength: d0.termBufferLength, segmentLength: SEGMENT, streamId: 1001, sessionId: d0.sessionId }, lastBase),
      [],
    );

    // Recording 1 stops at 2 segments; recording 2 continues it from there: migrate 1 into 2.
    const channel1 = `aeron:udp?endpoint=127.0.0.1:${await freeUdpPort()}|term-length=65536`;
    const { recordingId: r1 } = await record(channel1, 1000, 140);
    await client.truncateRecording(r1, 2 * SEGMENT);
    const d1 = (await client.listRecording(r1))!;
    const channel2 = `aeron:udp?endpoint=127.0.0.1:${await freeUdpPort()}|term-length=65536|init-term-id=${d1.initialTermId}|term-id=${d1.initialTermId + 2}|term-offset=0`;
    const { recordingId: r2 } = await record(channel2, 5000, 40);
    assert.equal(await client.getStartPosition(r2), 2 * SEGMENT);
    await assert.rejects(client.migrateSegments(r0, r2), (e: unknown) => e instanceof ArchiveRequestError);
    assert.equal(await client.migrateSegments(r1, r2), 2);
    assert.equal(await client.getStartPosition(r2), 0);
    const port = await freeUdpPort();
    const sub = await clientSkein.addSubscription(`aeron:udp?endpoint=127.0.0.1:${port}`, 2002);
    await client.replay(r2, -1, -2, `aeron:udp?endpoint=127.0.0.1:${port}`, 2002);
    const got: number[] = [];
    const assembler = new FragmentAssembler((b: Uint8Array, o: number) => got.push(new DataView(b.buffer, b.byteOffset + o, 4).getUint32(0, true)));
    const expectedFirst = Math.floor((2 * SEGMENT) / 1056);
    await waitFor(() => {
      sub.poll(assembler.onFragment, 100);
      return got.length >= expectedFirst + 40;
    }, 10_000, 'the replay of the migrated recording');
    assert.equal(got[0], 1000, 'the migrated segments come first');
    assert.deepEqual(got.slice(-40), Array.from({ length: 40 }, (_, i) => 5000 + i), 'then the recording that continued them');

    assert.ok((await client.purgeRecording(r0)) >= 1);
    assert.equal(await client.listRecording(r0), null);
    assert.equal(files().filter((f) => f.startsWith(`${r0}-`)).length, 0);
    assert.ok(signals.filter((s) => s.signal === 'DELETE').length >= 4);
    await client.close();
  } finally {
    archive?.close();
    await clientSkein.close();
    await archiveSkein.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
