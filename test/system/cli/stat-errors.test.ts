/** `skein stat` and `skein errors` read what running processes publish, and skip dead ones. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loopbackChannel, startProcess, startSkein, stopAll, type StartedProcess } from '../../support/processes.js';

interface SnapshotJson {
  pid: number;
  counters: { id: number; label: string; value: number | null }[];
  errors: { observationCount: number; message: string }[];
}

async function run(args: string[]): Promise<StartedProcess> {
  const p = startSkein(args);
  await p.waitForExit(10_000);
  return p;
}

/** Runs `skein stat --json` until `accept` holds for the process's snapshot (bounded). */
async function pollSnapshot(dir: string, pid: number, accept: (s: SnapshotJson) => boolean, timeoutMs: number): Promise<SnapshotJson> {
  const deadline = performance.now() + timeoutMs;
  let last = '';
  while (performance.now() < deadline) {
    const stat = await run(['stat', '--dir', dir, '--pid', String(pid), '--json']);
    last = stat.describe();
    if (stat.status?.code === 0) {
      const snapshots = stat.lastJson<SnapshotJson[]>();
      if (snapshots.length === 1 && accept(snapshots[0]!)) return snapshots[0]!;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`no matching snapshot of pid ${pid} within ${timeoutMs} ms; last: ${last}`);
}

describe('skein stat and skein errors', { timeout: 60_000 }, () => {
  let dir = '';
  let sub: StartedProcess;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'skein-stat-'));
    const channel = await loopbackChannel();
    sub = startSkein(['sub', '--channel', channel, '--dir', dir, '--test-profile']);
    await sub.waitForLine(/subscribed to/, 5000, 'stderr');
    // A slow publisher keeps the stream (and its per-image counters) alive for the whole suite.
    const pub = startSkein(['pub', '--channel', channel, '--rate', '200', '--test-profile']);
    await pub.waitForLine(/publishing to/, 5000, 'stderr');
    await sub.waitForLine(/available image/, 10_000, 'stderr');
  });

  after(async () => {
    await stopAll();
    rmSync(dir, { recursive: true, force: true });
  });

  it('shows the counters of a running subscriber, with traffic counted', async () => {
    const value = (s: SnapshotJson, label: RegExp): number => s.counters.find((c) => label.test(c.label))?.value ?? 0;
    const snapshot = await pollSnapshot(dir, sub.pid, (s) => value(s, /^Bytes received$/) > 0 && value(s, /^sub-pos: /) > 0, 10_000);
    assert.equal(snapshot.pid, sub.pid);
    const table = await run(['stat', '--dir', dir, '--pid', String(sub.pid)]);
    assert.equal(table.status?.code, 0, table.describe());
    assert.match(table.stdout, new RegExp(`^pid ${sub.pid}: started `, 'm'));
    assert.match(table.stdout, /^\s+\d+:\s+[1-9][\d,]* - Bytes received$/m);
    assert.match(table.stdout, /^\s+\d+:\s+[1-9][\d,]* - sub-pos: .*aeron:udp\?endpoint=127\.0\.0\.1:\d+/m);
    const lines = table.stdout.trim().split('\n').slice(1);
    for (const line of lines) assert.match(line, /^\s*\d+: +(n\/a|-?[\d,]+) - \S/);
    // Every counter the JSON listed by id shows up with the same label (ids are stable while it runs).
    for (const counter of snapshot.counters.filter((c) => !c.label.includes(':'))) {
      assert.ok(lines.some((line) => line.trimStart().startsWith(`${counter.id}: `) && line.endsWith(` - ${counter.label}`)), counter.label);
    }
  });

  it('skips snapshot files of processes that are gone', async () => {
    const gone = startProcess(process.execPath, ['-e', '']);
    await gone.waitForExit(10_000);
    const live = readFileSync(join(dir, `${sub.pid}.json`), 'utf8');
    writeFileSync(join(dir, `${gone.pid}.json`), live.replace(`"pid":${sub.pid}`, `"pid":${gone.pid}`));
    const all = await run(['stat', '--dir', dir, '--json']);
    assert.equal(all.status?.code, 0, all.describe());
    assert.deepEqual(all.lastJson<SnapshotJson[]>().map((s) => s.pid), [sub.pid]);
    const one = await run(['stat', '--dir', dir, '--pid', String(gone.pid)]);
    assert.equal(one.status?.code, 1, one.describe());
    assert.match(one.stderr, new RegExp(`process ${gone.pid} publishes nothing`));
  });

  it('prints the distinct-error log of a running process', async () => {
    const text = await run(['errors', '--dir', dir, '--pid', String(sub.pid)]);
    assert.equal(text.status?.code, 0, text.describe());
    assert.match(text.stdout, new RegExp(`^pid ${sub.pid}: \\d+ distinct errors`, 'm'));
    const json = await run(['errors', '--dir', dir, '--pid', String(sub.pid), '--json']);
    assert.equal(json.status?.code, 0, json.describe());
    const logs = json.lastJson<{ pid: number; errors: unknown[] }[]>();
    assert.equal(logs.length, 1);
    assert.equal(logs[0]!.pid, sub.pid);
    assert.ok(Array.isArray(logs[0]!.errors));
  });

  it('prints each distinct error with its count, first and last time, code and message', async () => {
    // A snapshot as a live process (this test runner) would publish it, with two errors logged.
    const own = mkdtempSync(join(tmpdir(), 'skein-errors-'));
    try {
      const first = Date.UTC(2024, 0, 2, 3, 4, 5, 678);
      const snapshot = {
        format: 'skein-snapshot', version: 1, pid: process.pid, startedAtMs: first, snapshotAtMs: first + 5000,
        counters: [{ id: 0, typeId: 0, label: 'Errors', value: 4 }],
        errors: [
          { observationCount: 3, firstObservationMs: first, lastObservationMs: first + 2000, code: 'ERR_SKEIN_TRANSPORT_SEND_FAILED', message: 'send failed to 10.0.0.1:9', stack: 'SkeinError: send failed\n    at send (x.js:1:1)' },
          { observationCount: 1, firstObservationMs: first + 1000, lastObservationMs: first + 1000, message: 'plain failure', stack: 'Error: plain failure' },
        ],
        errorOverflowCount: 2,
      };
      writeFileSync(join(own, `${process.pid}.json`), JSON.stringify(snapshot));
      const r = await run(['errors', '--dir', own, '--stack']);
      assert.equal(r.status?.code, 0, r.describe());
      const lines = r.stdout.split('\n');
      assert.equal(lines[0], `pid ${process.pid}: 2 distinct errors (2 more not kept)`);
      assert.match(lines[1]!, /^3 observations from \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} to \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}:$/);
      assert.equal(lines[2], '  ERR_SKEIN_TRANSPORT_SEND_FAILED: send failed to 10.0.0.1:9');
      assert.equal(lines[3], '    SkeinError: send failed');
      assert.match(r.stdout, /^1 observations from .*:\n  plain failure\n    Error: plain failure$/m);
      const counters = await run(['stat', '--dir', own]);
      assert.match(counters.stdout, /^\s+0:\s+4 - Errors$/m);
    } finally {
      rmSync(own, { recursive: true, force: true });
    }
  });

  it('stat --watch refreshes until interrupted', async () => {
    const watch = startSkein(['stat', '--dir', dir, '--pid', String(sub.pid), '--watch', '--interval-ms', '200']);
    await watch.waitForLine(/Bytes received/, 5000, 'stdout');
    const first = watch.stdout.length;
    await watch.waitForLine(/^pid \d+/, 5000, 'stdout');
    const deadline = performance.now() + 5000;
    while (watch.stdout.length < first * 2 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.ok(watch.stdout.length >= first * 2, watch.describe());
    watch.signal('SIGINT');
    assert.equal((await watch.waitForExit(5000)).code, 0, watch.describe());
  });
});
