import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createNodeScheduler } from '../../../src/env/scheduler.js';
import { createNodeTimers } from '../../../src/env/timers.js';

test('NodeScheduler runs callbacks after their delay and cancelAll cancels the rest', async () => {
  const scheduler = createNodeScheduler();
  const ran: string[] = [];
  scheduler.schedule(1, () => ran.push('a'));
  scheduler.schedule(1000, () => ran.push('late'));
  assert.equal(scheduler.pendingCount, 2);
  // The scheduler's timers are unref'd; a ref'd timer keeps this test alive while waiting.
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.deepEqual(ran, ['a']);
  assert.equal(scheduler.pendingCount, 1);
  scheduler.cancelAll();
  assert.equal(scheduler.pendingCount, 0);
});

test('node timers run immediates and timeouts and can be cleared', async () => {
  const timers = createNodeTimers({ ref: true });
  const ran: string[] = [];
  const cleared = timers.scheduleImmediate(() => ran.push('cleared immediate'));
  timers.cancelImmediate(cleared);
  timers.scheduleImmediate(() => ran.push('immediate'));
  const clearedTimeout = timers.scheduleTimeout(() => ran.push('cleared timeout'), 1);
  timers.cancelTimeout(clearedTimeout);
  timers.scheduleTimeout(() => ran.push('timeout'), 1);
  await new Promise((resolve) => setTimeout(resolve, 20));
  // Whether a 1 ms timeout or an immediate runs first depends on where in the event loop the test
  // starts (a slow turn lets the timeout expire first); what matters is that both ran, once.
  assert.deepEqual([...ran].sort(), ['immediate', 'timeout']);
});
