/**
 * `skein request --plain` (no framing, answers matched in order) against `skein respond`, with
 * real processes on loopback: every answer meets its own request, through a SIGKILL and restart
 * of the server too, and the heartbeat options are refused with --plain.
 */
import { after, afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { RequestSummary } from '../../../src/cli/request-command.js';
import { freeUdpPort, startSkein, stopAll, type StartedProcess } from '../../support/processes.js';
import { sleep } from '../../../src/cli/cli-runtime.js';

const REQUEST_TIMEOUT_MS = 400;
const CONNECT_TIMEOUT_MS = 2000; // ResponseClient default
const RECONNECT_MAX_DELAY_MS = 2000; // ResponseClient default
/** Once the server is back: a request deadline to notice, a pair's connect timeout, the largest backoff, 1 s of handshakes. */
const RESUME_BOUND_MS = REQUEST_TIMEOUT_MS + CONNECT_TIMEOUT_MS + RECONNECT_MAX_DELAY_MS + 1000;

describe('skein request --plain', { timeout: 90_000 }, () => {
  afterEach(() => stopAll());
  after(() => stopAll());

  async function startServer(ports: { request: number; control: number }): Promise<StartedProcess> {
    const server = startSkein([
      'respond',
      '--request-channel', `aeron:udp?endpoint=127.0.0.1:${ports.request}`,
      '--response-control-channel', `aeron:udp?control=127.0.0.1:${ports.control}`,
      '--test-profile',
    ]);
    await server.waitForLine(/answering/, 10_000, 'stderr');
    return server;
  }

  function requestArgs(ports: { request: number; control: number }, extra: string[]): string[] {
    return [
      'request',
      '--plain',
      '--request-channel', `aeron:udp?endpoint=127.0.0.1:${ports.request}`,
      '--response-control-channel', `aeron:udp?control=127.0.0.1:${ports.control}`,
      '--test-profile',
      ...extra,
    ];
  }

  it('gets every answer, in order, from skein respond; the server sees one plain session', async () => {
    const ports = { request: await freeUdpPort(), control: await freeUdpPort() };
    const server = await startServer(ports);
    const count = 40;
    const client = startSkein(requestArgs(ports, ['--count', String(count), '--interval-ms', '10', '--message', 'plain', '--print']));
    const status = await client.waitForExit(30_000);
    assert.equal(status.code, 0, client.describe());
    const summary = client.lastJson<RequestSummary>();
    assert.equal(summary.ok, count, JSON.stringify(summary));
    assert.equal(summary.failed, 0, JSON.stringify(summary));
    assert.equal(summary.mismatched, 0, JSON.stringify(summary));
    assert.equal(summary.reconnects, 0, JSON.stringify(summary));
    const answers = client.stdout.split('\n').filter((line) => line.startsWith('responding to message: '));
    assert.deepEqual(answers, Array.from({ length: count }, (_, i) => `responding to message: plain ${i}`));
    assert.match(client.stderr, /CONNECTING -> CONNECTED: request publication -?\d+ connected, response image -?\d+ from 127\.0\.0\.1:\d+/);
    server.signal('SIGTERM');
    assert.equal((await server.waitForExit(10_000)).code, 0, server.describe());
    const served = server.lastJson<{ answered: number; sessionsOpened: number }>();
    assert.equal(served.answered, count, JSON.stringify(served));
    assert.equal(served.sessionsOpened, 1, JSON.stringify(served));
  });

  it('resumes by itself after the server is SIGKILLed and restarted, and never matches an answer to the wrong request', async () => {
    const ports = { request: await freeUdpPort(), control: await freeUdpPort() };
    const downMs = 500;
    const count = 200;
    const first = await startServer(ports);
    const client = startSkein(
      requestArgs(ports, ['--count', String(count), '--interval-ms', '25', '--timeout-ms', String(REQUEST_TIMEOUT_MS), '--message', 'plain says', '--print']),
    );
    await client.waitForLine(/responding to message: plain says 5$/, 15_000, 'stdout');
    first.signal('SIGKILL');
    await first.waitForExit(5000);
    await sleep(downMs);
    const second = await startServer(ports);
    const status = await client.waitForExit(60_000);
    assert.equal(status.code, 0, client.describe());
    const summary = client.lastJson<RequestSummary>();
    assert.equal(summary.mismatched, 0, JSON.stringify(summary));
    assert.equal(summary.ok + summary.failed, count, JSON.stringify(summary));
    assert.ok(summary.failed > 0, `the restart was noticed: ${JSON.stringify(summary)}`);
    assert.ok(summary.reconnects >= 1, JSON.stringify(summary));
    assert.ok(summary.maxOutageMs <= downMs + RESUME_BOUND_MS, `resumed within ${downMs} + ${RESUME_BOUND_MS} ms: ${JSON.stringify(summary)}`);
    for (const code of Object.keys(summary.failures)) assert.ok(['ERR_SKEIN_PEER_LOST', 'ERR_SKEIN_NOT_CONNECTED', 'ERR_SKEIN_REQUEST_TIMEOUT'].includes(code), code);
    assert.match(client.stdout, new RegExp(`responding to message: plain says ${count - 1}\\n`), 'the last request was answered');
    assert.match(client.stderr, /CONNECTED -> RECONNECTING: (request publication -?\d+ lost its connection to the server|response image .* went away|request -?\d+ was sent and then given up)/);
    second.signal('SIGTERM');
    assert.equal((await second.waitForExit(10_000)).code, 0, second.describe());
  });

  it('refuses the heartbeat options with --plain', async () => {
    const ports = { request: await freeUdpPort(), control: await freeUdpPort() };
    for (const option of ['--peer-timeout-ms', '--heartbeat-interval-ms']) {
      const client = startSkein(requestArgs(ports, [option, '100', '--count', '1']));
      const status = await client.waitForExit(15_000);
      assert.equal(status.code, 2, client.describe());
      assert.match(client.stderr, new RegExp(`option '${option}' does not apply with --plain`));
    }
  });
});
