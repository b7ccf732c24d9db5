/**
 * Replay merge over the wire, two drivers: a live stream (a dynamic MDC publication) is recorded
 * by the archive while it is published; a subscriber that starts late replays it from position 0
 * and joins the live stream. Every message arrives exactly once and in order, across the switch,
 * and the merge ends with the replay stopped and the live stream alone feeding the image.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Skein } from '../../../src/skein.js';
import { Archive } from '../../../src/archive/archive.js';
import { ArchiveClient } from '../../../src/archive/archive-client.js';
import { ReplayMerge } from '../../../src/archive/replay-merge.js';
import { ErrorCode, SkeinError } from '../../../src/util/errors.js';
import { freeUdpPort, waitFor } from '../../support/wait.js';

const STREAM = 1001;
const MESSAGE_LENGTH = 200;

function fill(m: Uint8Array, i: number): void {
  new DataView(m.buffer, m.byteOffset).setUint32(0, i, true);
  for (let j = 4; j < m.length; j++) m[j] = (i * 7 + j) & 0xff;
}

test('a late subscriber replays from the start and merges with the live stream: no gap, no duplicate', { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'skein-replay-merge-'));
  const sourceSkein = Skein.launch({ testProfile: true, seed: 91 });
  const readerSkein = Skein.launch({ testProfile: true, seed: 92 });
  let archive: Archive | null = null;
  let merge: ReplayMerge | null = null;
  let publishing = true;
  try {
    const controlPort = await freeUdpPort();
    archive = await Archive.launch(sourceSkein.client, { dir, controlChannel: `aeron:udp?endpoint=127.0.0.1:${controlPort}`, lowStorageSpaceThreshold: 0, seed: 6 });
    const clientOptions = { controlRequestChannel: `aeron:udp?endpoint=127.0.0.1:${controlPort}`, controlResponseChannel: `aeron:udp?endpoint=127.0.0.1:${await freeUdpPort()}`, messageTimeoutMs: 5000 };
    const recorder = await ArchiveClient.connect(sourceSkein.client, clientOptions);

    const mdcControl = `127.0.0.1:${await freeUdpPort()}`;
    const liveChannel = `aeron:udp?control=${mdcControl}|control-mode=dynamic|ssc=true|term-length=64k`;
    await recorder.startRecording(liveChannel, STREAM, 'LOCAL');
    const publication = await sourceSkein.addExclusivePublication(liveChannel, STREAM);

    // The publisher runs on: a message every millisecond or so, in bursts of 5.
    let sent = 0;
    const message = new Uint8Array(MESSAGE_LENGTH);
    const publisher = (async () => {
      while (publishing && sent < 20_000) {
        for (let k = 0; k < 5; k++) {
          fill(message, sent);
          if (publication.offer(message) < 0) break;
          sent++;
        }
        await new Promise((r) => setTimeout(r, 2));
      }
    })();
    await waitFor(() => sent >= 2000, 20_000, '2000 messages published before the reader starts');
    const recordingId = (await recorder.listRecordings(0, 10))[0]!.recordingId;

    const reader = await ArchiveClient.connect(readerSkein.client, { ...clientOptions, controlResponseChannel: `aeron:udp?endpoint=127.0.0.1:${await freeUdpPort()}` });
    const subscription = await readerSkein.addSubscription('aeron:udp?control-mode=manual', STREAM);
    assert.throws(
      () => new ReplayMerge({ subscription, archive: reader, replayChannel: 'aeron:udp?mtu=1408', replayDestination: 'aeron:udp?endpoint=127.0.0.1:1', liveDestination: 'aeron:udp?endpoint=127.0.0.1:2', recordingId, startPosition: 0 }),
      (e: unknown) => e instanceof SkeinError && e.code === ErrorCode.ARG_INVALID && /session-id/.test(e.message),
    );
    merge = new ReplayMerge({
      subscription,
      archive: reader,
      replayChannel: `aeron:udp?session-id=${publication.sessionId}`,
      replayDestination: `aeron:udp?endpoint=127.0.0.1:${await freeUdpPort()}`,
      liveDestination: `aeron:udp?endpoint=127.0.0.1:${await freeUdpPort()}|control=${mdcControl}`,
      recordingId,
      startPosition: 0,
    });

    let expected = 0;
    const problems: string[] = [];
    let receivedAtMerge = -1;
    const states = new Set<string>();
    const handler = (buffer: Uint8Array, offset: number, length: number): void => {
      const i = new DataView(buffer.buffer, buffer.byteOffset + offset).getUint32(0, true);
      if (length !== MESSAGE_LENGTH || i !== expected) problems.push(`expected message ${expected}, got ${i} (${length} bytes)`);
      for (let j = 4; j < length && problems.length < 5; j++) if (buffer[offset + j] !== ((i * 7 + j) & 0xff)) problems.push(`message ${i} byte ${j} differs`);
      expected = i + 1;
    };
    const deadline = Date.now() + 40_000;
    while (Date.now() < deadline && problems.length === 0) {
      merge.poll(handler, 50);
      states.add(merge.state);
      if (merge.hasFailed) throw merge.error!;
      if (merge.isMerged && receivedAtMerge < 0) {
        receivedAtMerge = expected;
        publishing = true;
      }
      // Merged, and well past the switch: stop publishing and read to the end.
      if (receivedAtMerge >= 0 && expected >= receivedAtMerge + 500) publishing = false;
      if (!publishing && expected === sent) break;
      await new Promise((r) => setImmediate(r));
    }
    await publisher;
    assert.deepEqual(problems, []);
    assert.ok(merge.isMerged, `merged (state ${merge.state}, states seen ${[...states].join(',')})`);
    assert.ok(merge.isLiveAdded);
    assert.ok(receivedAtMerge > 2000, `the replay delivered the recorded messages before the merge (${receivedAtMerge})`);
    assert.equal(expected, sent, `every published message read once (${expected} of ${sent})`);
    for (const s of ['GET_RECORDING_POSITION', 'REPLAY', 'CATCHUP', 'ATTEMPT_LIVE_JOIN', 'MERGED']) assert.ok(states.has(s), `state ${s} seen`);
    // The replay was stopped: the archive has no replay left, and the live stream alone feeds the image.
    await waitFor(() => archive!.activeReplayCount === 0, 10_000, 'the replay stopped');
    merge.close();
    assert.equal(merge.state, 'CLOSED');
    await reader.close();
    await recorder.close();
  } finally {
    publishing = false;
    merge?.close();
    archive?.close();
    await readerSkein.close();
    await sourceSkein.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
