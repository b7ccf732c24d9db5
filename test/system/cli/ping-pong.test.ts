/** `skein ping` against `skein pong` over UDP loopback. */
import { after, afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { PingSummary } from '../../../src/cli/ping-measurement.js';
import { loopbackChannel, startSkein, stopAll } from '../../support/processes.js';

describe('skein ping | skein pong', { timeout: 60_000 }, () => {
  afterEach(() => stopAll());
  after(() => stopAll());

  async function pingPong(count: number, warmup: number, extra: string[]): Promise<{ ping: PingSummary; pingStdout: string; echoed: number }> {
    const channels = ['--channel', await loopbackChannel(), '--pong-channel', await loopbackChannel()];
    const pong = startSkein(['pong', ...channels, '--test-profile', ...extra]);
    await pong.waitForLine(/echoing/, 5000, 'stderr');
    const ping = startSkein(['ping', ...channels, '--count', String(count), '--warmup', String(warmup), '--test-profile', ...extra]);
    const pingStatus = await ping.waitForExit(30_000);
    assert.equal(pingStatus.code, 0, ping.describe());
    pong.signal('SIGTERM');
    const pongStatus = await pong.waitForExit(10_000);
    assert.equal(pongStatus.code, 0, pong.describe());
    return { ping: ping.lastJson<PingSummary>(), pingStdout: ping.stdout, echoed: pong.lastJson<{ echoed: number }>().echoed };
  }

  function assertSane(summary: PingSummary, count: number): void {
    assert.equal(summary.count, count);
    assert.ok(summary.p50Us > 0, JSON.stringify(summary));
    assert.ok(summary.p50Us <= summary.p90Us, JSON.stringify(summary));
    assert.ok(summary.p90Us <= summary.p99Us, JSON.stringify(summary));
    assert.ok(summary.p99Us <= summary.p999Us, JSON.stringify(summary));
    assert.ok(summary.p999Us <= summary.maxUs, JSON.stringify(summary));
    assert.ok(summary.meanUs > 0 && summary.meanUs <= summary.maxUs, JSON.stringify(summary));
    // Loopback round trips take microseconds to milliseconds, never seconds.
    assert.ok(summary.p50Us < 1_000_000, JSON.stringify(summary));
  }

  it('measures round trips and prints the distribution and a JSON summary', async () => {
    const { ping, pingStdout, echoed } = await pingPong(3000, 500, []);
    assertSane(ping, 3000);
    assert.equal(echoed, 3500);
    assert.match(pingStdout, /Percentile/);
    assert.match(pingStdout, /#\[Max\s+=/);
  });

  it('completes every round trip under loss, duplication and reordering', async () => {
    // One message is in flight, so each lost one waits for the next heartbeat to be noticed: keep it short.
    const { ping, echoed } = await pingPong(150, 20, ['--faults', 'loss=0.05,dup=0.05,reorder=0.05', '--seed', '3']);
    assertSane(ping, 150);
    // The streams are reliable: duplicated datagrams never reach pong twice.
    assert.equal(echoed, 170);
  });

  it('ping exits 1 when no pong answers within the connect timeout', async () => {
    const channels = ['--channel', await loopbackChannel(), '--pong-channel', await loopbackChannel()];
    const ping = startSkein(['ping', ...channels, '--connect-timeout-ms', '300', '--test-profile']);
    const status = await ping.waitForExit(10_000);
    assert.equal(status.code, 1, ping.describe());
    assert.match(ping.stderr, /not connected within 300 ms/);
  });
});
