import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BufferClaim } from '../../../src/logbuffer/buffer-claim.js';
import { LogBuffers } from '../../../src/logbuffer/log-buffers.js';
import { TermAppender } from '../../../src/logbuffer/term-appender.js';
import { UnblockStatus, unblock, unblockTerm } from '../../../src/logbuffer/term-unblocker.js';
import { PAD_FRAME_TYPE, frameLengthVolatile, frameType, frameTermOffset } from '../../../src/logbuffer/frame-descriptor.js';
import { rotateLog } from '../../../src/logbuffer/log-rotation.js';
import { computePosition } from '../../../src/logbuffer/log-buffer-descriptor.js';

const TERM = 65536;
const INITIAL = 1000;

function setUp(): { log: LogBuffers; appender: TermAppender; template: Uint8Array } {
  const log = LogBuffers.allocate({ termLength: TERM });
  log.metaData.initialise({ correlationId: 1, initialTermId: INITIAL, mtuLength: 1408, sessionId: 1, streamId: 2 });
  return { log, appender: new TermAppender(log.termBuffers[0]!, log.metaData, 0), template: log.metaData.defaultFrameHeader };
}

describe('unblock', () => {
  test('an uncommitted claim becomes padding of its length', () => {
    const { log, appender, template } = setUp();
    appender.appendUnfragmentedMessage(template, new Uint8Array(10), 0, 10, 0, 0, INITIAL);
    const claim = new BufferClaim();
    appender.claim(template, 100, claim, INITIAL);
    appender.appendUnfragmentedMessage(template, new Uint8Array(10), 0, 10, 0, 0, INITIAL);
    const term = log.termBuffers[0]!;
    assert.equal(unblock(log.termBuffers, log.metaData, 0, 256, INITIAL), false, 'a published frame needs nothing');
    assert.equal(unblock(log.termBuffers, log.metaData, 64, log.metaData.rawTailOffset(0), INITIAL), true);
    assert.equal(frameType(term, 64), PAD_FRAME_TYPE);
    assert.equal(frameLengthVolatile(term, 64), 132);
    assert.equal(frameTermOffset(term, 64), 64);
  });

  test('a zero-length slot followed by data becomes padding up to the data', () => {
    const { log, appender, template } = setUp();
    const term = log.termBuffers[0]!;
    log.metaData.setRawTail(0, INITIAL, 256);
    appender.appendUnfragmentedMessage(template, new Uint8Array(10), 0, 10, 0, 0, INITIAL);
    assert.equal(unblockTerm(log.metaData, term, 0, 320, INITIAL), UnblockStatus.UNBLOCKED);
    assert.equal(frameLengthVolatile(term, 0), 256);
    assert.equal(frameType(term, 0), PAD_FRAME_TYPE);
  });

  test('nothing after the blocked slot and a tail inside the term: no action', () => {
    const { log } = setUp();
    assert.equal(unblockTerm(log.metaData, log.termBuffers[0]!, 0, 1024, INITIAL), UnblockStatus.NO_ACTION);
  });

  test('a tail past the term end pads to the end and rotates the log', () => {
    const { log } = setUp();
    const meta = log.metaData;
    meta.setRawTail(0, INITIAL, TERM + 64);
    assert.equal(unblock(log.termBuffers, meta, TERM - 1024, TERM + 64, INITIAL), true);
    assert.equal(frameLengthVolatile(log.termBuffers[0]!, TERM - 1024), 1024);
    assert.equal(meta.activeTermCount, 1);
    assert.deepEqual([meta.rawTailTermId(1), meta.rawTailOffset(1)], [INITIAL + 1, 0]);
  });

  test('position form: consumer position and producer position', () => {
    const { log, appender, template } = setUp();
    const claim = new BufferClaim();
    appender.claim(template, 100, claim, INITIAL);
    appender.appendUnfragmentedMessage(template, new Uint8Array(10), 0, 10, 0, 0, INITIAL);
    assert.equal(unblock(log.termBuffers, log.metaData, 0, 0), false);
    assert.equal(unblock(log.termBuffers, log.metaData, 0, 224), true);
    assert.equal(frameType(log.termBuffers[0]!, 0), PAD_FRAME_TYPE);
  });

  test('position form: consumers at the start of a term the producer never rotated to', () => {
    const { log } = setUp();
    const meta = log.metaData;
    meta.setRawTail(0, INITIAL, TERM + 128);
    const start = computePosition(INITIAL + 1, 0, 16, INITIAL);
    assert.equal(unblock(log.termBuffers, meta, start, start + 1), true);
    assert.equal(meta.activeTermCount, 1);
    assert.equal(rotateLog(meta, 1, INITIAL + 1), true);
    assert.equal(meta.activeTermCount, 2);
  });
});
