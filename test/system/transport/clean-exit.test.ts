import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { killAllFixtures, loopbackChannel, startFixture, type FixtureProcess } from '../../support/system-processes.js';

/**
 * After `await skein.close()` nothing is left open: a process that used UDP and IPC publications
 * and subscriptions exits on its own (the fixture never calls process.exit), and right after the
 * close `process.getActiveResourcesInfo()` shows no socket, timer or immediate.
 */

after(() => killAllFixtures());

/** Resource types that would mean something of Skein's is still open. */
const LEFT_OPEN = /UDP|Timeout|Immediate|FSReq|Interval/;
const EXIT_BOUND_MS = 3000;

test('a process exits on its own after close, leaving no socket or timer', { timeout: 40_000 }, async (t) => {
  const channel = await loopbackChannel();
  let fixture: FixtureProcess | undefined;
  try {
    fixture = startFixture('close-check', { channel, streamId: 1005, seed: 51, count: 2000, stillAliveAfterMs: EXIT_BOUND_MS });
    const exchanged = await fixture.waitForEvent('exchanged', 20_000);
    assert.deepEqual({ udp: exchanged.udp, ipc: exchanged.ipc }, { udp: 2000, ipc: 2000 });
    const closed = await fixture.waitForEvent('closed', 10_000);
    const resources = await fixture.waitForEvent('resources', 5000);
    const active = resources.active as string[];
    t.diagnostic(`close took ${String(closed.closeMs)} ms; active resources after ${String(resources.turns)} turns: ${JSON.stringify(active)}`);
    assert.deepEqual(active.filter((type) => LEFT_OPEN.test(type)), [], `nothing of Skein's is active after close\n${fixture.describe()}`);
    const status = await fixture.waitForExit(EXIT_BOUND_MS + 2000);
    const exit = fixture.find('exit');
    assert.equal(fixture.find('still-alive'), undefined, `the process was still alive ${EXIT_BOUND_MS} ms after close\n${fixture.describe()}`);
    assert.deepEqual(status, { code: 0, signal: null }, fixture.describe());
    assert.ok(exit !== undefined && exit.atMs - closed.atMs <= EXIT_BOUND_MS, `exited within ${EXIT_BOUND_MS} ms of the close\n${fixture.describe()}`);
  } finally {
    await fixture?.kill();
  }
});

test('the check sees a timer and a socket left open (control)', { timeout: 30_000 }, async () => {
  const channel = await loopbackChannel();
  let fixture: FixtureProcess | undefined;
  try {
    fixture = startFixture('close-check', { channel, streamId: 1006, seed: 52, count: 100, stillAliveAfterMs: 300, leakMs: 1500 });
    const resources = await fixture.waitForEvent('resources', 20_000);
    const active = resources.active as string[];
    assert.ok(active.some((type) => /UDP/.test(type)) && active.includes('Timeout'), `the leaked socket and timer are listed: ${JSON.stringify(active)}`);
    const stillAlive = await fixture.waitForEvent('still-alive', 5000);
    assert.ok((stillAlive.active as string[]).includes('Timeout'), fixture.describe());
    assert.deepEqual(await fixture.waitForExit(10_000), { code: 0, signal: null }, 'it exits once the leak is closed');
  } finally {
    await fixture?.kill();
  }
});
