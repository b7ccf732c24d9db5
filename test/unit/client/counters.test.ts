/**
 * Counters a client allocates in the driver: they appear in the driver's counters with their
 * type, label and key, take the values the client sets, and are freed when closed or when the
 * client closes; a full table rejects with ERR_SKEIN_COUNTERS_FULL.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Skein } from '../../../src/skein.js';
import type { Counter } from '../../../src/client/counter.js';
import { ErrorCode, SkeinError } from '../../../src/util/errors.js';
import { waitFor } from '../../support/wait.js';

test('a client counter is allocated, set, seen by the driver and freed on close', async () => {
  const skein = Skein.launch({ testProfile: true, seed: 21 });
  try {
    const counters = skein.driver.counters;
    const before = counters.allocatedCount;
    const counter = await skein.client.addCounter(100, 'rec-pos: 7 42 1001 aeron:ipc - archiveId=3', { recordingId: 7, sessionId: 42, archiveId: 3, sourceIdentity: 'aeron:ipc' });
    assert.equal(counters.allocatedCount, before + 1);
    assert.equal(counters.typeId(counter.id), 100);
    assert.equal(counters.label(counter.id), 'rec-pos: 7 42 1001 aeron:ipc - archiveId=3');
    assert.deepEqual({ ...counters.key(counter.id) }, { recordingId: 7, sessionId: 42, archiveId: 3, sourceIdentity: 'aeron:ipc' });
    counter.set(123_456_789_012);
    assert.equal(counters.get(counter.id), 123_456_789_012);
    assert.equal(counter.value, 123_456_789_012);
    counter.close();
    counter.close();
    assert.throws(() => counter.set(1), (e: unknown) => e instanceof SkeinError && e.code === ErrorCode.CLOSED && e.message.includes(`counter ${counter.id}`));
    await waitFor(() => !counters.isAllocated(counter.id), 2000, 'the driver to free the counter');
    assert.equal(counters.allocatedCount, before);
    await assert.rejects(skein.client.addCounter(1.5, 'x'), (e: unknown) => e instanceof SkeinError && e.code === ErrorCode.ARG_INVALID && e.message.includes('typeId 1.5'));
  } finally {
    await skein.close();
  }
});

test("a client's counters are freed when it closes, and a full table is refused by name", async () => {
  const skein = Skein.launch({ testProfile: true, seed: 22 });
  try {
    const counters = skein.driver.counters;
    const before = counters.allocatedCount;
    const free = counters.capacity - before;
    const held: Counter[] = [];
    for (let i = 0; i < free; i++) held.push(await skein.client.addCounter(1000, `c${i}`));
    await assert.rejects(skein.client.addCounter(1000, 'one too many'), (e: unknown) => e instanceof SkeinError && e.code === ErrorCode.COUNTERS_FULL && e.message.includes("'one too many'"));
    skein.client.close();
    await waitFor(() => held.every((c) => !counters.isAllocated(c.id)), 2000, 'the driver to free the closed client\'s counters');
    assert.ok(held.every((c) => c.isClosed));
    assert.ok(counters.allocatedCount <= before);
  } finally {
    await skein.close();
  }
});
