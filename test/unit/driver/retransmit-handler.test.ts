import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RetransmitHandler } from '../../../src/driver/retransmit-handler.js';

function recorder(): { resent: string[]; resend: (termId: number, termOffset: number, length: number) => void } {
  const resent: string[] = [];
  return { resent, resend: (termId, termOffset, length) => resent.push(`${termId}:${termOffset}+${length}`) };
}

test('a burst of NAKs for one range costs one retransmission until the linger ends', () => {
  const handler = new RetransmitHandler(0, 10_000_000);
  const r = recorder();
  handler.onNak(5, 1024, 64, 0, r);
  handler.onNak(5, 1024, 64, 100_000, r);
  handler.onNak(5, 1056, 32, 200_000, r);
  assert.deepEqual(r.resent, ['5:1024+64']);
  handler.process(10_000_001, r);
  handler.onNak(5, 1024, 64, 10_000_002, r);
  assert.deepEqual(r.resent, ['5:1024+64', '5:1024+64']);
});

test('NAKs for different ranges are served in parallel, up to the slot count', () => {
  const handler = new RetransmitHandler(0, 10_000_000, 2);
  const r = recorder();
  handler.onNak(5, 0, 32, 0, r);
  handler.onNak(5, 4096, 32, 0, r);
  handler.onNak(6, 0, 32, 0, r);
  assert.deepEqual(r.resent, ['5:0+32', '5:4096+32']);
  assert.equal(handler.droppedNaks, 1);
});

test('a retransmit delay postpones the resend to its deadline', () => {
  const handler = new RetransmitHandler(1000, 10_000);
  const r = recorder();
  handler.onNak(1, 64, 32, 0, r);
  assert.equal(handler.process(999, r), 0);
  assert.deepEqual(r.resent, []);
  assert.equal(handler.process(1000, r), 1);
  assert.deepEqual(r.resent, ['1:64+32']);
});
