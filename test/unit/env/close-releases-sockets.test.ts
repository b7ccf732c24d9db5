/**
 * A Skein's close resolves only once its UDP sockets are released by the operating system, so an
 * owner that closes it leaves nothing open (A003: nothing left behind): after the close, no UDP
 * handle of this process is active.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Skein } from '../../../src/skein.js';
import { freeUdpPort, waitFor } from '../../support/wait.js';

test('Skein.close resolves after its UDP sockets are released', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'skein-close-'));
  try {
    const skein = Skein.launch({ testProfile: true, seed: 3, dir });
    const channel = `aeron:udp?endpoint=127.0.0.1:${await freeUdpPort()}`;
    await skein.addSubscription(channel, 1);
    const publication = await skein.addPublication(channel, 1);
    await waitFor(() => publication.isConnected, 5000, 'connected');
    assert.ok(process.getActiveResourcesInfo().includes('UDPWrap'), 'the sockets are open while it runs');
    await skein.close();
    assert.deepEqual(process.getActiveResourcesInfo().filter((r) => r === 'UDPWrap'), [], 'and released when close resolves');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
