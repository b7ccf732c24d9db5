import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BufferClaim } from '../../../src/logbuffer/buffer-claim.js';
import { LogBuffers } from '../../../src/logbuffer/log-buffers.js';
import { TermAppender } from '../../../src/logbuffer/term-appender.js';
import { TermScanner } from '../../../src/logbuffer/term-scanner.js';

const TERM = 65536;

function setUp(): { term: Uint8Array; appender: TermAppender; template: Uint8Array; append: (n: number) => number } {
  const log = LogBuffers.allocate({ termLength: TERM });
  log.metaData.initialise({ correlationId: 1, initialTermId: 0, mtuLength: 1408, sessionId: 1, streamId: 2 });
  const appender = new TermAppender(log.termBuffers[0]!, log.metaData, 0);
  const template = log.metaData.defaultFrameHeader;
  return {
    term: log.termBuffers[0]!,
    appender,
    template,
    append: (n) => appender.appendUnfragmentedMessage(template, new Uint8Array(n), 0, n, 0, 0, 0),
  };
}

describe('TermScanner.scanForAvailability', () => {
  test('batches whole frames up to the limit: 22 frames of 64 bytes in 1408, then the other 18', () => {
    const { term, append } = setUp();
    for (let i = 0; i < 40; i++) append(32);
    const scanner = new TermScanner();
    assert.equal(scanner.scanForAvailability(term, 0, 1408), 1408);
    assert.equal(scanner.padding, 0);
    assert.equal(scanner.scanForAvailability(term, 1408, 1408), 18 * 64);
    assert.equal(scanner.scanForAvailability(term, 0, 100), 64, 'never splits a frame');
    assert.equal(scanner.scanForAvailability(term, 0, 65536, 1408), 1408, 'the mtu bounds the batch too');
  });

  test('0 when the first frame does not fit or is not published', () => {
    const { term, append, appender, template } = setUp();
    append(1000);
    const scanner = new TermScanner();
    assert.equal(scanner.scanForAvailability(term, 0, 1024), 0);
    assert.equal(scanner.scanForAvailability(term, 0, 1056), 1056);
    assert.equal(scanner.scanForAvailability(term, 1056, 1408), 0);
    const claim = new BufferClaim();
    appender.claim(template, 8, claim, 0);
    append(8);
    assert.equal(scanner.scanForAvailability(term, 1056, 1408), 0, 'an unpublished claim blocks the batch');
    claim.commit();
    assert.equal(scanner.scanForAvailability(term, 1056, 1408), 128);
    assert.equal(scanner.scanForAvailability(term, TERM, 1408), 0);
  });

  test('a PAD frame ends the batch: 32 header bytes are available, the rest is padding', () => {
    const { term, append, appender, template } = setUp();
    append(100);
    appender.appendPadding(template, 2000, 0);
    append(8);
    const scanner = new TermScanner();
    assert.equal(scanner.scanForAvailability(term, 0, 1408), 160 + 32);
    assert.equal(scanner.padding, 2048 - 32);
    assert.equal(scanner.scanForAvailability(term, 0, 192), 192, 'the PAD header fits in the last 32 bytes');
    assert.equal(scanner.scanForAvailability(term, 0, 191), 160);
    assert.equal(scanner.padding, 0);
    assert.equal(scanner.scanForAvailability(term, 160, 32), 32, 'a lone PAD header');
    assert.equal(scanner.padding, 2048 - 32);
    assert.equal(scanner.scanForAvailability(term, 160 + 2048, 1408), 64, 'data after the padded region');
  });

  test('the PAD at the end of a term', () => {
    const { term, append } = setUp();
    while (append(1000) > 0);
    const scanner = new TermScanner();
    assert.equal(scanner.scanForAvailability(term, 64416, 1408), 1056 + 32);
    assert.equal(scanner.padding, 32);
    assert.equal(64416 + 1088 + scanner.padding, TERM);
  });
});
