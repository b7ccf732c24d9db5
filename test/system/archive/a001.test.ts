/**
 * Scenario A001 with real processes: an archive (`skein archive`, pinging every control session
 * every millisecond and ending one that cannot take a response for a second) and its clients.
 *
 * - Three clients on one control response channel each get only their own answers.
 * - A client that makes no call for several seconds keeps its session (it takes its responses on
 *   its own duty cycle), while a raw client that stops taking them is ended within seconds with
 *   "failed to send response for more than connectTimeoutMs": the check can fail.
 * - A client process killed with SIGKILL has its session ended, the message naming the response
 *   channel, stream and control session.
 * - A closed client's session ends at once, as "session closed".
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startProcess, startSkein, stopAll, type StartedProcess } from '../../support/processes.js';
import { Skein } from '../../../src/skein.js';
import { ArchiveClient } from '../../../src/archive/archive-client.js';
import * as codecs from '../../../src/archive/codecs/archive-codecs.js';
import { freeUdpPort, waitFor } from '../../support/wait.js';

after(() => stopAll());

const FIXTURE = fileURLToPath(new URL('../../fixtures/archive-client.js', import.meta.url));

interface SessionEnd {
  event: 'session-end';
  controlSessionId: number;
  reason: string;
  normal: boolean;
  message: string;
}

function sessionEnds(archive: StartedProcess): SessionEnd[] {
  return archive.stdout
    .split('\n')
    .filter((l) => l.startsWith('{"event":"session-end"'))
    .map((l) => JSON.parse(l) as SessionEnd);
}

async function startArchive(dir: string, controlPort: number): Promise<StartedProcess> {
  const archive = startSkein([
    'archive', '--archive-dir', dir, '--control-channel', `aeron:udp?endpoint=127.0.0.1:${controlPort}`,
    '--liveness-interval-ms', '1', '--connect-timeout-ms', '1000', '--test-profile',
  ]);
  await archive.waitForLine(/listening on/, 15_000, 'stderr');
  return archive;
}

test('A001: shared response channel, a client that makes no calls, a killed client, a closed client', { timeout: 90_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'skein-a001-'));
  const skein = Skein.launch({ testProfile: true, seed: 91 });
  const clients: ArchiveClient[] = [];
  try {
    const controlPort = await freeUdpPort();
    const archive = await startArchive(dir, controlPort);
    const controlChannel = `aeron:udp?endpoint=127.0.0.1:${controlPort}`;
    const responseChannel = `aeron:udp?endpoint=127.0.0.1:${await freeUdpPort()}`;
    for (let i = 0; i < 3; i++) clients.push(await ArchiveClient.connect(skein.client, { controlRequestChannel: controlChannel, controlResponseChannel: responseChannel, messageTimeoutMs: 5000 }));
    const ids = clients.map((c) => c.controlSessionId);
    assert.equal(new Set(ids).size, 3);

    // Each asks for things only its own answer can satisfy, all at once, several rounds.
    for (let round = 0; round < 20; round++) {
      const answers = await Promise.all(clients.map((c, i) => c.findLastMatchingRecording(0, `nothing-${i}-${round}`, 1000 + i, i)));
      assert.deepEqual(answers, [-1, -1, -1]);
      const listed = await Promise.all(clients.map((c) => c.listRecording(round)));
      assert.deepEqual(listed, [null, null, null]);
    }
    const stream = `aeron:udp?endpoint=127.0.0.1:${await freeUdpPort()}`;
    const subscriptionIds = await Promise.all(clients.map((c, i) => c.startRecording(stream, 3000 + i)));
    assert.equal(new Set(subscriptionIds).size, 3);

    // A raw client that takes one answer (to learn its session) and then never reads again.
    const rawResponse = `aeron:udp?endpoint=127.0.0.1:${await freeUdpPort()}`;
    const rawRequest = await skein.addExclusivePublication(controlChannel, 10);
    const rawSubscription = await skein.addSubscription(`${rawResponse}|session-id=${rawRequest.sessionId}`, 20);
    await rawRequest.connected({ timeoutMs: 5000 });
    const buffer = new Uint8Array(512);
    const connectLength = new codecs.AuthConnectRequestEncoder().wrapAndApplyHeader(buffer, 0).correlationId(77).responseStreamId(20).version(0x010c00)
      .responseChannel(rawSubscription.resolvedChannel).encodedCredentials(new Uint8Array(0)).clientInfo('name=raw').encodedLength();
    await waitFor(() => rawRequest.offer(buffer, 0, connectLength) > 0, 5000, 'the raw connect');
    let rawSessionId = -1;
    const decoder = new codecs.ControlResponseDecoder();
    await waitFor(() => {
      rawSubscription.poll((b, o, l) => {
        if (rawSessionId === -1) rawSessionId = decoder.wrapAndCheckHeader(b, o, l).controlSessionIdAsNumber();
      }, 1);
      return rawSessionId !== -1;
    }, 5000, 'the raw connect answer');
    const keepAlive = new codecs.KeepAliveRequestEncoder().wrapAndApplyHeader(buffer, 0).controlSessionId(rawSessionId).correlationId(-1).encodedLength();
    await waitFor(() => rawRequest.offer(buffer, 0, keepAlive) > 0, 5000, 'the raw keepalive');

    // The Skein clients now make no calls for 6 s, while the archive pings every millisecond.
    await new Promise((resolve) => setTimeout(resolve, 6000));
    const rawEnd = sessionEnds(archive).find((e) => e.controlSessionId === rawSessionId);
    assert.ok(rawEnd !== undefined, `the raw client's session ended: ${archive.stdout}`);
    assert.match(rawEnd.reason, /failed to send response for more than connectTimeoutMs=1000/);
    assert.equal(rawEnd.normal, false);
    assert.match(rawEnd.message, new RegExp(`controlSessionId=${rawSessionId} \\(controlResponseStreamId=20 controlResponseChannel=aeron:udp\\?endpoint=127\\.0\\.0\\.1:\\d+\\|session-id=${rawRequest.sessionId}\\)`));
    for (const id of ids) assert.equal(sessionEnds(archive).find((e) => e.controlSessionId === id), undefined, `session ${id} kept`);
    assert.deepEqual(await Promise.all(clients.map((c) => c.getRecordingPosition(99))), [-1, -1, -1], 'each client still gets answers');

    // A client process killed with SIGKILL.
    const child = startProcess(process.execPath, [FIXTURE, JSON.stringify({ controlChannel, responseChannel: `aeron:udp?endpoint=127.0.0.1:${await freeUdpPort()}` })]);
    const connected = JSON.parse(await child.waitForLine(/"event":"connected"/, 15_000, 'stdout')) as { controlSessionId: number };
    child.signal('SIGKILL');
    await waitFor(() => sessionEnds(archive).some((e) => e.controlSessionId === connected.controlSessionId), 15_000, "the killed client's session to end");
    const killed = sessionEnds(archive).find((e) => e.controlSessionId === connected.controlSessionId)!;
    assert.match(killed.reason, /control response publication is not connected|control request publication image unavailable|failed to send response/);
    assert.match(killed.message, new RegExp(`controlSessionId=${connected.controlSessionId} \\(controlResponseStreamId=20 controlResponseChannel=aeron:udp\\?endpoint=127\\.0\\.0\\.1:\\d+\\|session-id=-?\\d+\\)`));

    // A closed client: its session ends at once, as a close.
    const closing = clients.pop()!;
    const startMs = Date.now();
    await closing.close();
    await waitFor(() => sessionEnds(archive).some((e) => e.controlSessionId === closing.controlSessionId), 2000, 'the closed session to end');
    const closed = sessionEnds(archive).find((e) => e.controlSessionId === closing.controlSessionId)!;
    assert.equal(closed.reason, 'session closed');
    assert.equal(closed.normal, true);
    assert.ok(Date.now() - startMs < 2000);
  } finally {
    for (const c of clients) await c.close();
    await skein.close();
    await stopAll();
    rmSync(dir, { recursive: true, force: true });
  }
});
