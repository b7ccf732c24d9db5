/**
 * What a user of the CLI and of the library sees at the end of a run: `--verify` with nothing to
 * verify is no success; an interrupt that arrives twice at once (a signal to the process group,
 * as `timeout -s INT` sends) still gives the JSON summary; and snapshot files go with their
 * process on every exit path, or are removed and ignored once it is gone.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loopbackChannel, startProcess, startSkein, stopAll } from '../../support/processes.js';
import { Skein } from '../../../src/skein.js';

after(() => stopAll());

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'skein-exit-'));
}

test('skein sub --verify with nothing received: verified false, exit 1, and says why', { timeout: 20_000 }, async () => {
  const dir = tempDir();
  try {
    const sub = startSkein(['sub', '--channel', await loopbackChannel(), '--verify', '--timeout-ms', '300', '--test-profile', '--dir', dir]);
    const status = await sub.waitForExit(15_000);
    assert.equal(status.code, 1, sub.describe());
    const summary = sub.lastJson<{ received: number; verified: boolean }>();
    assert.equal(summary.received, 0);
    assert.equal(summary.verified, false);
    assert.match(sub.stderr, /nothing was received, so nothing was verified/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a busy skein pub interrupted twice at once (as `timeout -s INT` does) still prints its summary and exits 0', { timeout: 30_000 }, async () => {
  const dir = tempDir();
  try {
    const channel = await loopbackChannel();
    const sub = startSkein(['sub', '--channel', channel, '--test-profile', '--dir', dir]);
    await sub.waitForLine(/subscribed to/, 10_000, 'stderr');
    const pub = startSkein(['pub', '--channel', channel, '--size', '32', '--test-profile', '--dir', dir]);
    await pub.waitForLine(/msgs\/s/, 10_000, 'stderr');
    // timeout(1) signals the command and then its whole process group, the command included: the
    // publisher, offering flat out, sees SIGINT twice within a few milliseconds.
    pub.signal('SIGINT');
    await new Promise((resolve) => setTimeout(resolve, 20));
    pub.signal('SIGINT');
    const status = await pub.waitForExit(20_000);
    assert.equal(status.code, 0, pub.describe());
    const summary = pub.lastJson<{ sent: number }>();
    assert.ok(summary.sent > 0, pub.describe());
    assert.doesNotMatch(pub.stderr, /again, exiting now/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('onShutdownSignal: a repeat within the grace time is the same request; a later one exits at once with 130', { timeout: 20_000 }, async () => {
  const runtime = JSON.stringify(new URL('../../../src/cli/cli-runtime.js', import.meta.url).href);
  const child = startProcess(process.execPath, [
    '--input-type=module',
    '-e',
    `import { onShutdownSignal, SIGNAL_REPEAT_GRACE_MS } from ${runtime};
     let calls = 0;
     onShutdownSignal(() => calls++);
     process.kill(process.pid, 'SIGINT');
     process.kill(process.pid, 'SIGINT');
     setTimeout(() => {
       console.log(JSON.stringify({ calls, alive: true }));
       setTimeout(() => process.kill(process.pid, 'SIGINT'), SIGNAL_REPEAT_GRACE_MS);
       setTimeout(() => console.log('still running'), SIGNAL_REPEAT_GRACE_MS + 5000);
     }, 200);`,
  ]);
  const status = await child.waitForExit(15_000);
  assert.equal(status.code, 130, child.describe());
  assert.deepEqual(JSON.parse(child.stdout.split('\n')[0]!), { calls: 1, alive: true });
  assert.doesNotMatch(child.stdout, /still running/);
  assert.match(child.stderr, /received SIGINT again, exiting now/);
});

test('snapshot files: removed on process.exit without close, on a failed bind, and at the next launch after SIGKILL; stat ignores dead ones', { timeout: 30_000 }, async () => {
  const dir = tempDir();
  try {
    const script = (body: string): string =>
      `import { Skein } from ${JSON.stringify(new URL('../../../src/skein.js', import.meta.url).href)};\n` +
      `const skein = Skein.launch({ testProfile: true, env: {}, dir: ${JSON.stringify(dir)}, driver: { publishSnapshots: true } });\n${body}`;
    // process.exit without closing Skein
    const exiting = startProcess(process.execPath, ['--input-type=module', '-e', script(`console.log(JSON.stringify(${JSON.stringify('launched')})); process.exit(0);`)]);
    assert.equal((await exiting.waitForExit(10_000)).code, 0, exiting.describe());
    assert.deepEqual(readdirSync(dir), [], 'process.exit left no snapshot');

    // a CLI command whose bind fails (the default profile publishes snapshots; the test profile does not)
    const channel = await loopbackChannel();
    const first = startSkein(['sub', '--channel', channel, '--dir', dir]);
    await first.waitForLine(/subscribed to/, 10_000, 'stderr');
    const second = startSkein(['sub', '--channel', channel, '--dir', dir]);
    const secondStatus = await second.waitForExit(10_000);
    assert.equal(secondStatus.code, 1, second.describe());
    assert.match(second.stderr, /EADDRINUSE/);
    assert.deepEqual(readdirSync(dir), [`${first.pid}.json`], 'the failed command left no snapshot');

    // SIGKILL leaves the file; stat ignores it; the next launch removes it
    first.signal('SIGKILL');
    await first.waitForExit(10_000);
    assert.ok(existsSync(join(dir, `${first.pid}.json`)), 'a killed process cannot remove its file');
    const stat = startSkein(['stat', '--dir', dir, '--json']);
    await stat.waitForExit(10_000);
    assert.deepEqual(stat.lastJson<unknown[]>(), [], 'stat ignores the dead process');
    writeFileSync(join(dir, '999999999.json'), '{}');
    const skein = Skein.launch({ testProfile: true, env: {}, dir, driver: { publishSnapshots: true } });
    try {
      assert.deepEqual(readdirSync(dir), [`${process.pid}.json`], 'launch removed the files of dead processes');
    } finally {
      await skein.close();
    }
    assert.deepEqual(readdirSync(dir), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
