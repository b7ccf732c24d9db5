import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loopbackChannel, startSkein, stopAll, type StartedProcess } from '../../support/processes.js';

/**
 * A SIGKILLed process leaves nothing that stops a restart: `skein sub` and `skein pub` killed
 * mid-stream can be started again at once on the same UDP port and the same --dir (where their
 * counter snapshots are left behind), the new pair delivers a complete stream, and `skein stat`
 * lists only the live processes. A subscriber killed and restarted on its port while the publisher
 * keeps running gets the stream again (it asks the publisher for a SETUP) and sees it without
 * gaps or duplicates from where it joined.
 */

after(() => stopAll());

interface SubSummary {
  received: number;
  gaps: number;
  duplicates: number;
  outOfOrder: number;
  malformed: number;
  sessions: number;
  reason: string;
}

function common(channel: string, streamId: number, dir?: string): string[] {
  return ['--test-profile', '--channel', channel, '--stream', String(streamId), ...(dir === undefined ? [] : ['--dir', dir])];
}

async function killed(p: StartedProcess): Promise<void> {
  p.signal('SIGKILL');
  assert.deepEqual(await p.waitForExit(5000), { code: null, signal: 'SIGKILL' }, p.describe());
}

/** Pids `skein stat --json` reports for `dir`. */
async function statPids(dir: string): Promise<number[]> {
  const stat = startSkein(['stat', '--dir', dir, '--json']);
  const status = await stat.waitForExit(10_000);
  assert.equal(status.code, 0, stat.describe());
  return (stat.lastJson<{ pid: number }[]>() as unknown as { pid: number }[]).map((s) => s.pid).sort((a, b) => a - b);
}

async function waitForPids(dir: string, pids: number[], timeoutMs: number): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const seen = await statPids(dir);
    if (pids.every((pid) => seen.includes(pid)) || Date.now() > deadline) return seen;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

describe('restarts after SIGKILL', { timeout: 120_000 }, () => {
  it('killed skein sub and skein pub restart on the same port and --dir and deliver a complete stream', async (t) => {
    const channel = await loopbackChannel();
    const dir = mkdtempSync(join(tmpdir(), 'skein-restart-'));
    const started: StartedProcess[] = [];
    try {
      const sub1 = startSkein(['sub', ...common(channel, 3001, dir), '--verify']);
      started.push(sub1);
      await sub1.waitForLine(/subscribed to/, 10_000, 'stderr');
      const pub1 = startSkein(['pub', ...common(channel, 3001, dir), '--rate', '5000']);
      started.push(pub1);
      await sub1.waitForLine(/available image/, 10_000, 'stderr');
      const before = await waitForPids(dir, [sub1.pid, pub1.pid], 10_000);
      assert.deepEqual(before, [sub1.pid, pub1.pid].sort((a, b) => a - b), 'both publish counters while running');
      await killed(pub1);
      await killed(sub1);
      const left = readdirSync(dir);
      assert.ok(left.includes(`${sub1.pid}.json`) && left.includes(`${pub1.pid}.json`), `the killed processes left their snapshots: ${left.join(', ')}`);

      const count = 5000;
      const sub2 = startSkein(['sub', ...common(channel, 3001, dir), '--verify', '--count', String(count), '--timeout-ms', '30000']);
      started.push(sub2);
      await sub2.waitForLine(/subscribed to/, 10_000, 'stderr');
      const pub2 = startSkein(['pub', ...common(channel, 3001, dir), '--count', String(count), '--rate', '2000']);
      started.push(pub2);
      await sub2.waitForLine(/available image/, 10_000, 'stderr');
      const live = await waitForPids(dir, [sub2.pid, pub2.pid], 10_000);
      t.diagnostic(`skein stat lists ${JSON.stringify(live)}; killed ${sub1.pid}, ${pub1.pid}`);
      assert.deepEqual(live, [sub2.pid, pub2.pid].sort((a, b) => a - b), 'skein stat lists the live processes only');
      assert.equal((await sub2.waitForExit(30_000)).code, 0, sub2.describe());
      assert.equal((await pub2.waitForExit(15_000)).code, 0, pub2.describe());
      const summary = sub2.lastJson<SubSummary>();
      assert.deepEqual(
        { received: summary.received, gaps: summary.gaps, duplicates: summary.duplicates, outOfOrder: summary.outOfOrder, malformed: summary.malformed, sessions: summary.sessions },
        { received: count, gaps: 0, duplicates: 0, outOfOrder: 0, malformed: 0, sessions: 1 },
        sub2.describe(),
      );
    } finally {
      await Promise.allSettled(started.map((p) => p.kill()));
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a subscriber killed and restarted on its port while the publisher runs gets the stream again without gaps', async (t) => {
    const channel = await loopbackChannel();
    const started: StartedProcess[] = [];
    try {
      const sub1 = startSkein(['sub', ...common(channel, 3002), '--verify']);
      started.push(sub1);
      await sub1.waitForLine(/subscribed to/, 10_000, 'stderr');
      const pub = startSkein(['pub', ...common(channel, 3002), '--rate', '5000']);
      started.push(pub);
      const session = /\(session (-?\d+)\)/.exec(await pub.waitForLine(/publishing to/, 10_000, 'stderr'))![1];
      await sub1.waitForLine(/available image/, 10_000, 'stderr');
      await new Promise((resolve) => setTimeout(resolve, 500));
      await killed(sub1);
      const restartedAtMs = Date.now();
      const sub2 = startSkein(['sub', ...common(channel, 3002), '--verify', '--count', '3000', '--timeout-ms', '20000']);
      started.push(sub2);
      await sub2.waitForLine(/subscribed to/, 10_000, 'stderr');
      const available = await sub2.waitForLine(/available image/, 10_000, 'stderr');
      t.diagnostic(`the restarted subscriber has an image ${Date.now() - restartedAtMs} ms after the restart: ${available}`);
      assert.ok(available.includes(`session ${session}`), 'the image of the same, still running publication');
      assert.equal((await sub2.waitForExit(25_000)).code, 0, sub2.describe());
      const summary = sub2.lastJson<SubSummary>();
      assert.deepEqual(
        { received: summary.received, gaps: summary.gaps, duplicates: summary.duplicates, outOfOrder: summary.outOfOrder, malformed: summary.malformed },
        { received: 3000, gaps: 0, duplicates: 0, outOfOrder: 0, malformed: 0 },
        sub2.describe(),
      );
      assert.ok(pub.isRunning, 'the publisher kept running throughout');
      pub.signal('SIGTERM');
      assert.equal((await pub.waitForExit(10_000)).code, 0, pub.describe());
    } finally {
      await Promise.allSettled(started.map((p) => p.kill()));
    }
  });
});
