/** `skein demo` (what `npm start` runs) finishes on its own and reports what it measured. */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSkein, stopAll } from '../../support/processes.js';

describe('skein demo', { timeout: 60_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'skein-demo-'));

  after(async () => {
    await stopAll();
    rmSync(dir, { recursive: true, force: true });
  });

  it('streams over UDP and IPC, measures ping-pong and exits 0 within 40 s', async () => {
    const demo = startSkein(['demo'], { env: { SKEIN_DIR: dir } });
    const status = await demo.waitForExit(40_000);
    assert.equal(status.code, 0, demo.describe());
    const out = demo.stdout;
    assert.match(out, /^UDP +aeron:udp\?endpoint=127\.0\.0\.1:\d+: sent \d+ .* received \d+: \d+ msgs\/s, [\d.]+ MB\/s; all in order, no gaps or duplicates$/m);
    assert.match(out, /^IPC +aeron:ipc: sent \d+ .* all in order, no gaps or duplicates$/m);
    const pingPong = /^ping-pong over UDP loopback: 5000 round trips .*p50 ([\d.]+) µs, p90 ([\d.]+) µs, p99 ([\d.]+) µs, p99\.9 ([\d.]+) µs, max ([\d.]+) µs/m.exec(out);
    assert.ok(pingPong !== null, demo.describe());
    const [p50, p90, p99, p999, max] = pingPong.slice(1).map(Number) as [number, number, number, number, number];
    assert.ok(p50 > 0 && p50 <= p90 && p90 <= p99 && p99 <= p999 && p999 <= max, pingPong[0]);
    assert.match(out, /^done$/m);
    // Its counters file is removed on close.
    assert.deepEqual(readdirSync(dir).filter((name) => name.endsWith('.json')), []);
  });
});
