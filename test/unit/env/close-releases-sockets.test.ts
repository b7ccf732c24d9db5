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
import { NodeDatagramTransport } from '../../../src/env/node-datagram-transport.js';
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

test('NodeDatagramTransport.whenClosed waits for a socket that began closing while an earlier close was being waited out', async () => {
  const transport = new NodeDatagramTransport();
  for (let round = 0; round < 5; round++) {
    const first = transport.open({ family: 4, bindAddress: '127.0.0.1', bindPort: 0 });
    const second = transport.open({ family: 4, bindAddress: '127.0.0.1', bindPort: 0 });
    await waitFor(() => first.status === 'bound' && second.status === 'bound', 5000, 'both sockets bound');
    // The first closes in one loop turn; the second begins closing in the timers phase of the
    // next, after the first was reported closed but before the two turns its release takes.
    const leftOpen = await new Promise<string[]>((resolve) => {
      setTimeout(() => {
        setTimeout(() => {
          second.close();
          void transport.whenClosed().then(() => resolve(process.getActiveResourcesInfo().filter((r) => r === 'UDPWrap')));
        }, 0);
        first.close();
        // Busy for 2 ms, so that the inner timer is due when the next turn begins.
        const until = performance.now() + 2;
        while (performance.now() < until);
      }, 0);
    });
    assert.deepEqual(leftOpen, [], `round ${round}: no UDP handle is left when whenClosed resolves`);
  }
});
