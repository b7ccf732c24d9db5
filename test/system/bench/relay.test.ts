import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { measureRelay } from '../../../bench/relay/relay-suite.js';

describe('relay suite (four bare dgram processes on the cluster path)', () => {
  it('back to back: every answer starts the next batch, percentiles in order', async () => {
    const r = await measureRelay('back-to-back', 100, 400);
    assert.ok(r.count >= 20, `only ${r.count} round trips in 400 ms`);
    assert.ok(r.p50Us > 0 && r.p50Us <= r.p90Us && r.p90Us <= r.p99Us, `p50 ${r.p50Us}, p90 ${r.p90Us}, p99 ${r.p99Us}`);
  });

  it('paced: at most one batch a millisecond', async () => {
    const durationMs = 400;
    const r = await measureRelay('paced', 100, durationMs);
    assert.ok(r.count >= 20, `only ${r.count} round trips in ${durationMs} ms`);
    assert.ok(r.count <= durationMs + 1, `${r.count} round trips in ${durationMs} ms: faster than one a millisecond`);
    assert.ok(r.p50Us > 0 && r.p50Us <= r.p90Us && r.p90Us <= r.p99Us, `p50 ${r.p50Us}, p90 ${r.p90Us}, p99 ${r.p99Us}`);
  });
});
