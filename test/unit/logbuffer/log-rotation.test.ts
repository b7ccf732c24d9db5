import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { LogBuffers } from '../../../src/logbuffer/log-buffers.js';
import { rotateLog } from '../../../src/logbuffer/log-rotation.js';

function meta(initialTermId: number) {
  const log = LogBuffers.allocate({ termLength: 65536 });
  log.metaData.initialise({ correlationId: 1, initialTermId, mtuLength: 1408, sessionId: 1, streamId: 2 });
  return log.metaData;
}

describe('rotateLog', () => {
  test('moves the next partition to termId + 1 at offset 0 and bumps activeTermCount', () => {
    const m = meta(10);
    m.setRawTailOffset(0, 65536 + 32);
    assert.equal(rotateLog(m, 0, 10), true);
    assert.equal(m.activeTermCount, 1);
    assert.deepEqual([m.rawTailTermId(1), m.rawTailOffset(1)], [11, 0]);
    assert.equal(rotateLog(m, 1, 11), true);
    assert.equal(rotateLog(m, 2, 12), true);
    assert.deepEqual([m.rawTailTermId(0), m.rawTailOffset(0)], [13, 0]);
    assert.equal(m.activeTermCount, 3);
  });

  test('a second rotation from the same term count changes nothing', () => {
    const m = meta(10);
    assert.equal(rotateLog(m, 0, 10), true);
    m.setRawTailOffset(1, 512);
    assert.equal(rotateLog(m, 0, 10), false);
    assert.equal(m.activeTermCount, 1);
    assert.deepEqual([m.rawTailTermId(1), m.rawTailOffset(1)], [11, 512]);
  });

  test('term ids wrap past int32 max', () => {
    const m = meta(0x7fffffff);
    assert.equal(rotateLog(m, 0, 0x7fffffff), true);
    assert.equal(m.rawTailTermId(1), -0x80000000);
    assert.equal(rotateLog(m, 1, -0x80000000), true);
    assert.equal(m.rawTailTermId(2), -0x7fffffff);
  });
});
