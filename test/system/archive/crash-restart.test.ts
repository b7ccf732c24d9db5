/**
 * An archive killed with SIGKILL while recording, restarted on the same directory: the
 * interrupted recording gets its stop position from its segment files, `archive-tool verify`
 * passes, and a replay gives every message that was recorded, byte for byte, in order.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSkein, stopAll, type StartedProcess } from '../../support/processes.js';
import { Skein } from '../../../src/skein.js';
import { ArchiveClient } from '../../../src/archive/archive-client.js';
import { FragmentAssembler } from '../../../src/logbuffer/fragment-assembler.js';
import { freeUdpPort, waitFor } from '../../support/wait.js';

after(() => stopAll());

function messageOf(i: number): Uint8Array {
  const m = new Uint8Array(24 + ((i * 4099) % 3000));
  new DataView(m.buffer).setUint32(0, i, true);
  for (let j = 4; j < m.length; j++) m[j] = (i * 13 + j) & 0xff;
  return m;
}

async function startArchive(dir: string, controlPort: number): Promise<StartedProcess> {
  const archive = startSkein(['archive', '--archive-dir', dir, '--control-channel', `aeron:udp?endpoint=127.0.0.1:${controlPort}`, '--segment-length', '65536', '--test-profile']);
  await archive.waitForLine(/listening on/, 15_000, 'stderr');
  return archive;
}

test('SIGKILL mid-recording, restart: the recording is recovered, verified and replayed byte for byte', { timeout: 90_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'skein-archive-crash-'));
  const skein = Skein.launch({ testProfile: true, seed: 101 });
  try {
    const controlPort = await freeUdpPort();
    const options = { controlRequestChannel: `aeron:udp?endpoint=127.0.0.1:${controlPort}`, controlResponseChannel: 'aeron:udp?endpoint=127.0.0.1:0', messageTimeoutMs: 5000 };
    let archive = await startArchive(dir, controlPort);
    let client = await ArchiveClient.connect(skein.client, options);
    const channel = `aeron:udp?endpoint=127.0.0.1:${await freeUdpPort()}`;
    await client.startRecording(channel, 1001);
    const publication = await skein.addExclusivePublication(channel, 1001);
    await publication.connected({ timeoutMs: 5000 });
    const count = 800;
    for (let i = 0; i < count; i++) {
      const m = messageOf(i);
      await waitFor(() => publication.offer(m) >= 0, 5000, `offer ${i}`);
    }
    const end = publication.position;
    let recorded = -1;
    for (let i = 0; i < 1000 && recorded !== end; i++) {
      recorded = await client.getRecordingPosition(0);
      if (recorded !== end) await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal(recorded, end, 'everything published is recorded before the kill');
    archive.signal('SIGKILL');
    await archive.waitForExit(10_000);
    publication.close();
    await client.close();

    const crashed = startSkein(['archive-tool', 'describe', dir, '--json']);
    await crashed.waitForExit(15_000);
    const crashedMark = (JSON.parse(crashed.stdout) as { markFile: { pid: number; activityTimestamp: number } | null }).markFile;
    assert.ok(crashedMark !== null && crashedMark.pid === archive.pid && crashedMark.activityTimestamp > 0, `the killed archive's mark file is left active: ${crashed.stdout}`);

    const verifiedBefore = startSkein(['archive-tool', 'verify', dir, '--json']);
    await verifiedBefore.waitForExit(15_000);
    assert.equal((JSON.parse(verifiedBefore.stdout) as { verified: boolean }).verified, true, verifiedBefore.stdout + verifiedBefore.stderr);

    archive = await startArchive(dir, controlPort);
    client = await ArchiveClient.connect(skein.client, options);
    const descriptor = await client.listRecording(0);
    assert.ok(descriptor !== null);
    assert.equal(descriptor.stopPosition, end, 'the stop position is recovered from the segment files');
    const replayPort = await freeUdpPort();
    const subscription = await skein.addSubscription(`aeron:udp?endpoint=127.0.0.1:${replayPort}`, 2002);
    await client.replay(0, -1, -2, `aeron:udp?endpoint=127.0.0.1:${replayPort}`, 2002);
    const got: Uint8Array[] = [];
    const assembler = new FragmentAssembler((b: Uint8Array, o: number, l: number) => got.push(b.slice(o, o + l)));
    await waitFor(() => {
      subscription.poll(assembler.onFragment, 100);
      return got.length === count;
    }, 15_000, 'the replay of the recovered recording');
    for (let i = 0; i < count; i++) assert.ok(Buffer.from(messageOf(i)).equals(got[i]!), `message ${i}`);
    await client.close();
    archive.signal('SIGINT');
    await archive.waitForExit(10_000);
    const closed = startSkein(['archive-tool', 'describe', dir, '--json']);
    await closed.waitForExit(15_000);
    assert.equal((JSON.parse(closed.stdout) as { markFile: { activityTimestamp: number } }).markFile.activityTimestamp, -1, 'a clean stop leaves activity -1');
  } finally {
    await skein.close();
    await stopAll();
    rmSync(dir, { recursive: true, force: true });
  }
});
