/**
 * Launch fails loudly: an unusable directory, option or variable makes `Skein.launch` throw the
 * named error and leaves nothing running; a Skein whose driver failed says so in every call.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Skein } from '../../../src/skein.js';
import { ErrorCode, SkeinError } from '../../../src/util/errors.js';
import { killAllFixtures, loopbackChannel, startFixture } from '../../support/system-processes.js';

after(() => killAllFixtures());

function launchError(options: Parameters<typeof Skein.launch>[0]): { error: SkeinError; handled: unknown[] } {
  const handled: unknown[] = [];
  let skein: Skein | undefined;
  try {
    skein = Skein.launch({ testProfile: true, env: {}, ...options, errorHandler: (e) => handled.push(e) });
  } catch (error) {
    assert.ok(error instanceof SkeinError, `launch threw a SkeinError, got ${String(error)}`);
    return { error, handled };
  }
  skein.destroy();
  assert.fail('launch should have thrown');
}

test('a directory that cannot be created fails launch with ERR_SKEIN_STORAGE_FAILED naming it and where it came from', () => {
  const fromOption = launchError({ dir: '/dev/null/skein', driver: { publishSnapshots: true } });
  assert.equal(fromOption.error.code, ErrorCode.STORAGE_FAILED);
  assert.match(fromOption.error.message, /'\/dev\/null\/skein' \(from the dir option\).*ENOTDIR/);
  assert.deepEqual(fromOption.handled, [], 'the cause is thrown, not only sent to the error handler');

  const fromEnv = launchError({ env: { SKEIN_DIR: '/dev/null/from-env' }, driver: { publishSnapshots: true } });
  assert.equal(fromEnv.error.code, ErrorCode.STORAGE_FAILED);
  assert.match(fromEnv.error.message, /'\/dev\/null\/from-env' \(from SKEIN_DIR\)/);
});

test('a directory that is a file, or not writable, fails launch too; a good one works and is cleaned up', async () => {
  const base = mkdtempSync(join(tmpdir(), 'skein-launch-'));
  try {
    const file = join(base, 'a-file');
    writeFileSync(file, 'x');
    assert.equal(launchError({ dir: file, driver: { publishSnapshots: true } }).error.code, ErrorCode.STORAGE_FAILED);
    const good = join(base, 'dir');
    const skein = Skein.launch({ testProfile: true, env: {}, dir: good, driver: { publishSnapshots: true } });
    assert.deepEqual(readdirSync(good), [`${process.pid}.json`], 'the first snapshot is written at launch');
    assert.equal(skein.isClosed, false);
    await skein.close();
    assert.deepEqual(readdirSync(good), [], 'close removes the snapshot');
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});

test('bad options and variables fail launch with the named error', () => {
  assert.equal(launchError({ driver: { termBufferLength: 100 } }).error.code, ErrorCode.CONFIG_INVALID);
  const env = launchError({ testProfile: false, env: { SKEIN_TERM_BUFFER_LENGTH: 'abc' } }).error;
  assert.equal(env.code, ErrorCode.CONFIG_INVALID);
  assert.match(env.message, /SKEIN_TERM_BUFFER_LENGTH=abc/);
  const unknown = launchError({ drvier: {} } as never).error;
  assert.equal(unknown.code, ErrorCode.CONFIG_UNKNOWN_OPTION);
  assert.match(unknown.message, /did you mean 'driver'/);
});

test('a driver that failed while running: every call says so, with the cause', { timeout: 30_000 }, async () => {
  const fixture = startFixture('driver-failure', { channel: await loopbackChannel(), streamId: 77 });
  const outcome = await fixture.waitForEvent('outcome', 20_000);
  const uncaught = fixture.find('uncaught');
  assert.ok(uncaught !== undefined, fixture.describe());
  assert.equal(uncaught['name'], 'AssertionFailure');
  assert.equal(outcome['isClosed'], true);
  const failure = outcome['failure'] as Record<string, unknown>;
  assert.equal(failure['code'], ErrorCode.DRIVER_FAILED);
  assert.match(String(failure['message']), /a broken invariant in a duty cycle/);
  for (const call of ['addPublication', 'addSubscription', 'createWorkerLink', 'pendingConnectedWait', 'connectedAfter'] as const) {
    const result = outcome[call] as Record<string, unknown>;
    assert.equal(result['ok'], false, `${call}: ${JSON.stringify(result)}`);
    assert.equal(result['code'], ErrorCode.DRIVER_FAILED, `${call}: ${JSON.stringify(result)}`);
    assert.match(String(result['message']), /a broken invariant in a duty cycle/, call);
  }
  assert.equal(outcome['offer'], -4, 'offer returns CLOSED');
  assert.equal(outcome['publicationClosed'], true);
  assert.equal(outcome['subscriptionClosed'], true);
  assert.deepEqual(outcome['close'], { ok: true, value: 'undefined' });
  const status = await fixture.waitForExit(10_000);
  assert.equal(status.code, 0, fixture.describe());
});
