/**
 * Scenario A000 with real processes: `skein respond` is SIGKILLed and restarted on the same ports,
 * once inside the image liveness timeout and once after it, under several `skein request` clients.
 * Every client resumes by itself within the documented bound (docs/response-channels.md), in both
 * cases the same way, and only ever sees answers to its own requests.
 */
import { after, afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { RequestSummary } from '../../../src/cli/request-command.js';
import { freeUdpPort, startSkein, stopAll, type StartedProcess } from '../../support/processes.js';
import { sleep } from '../../../src/cli/cli-runtime.js';

const LIVENESS_MS = 2000; // image liveness timeout of the test profile
const PEER_TIMEOUT_MS = 600;
const CONNECT_TIMEOUT_MS = 2000; // ResponseClient default
const RECONNECT_MAX_DELAY_MS = 2000; // ResponseClient default
/** The documented bound on resuming once the server is back: peer timeout + connect timeout + largest backoff + 1 s of handshakes. */
const RESUME_BOUND_MS = PEER_TIMEOUT_MS + CONNECT_TIMEOUT_MS + RECONNECT_MAX_DELAY_MS + 1000;

describe('request/response through a server restart (A000)', { timeout: 120_000 }, () => {
  afterEach(() => stopAll());
  after(() => stopAll());

  async function startServer(ports: { request: number; control: number }): Promise<StartedProcess> {
    const server = startSkein([
      'respond',
      '--request-channel', `aeron:udp?endpoint=127.0.0.1:${ports.request}`,
      '--response-control-channel', `aeron:udp?control=127.0.0.1:${ports.control}`,
      '--session-timeout-ms', '1500',
      '--test-profile',
    ]);
    await server.waitForLine(/answering/, 10_000, 'stderr');
    return server;
  }

  for (const when of ['inside', 'after'] as const) {
    it(`SIGKILL and restart ${when} the image liveness timeout: every client resumes by itself`, async () => {
      const ports = { request: await freeUdpPort(), control: await freeUdpPort() };
      const downMs = when === 'inside' ? 300 : LIVENESS_MS + 1500;
      const count = 240;
      const intervalMs = 25;
      const first = await startServer(ports);
      const clients = Array.from({ length: 3 }, (_, i) =>
        startSkein([
          'request',
          '--request-channel', `aeron:udp?endpoint=127.0.0.1:${ports.request}`,
          '--response-control-channel', `aeron:udp?control=127.0.0.1:${ports.control}`,
          '--count', String(count),
          '--interval-ms', String(intervalMs),
          '--timeout-ms', '400',
          '--heartbeat-interval-ms', '100',
          '--peer-timeout-ms', String(PEER_TIMEOUT_MS),
          '--message', `client ${i} says`,
          '--print',
          '--test-profile',
        ]),
      );
      // Let every client get answers from the first server.
      for (const client of clients) await client.waitForLine(/responding to message: client \d says 5$/, 15_000, 'stdout');
      first.signal('SIGKILL');
      await first.waitForExit(5000);
      await sleep(downMs);
      const second = await startServer(ports);
      for (const [i, client] of clients.entries()) {
        const status = await client.waitForExit(60_000);
        assert.equal(status.code, 0, client.describe());
        const summary = client.lastJson<RequestSummary>();
        assert.equal(summary.mismatched, 0, `client ${i} saw only its own answers: ${JSON.stringify(summary)}`);
        assert.equal(summary.ok + summary.failed, count, JSON.stringify(summary));
        assert.ok(summary.failed > 0, `the restart was noticed: ${JSON.stringify(summary)}`);
        assert.ok(summary.maxOutageMs <= downMs + RESUME_BOUND_MS, `client ${i} resumed within ${downMs} + ${RESUME_BOUND_MS} ms: ${JSON.stringify(summary)}`);
        assert.match(client.stdout, new RegExp(`responding to message: client ${i} says ${count - 1}\\n`), 'the last request was answered');
        const failureCodes = Object.keys(summary.failures);
        for (const code of failureCodes) assert.ok(['ERR_SKEIN_PEER_LOST', 'ERR_SKEIN_NOT_CONNECTED', 'ERR_SKEIN_REQUEST_TIMEOUT'].includes(code), code);
      }
      second.signal('SIGTERM');
      assert.equal((await second.waitForExit(10_000)).code, 0, second.describe());
      const served = second.lastJson<{ answered: number; sessionsOpened: number }>();
      assert.equal(served.sessionsOpened, 3, JSON.stringify(served));
      assert.ok(served.answered > 0);
    });
  }

  it('a client killed without a goodbye is noticed and its session freed; a closed client says goodbye', async () => {
    const ports = { request: await freeUdpPort(), control: await freeUdpPort() };
    const server = await startServer(ports);
    const args = [
      'request',
      '--request-channel', `aeron:udp?endpoint=127.0.0.1:${ports.request}`,
      '--response-control-channel', `aeron:udp?control=127.0.0.1:${ports.control}`,
      '--interval-ms', '50',
      '--heartbeat-interval-ms', '100',
      '--print',
      '--test-profile',
    ];
    const killed = startSkein([...args, '--count', '100000']);
    await killed.waitForLine(/responding to message: Hello World! 3$/, 15_000, 'stdout');
    killed.signal('SIGKILL');
    const freed = await server.waitForLine(/CLOSED: (the client was silent for \d+ ms \(sessionTimeoutMs=1500\)|request image .* is gone)/, 10_000, 'stderr');
    assert.ok(freed.length > 0);
    const polite = startSkein([...args, '--count', '5']);
    assert.equal((await polite.waitForExit(20_000)).code, 0, polite.describe());
    await server.waitForLine(/CLOSED: the client closed the session/, 5000, 'stderr');
    server.signal('SIGTERM');
    assert.equal((await server.waitForExit(10_000)).code, 0, server.describe());
    const summary = server.lastJson<{ sessionsOpened: number; sessionsClosed: number }>();
    assert.equal(summary.sessionsOpened, 2);
    assert.equal(summary.sessionsClosed, 2);
  });
});
