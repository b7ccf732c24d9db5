/**
 * threadCpuUs: the calling thread's own CPU time. It grows with this thread's work, never by more
 * than the process's total; and a worker reads its own thread's time, not the main thread's.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { threadCpuUs } from '../../../src/env/thread-cpu.js';

const LINUX = process.platform === 'linux';

function spinCpu(us: number): void {
  const start = threadCpuUs();
  const deadline = Date.now() + 10_000;
  while (threadCpuUs() - start < us && Date.now() < deadline) {
    // Busy: only this thread's own running counts.
  }
}

test('threadCpuUs grows with this thread\'s work and by no more than the process\'s CPU time', () => {
  const before = threadCpuUs();
  const processBefore = process.cpuUsage();
  spinCpu(50_000);
  const grew = threadCpuUs() - before;
  const processGrew = process.cpuUsage(processBefore);
  assert.ok(grew >= 50_000, `grew ${grew} us`);
  // Both clocks tick in scheduler units; allow a few ms of difference in the totals' rounding.
  assert.ok(grew <= processGrew.user + processGrew.system + 5_000, `thread ${grew} us, process ${processGrew.user + processGrew.system} us`);
});

test('threadCpuUs in a worker is the worker\'s own time: a worker spinning 100 ms of CPU reads it while the waiting main thread does not', { skip: !LINUX && 'per-thread time is read from /proc on Linux' }, async () => {
  const source = `
    const { parentPort } = require('node:worker_threads');
    import(${JSON.stringify(new URL('../../../src/env/thread-cpu.js', import.meta.url).href)}).then(({ threadCpuUs }) => {
      const start = threadCpuUs();
      const deadline = Date.now() + 10_000;
      while (threadCpuUs() - start < 100_000 && Date.now() < deadline) {}
      parentPort.postMessage(threadCpuUs() - start);
    });
  `;
  const mainBefore = threadCpuUs();
  const worker = new Worker(source, { eval: true });
  try {
    const workerGrew = await new Promise<number>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    const mainGrew = threadCpuUs() - mainBefore;
    assert.ok(workerGrew >= 100_000, `worker grew ${workerGrew} us`);
    // The main thread only waited (starting the worker costs it some ms, far from 100).
    assert.ok(mainGrew < workerGrew / 2, `main grew ${mainGrew} us while the worker grew ${workerGrew} us`);
  } finally {
    await worker.terminate();
  }
});
