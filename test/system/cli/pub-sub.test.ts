/**
 * `skein pub` and `skein sub` as separate processes over UDP loopback: every message arrives once
 * and in order, with and without fragmentation and injected faults.
 */
import { after, afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { PubSummary } from '../../../src/cli/pub-command.js';
import { loopbackChannel, startSkein, stopAll, type StartedProcess } from '../../support/processes.js';

const TEST_PROFILE = ['--test-profile'];

interface SubSummary {
  received: number;
  bytes: number;
  gaps: number;
  duplicates: number;
  outOfOrder: number;
  missing: number;
  malformed: number;
  sessions: number;
  verified: boolean;
  msgsPerSec: number;
  elapsedMs: number;
  reason: string;
}

async function expectExit(p: StartedProcess, code: number, timeoutMs: number): Promise<void> {
  const status = await p.waitForExit(timeoutMs);
  assert.equal(status.code, code, p.describe());
}

/** Runs sub (started first) and pub on a fresh loopback channel; returns both summaries. */
async function pubSub(count: number, pubArgs: string[], subArgs: string[], timeoutMs: number): Promise<{ pub: PubSummary; sub: SubSummary }> {
  const channel = await loopbackChannel();
  const sub = startSkein(['sub', '--channel', channel, '--count', String(count), '--verify', '--timeout-ms', String(timeoutMs), ...TEST_PROFILE, ...subArgs]);
  await sub.waitForLine(/subscribed to/, 5000, 'stderr');
  const pub = startSkein(['pub', '--channel', channel, '--count', String(count), ...TEST_PROFILE, ...pubArgs]);
  await expectExit(sub, 0, timeoutMs + 5000);
  await expectExit(pub, 0, 10_000);
  return { pub: pub.lastJson<PubSummary>(), sub: sub.lastJson<SubSummary>() };
}

function assertComplete(summary: SubSummary, count: number, size: number): void {
  assert.equal(summary.received, count);
  assert.equal(summary.bytes, count * size);
  assert.equal(summary.gaps, 0);
  assert.equal(summary.duplicates, 0);
  assert.equal(summary.outOfOrder, 0);
  assert.equal(summary.missing, 0);
  assert.equal(summary.malformed, 0);
  assert.equal(summary.sessions, 1);
  assert.equal(summary.verified, true);
  assert.equal(summary.reason, 'count');
}

describe('skein pub | skein sub over UDP loopback', { timeout: 60_000 }, () => {
  afterEach(() => stopAll());
  after(() => stopAll());

  it('delivers 200k 32-byte messages in order with no gaps or duplicates', async () => {
    const count = 200_000;
    const { pub, sub } = await pubSub(count, [], [], 30_000);
    assertComplete(sub, count, 32);
    assert.equal(pub.sent, count);
    assert.equal(pub.bytes, count * 32);
    assert.ok(pub.msgsPerSec > 0 && sub.msgsPerSec > 0, JSON.stringify({ pub, sub }));
  });

  it('reassembles fragmented 5000-byte messages', async () => {
    const count = 2000;
    const { pub, sub } = await pubSub(count, ['--size', '5000'], [], 30_000);
    assertComplete(sub, count, 5000);
    assert.equal(pub.sent, count);
  });

  it('recovers from loss, duplication and reordering on both sides', async () => {
    const count = 20_000;
    const faults = ['--faults', 'loss=0.1,dup=0.05,reorder=0.05'];
    const { pub, sub } = await pubSub(count, [...faults, '--seed', '7', '--linger-ms', '1000'], [...faults, '--seed', '8'], 30_000);
    assertComplete(sub, count, 32);
    assert.equal(pub.sent, count);
  });

  it('paces messages to --rate', async () => {
    const count = 500;
    const { pub, sub } = await pubSub(count, ['--rate', '500', '--exclusive'], [], 15_000);
    assertComplete(sub, count, 32);
    // 500 messages at 500/s take about a second; timers may run late under load, never early.
    assert.ok(pub.elapsedMs >= 900, JSON.stringify(pub));
    assert.ok(pub.msgsPerSec <= 560, JSON.stringify(pub));
  });

  it('sends --text payloads that sub --print prints one per line', async () => {
    const channel = await loopbackChannel();
    const sub = startSkein(['sub', '--channel', channel, '--count', '5', '--print', '--timeout-ms', '15000', ...TEST_PROFILE]);
    await sub.waitForLine(/subscribed to/, 5000, 'stderr');
    const pub = startSkein(['pub', '--channel', channel, '--count', '5', '--text', 'hello skein', ...TEST_PROFILE]);
    await expectExit(sub, 0, 20_000);
    await expectExit(pub, 0, 10_000);
    const lines = sub.stdout.trim().split('\n');
    assert.deepEqual(lines.slice(0, 5), ['hello skein 0', 'hello skein 1', 'hello skein 2', 'hello skein 3', 'hello skein 4']);
    assert.equal(sub.lastJson<SubSummary>().received, 5);
  });

  it('sub reports the messages so far and exits 0 on SIGTERM', async () => {
    const channel = await loopbackChannel();
    const sub = startSkein(['sub', '--channel', channel, '--verify', ...TEST_PROFILE]);
    await sub.waitForLine(/subscribed to/, 5000, 'stderr');
    const pub = startSkein(['pub', '--channel', channel, '--count', '1000', ...TEST_PROFILE]);
    await expectExit(pub, 0, 15_000);
    await sub.waitForLine(/totals 1000 messages/, 10_000, 'stderr');
    sub.signal('SIGTERM');
    await expectExit(sub, 0, 10_000);
    const summary = sub.lastJson<SubSummary>();
    assert.equal(summary.reason, 'signal');
    assertComplete({ ...summary, reason: 'count' }, 1000, 32);
  });

  it('sub exits 1 with a summary when --count is not reached within --timeout-ms', async () => {
    const sub = startSkein(['sub', '--channel', await loopbackChannel(), '--count', '10', '--timeout-ms', '300', ...TEST_PROFILE]);
    await expectExit(sub, 1, 10_000);
    const summary = sub.lastJson<SubSummary>();
    assert.equal(summary.reason, 'timeout');
    assert.equal(summary.received, 0);
    assert.match(sub.stderr, /received 0 of 10 messages within 300 ms/);
  });

  it('pub exits 1 with a clear message when no subscriber connects in time', async () => {
    const pub = startSkein(['pub', '--channel', await loopbackChannel(), '--connect-timeout-ms', '300', ...TEST_PROFILE]);
    await expectExit(pub, 1, 10_000);
    assert.match(pub.stderr, /not connected to aeron:udp\?endpoint=127\.0\.0\.1:\d+ stream id 1001 within 300 ms/);
  });
});
