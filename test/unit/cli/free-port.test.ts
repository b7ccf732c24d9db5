/**
 * Ports picked for tests and demos are never handed out twice by one process: a port picked but
 * not yet bound is still free, so a caller that picks several addresses before binding any (three
 * providers' addresses, each a pair) must not get one port twice, nor a pair's second port again.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { freeUdpPort, freeUdpPortPair } from '../../../src/cli/free-port.js';

test('freeUdpPort and freeUdpPortPair never hand out a port twice, nor a pair that overlaps an earlier one', async () => {
  // 600 picks among ~22,000 ports: without the process's record of what it handed out, a repeat
  // (or a pair overlapping another) is all but certain (about 1 - e^-24 for the pairs alone).
  const taken = new Map<number, string>();
  const note = (port: number, what: string): void => {
    assert.ok(!taken.has(port), `port ${port} handed out as ${what} was handed out before as ${taken.get(port)}`);
    taken.set(port, what);
  };
  for (let i = 0; i < 300; i++) {
    const pair = await freeUdpPortPair();
    note(pair, `pair ${i}`);
    note(pair + 1, `the second of pair ${i}`);
    note(await freeUdpPort(), `single ${i}`);
  }
  assert.equal(taken.size, 900);
});
