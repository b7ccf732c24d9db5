import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ControlledPollAction } from '../../../src/logbuffer/controlled-poll-action.js';
import { Header } from '../../../src/logbuffer/header.js';
import { LogBuffers } from '../../../src/logbuffer/log-buffers.js';
import { TermAppender } from '../../../src/logbuffer/term-appender.js';
import { TermReader } from '../../../src/logbuffer/term-reader.js';
import { BufferClaim } from '../../../src/logbuffer/buffer-claim.js';
import { AssertionFailure } from '../../../src/util/assert.js';

const TERM = 65536;
const INITIAL_TERM_ID = -5;

function setUp(): { term: Uint8Array; append: (bytes: number[]) => number; appendPadding: (n: number) => number; appender: TermAppender; template: Uint8Array } {
  const log = LogBuffers.allocate({ termLength: TERM });
  log.metaData.initialise({ correlationId: 1, initialTermId: INITIAL_TERM_ID, mtuLength: 1408, sessionId: 42, streamId: 7 });
  const appender = new TermAppender(log.termBuffers[0]!, log.metaData, 0);
  const template = log.metaData.defaultFrameHeader;
  return {
    term: log.termBuffers[0]!,
    appender,
    template,
    append: (bytes) => appender.appendUnfragmentedMessage(template, Uint8Array.from(bytes), 0, bytes.length, bytes.length, -1, INITIAL_TERM_ID),
    appendPadding: (n) => appender.appendPadding(template, n, INITIAL_TERM_ID),
  };
}

describe('TermReader.read', () => {
  test('delivers fragments in order with a header describing each frame', () => {
    const { term, append } = setUp();
    append([1]);
    append([2, 2]);
    append(new Array<number>(40).fill(3));
    const seen: unknown[] = [];
    const reader = new TermReader();
    const header = new Header(INITIAL_TERM_ID, 16, 'ctx');
    const count = reader.read(
      term,
      0,
      (buffer, offset, length, h) => {
        seen.push([buffer[offset], length, h.frameLength, h.termOffset, h.termId, h.sessionId, h.streamId, h.flags, h.type, h.position, h.reservedValueLow, h.reservedValueHigh, h.context]);
      },
      10,
      header,
    );
    assert.equal(count, 3);
    assert.equal(reader.offset, 64 + 64 + 96);
    assert.deepEqual(seen, [
      [1, 1, 33, 0, INITIAL_TERM_ID, 42, 7, 0xc0, 1, 64, 1, -1, 'ctx'],
      [2, 2, 34, 64, INITIAL_TERM_ID, 42, 7, 0xc0, 1, 128, 2, -1, 'ctx'],
      [3, 40, 72, 128, INITIAL_TERM_ID, 42, 7, 0xc0, 1, 224, 40, -1, 'ctx'],
    ]);
  });

  test('fragmentsLimit bounds the read and offset tells where to resume', () => {
    const { term, append } = setUp();
    for (let i = 0; i < 5; i++) append([i]);
    const reader = new TermReader();
    const values: number[] = [];
    const header = new Header(INITIAL_TERM_ID, 16);
    assert.equal(reader.read(term, 0, (b, o) => values.push(b[o]!), 2, header), 2);
    assert.equal(reader.offset, 128);
    assert.equal(reader.read(term, reader.offset, (b, o) => values.push(b[o]!), 10, header), 3);
    assert.equal(reader.offset, 320);
    assert.equal(reader.read(term, reader.offset, (b, o) => values.push(b[o]!), 10, header), 0);
    assert.equal(reader.offset, 320);
    assert.deepEqual(values, [0, 1, 2, 3, 4]);
  });

  test('PAD frames advance the offset but are neither delivered nor counted', () => {
    const { term, append, appendPadding } = setUp();
    append([1]);
    appendPadding(1000);
    append([2]);
    const values: number[] = [];
    const reader = new TermReader();
    assert.equal(reader.read(term, 0, (b, o) => values.push(b[o]!), 1, new Header(INITIAL_TERM_ID, 16)), 1);
    assert.equal(reader.read(term, reader.offset, (b, o) => values.push(b[o]!), 1, new Header(INITIAL_TERM_ID, 16)), 1);
    assert.deepEqual(values, [1, 2]);
    assert.equal(reader.offset, 64 + 1056 + 64);
  });

  test('stops at an unpublished frame and at the end of the term', () => {
    const { term, append, appender, template } = setUp();
    append([1]);
    const claim = new BufferClaim();
    appender.claim(template, 4, claim, INITIAL_TERM_ID);
    append([3]);
    const reader = new TermReader();
    const header = new Header(INITIAL_TERM_ID, 16);
    assert.equal(reader.read(term, 0, () => {}, 10, header), 1);
    assert.equal(reader.offset, 64);
    claim.commit();
    assert.equal(reader.read(term, 64, () => {}, 10, header), 2);
    assert.equal(reader.read(term, TERM, () => {}, 10, header), 0);
    assert.equal(reader.offset, TERM);
  });

  test('a throwing handler has consumed its fragment: the read stops after it and keeps the error', () => {
    const { term, append } = setUp();
    append([1]);
    append([2]);
    append([3]);
    const reader = new TermReader();
    const boom = new Error('boom');
    const seen: number[] = [];
    const count = reader.read(term, 0, (b, o) => { seen.push(b[o]!); if (b[o] === 2) throw boom; }, 10, new Header(INITIAL_TERM_ID, 16));
    assert.equal(count, 2);
    assert.deepEqual(seen, [1, 2]);
    assert.equal(reader.offset, 128, 'past the fragment whose handler threw');
    assert.equal(reader.handlerFailed, true);
    assert.equal(reader.handlerError, boom);
    assert.equal(reader.handlerErrorOffset, 64);
    const next = reader.read(term, reader.offset, (b, o) => { seen.push(b[o]!); }, 10, new Header(INITIAL_TERM_ID, 16));
    assert.equal(next, 1);
    assert.deepEqual(seen, [1, 2, 3]);
    assert.equal(reader.handlerFailed, false, 'a clean read clears the flag');
  });

  test('an AssertionFailure from the handler propagates, with the offset past its fragment', () => {
    const { term, append } = setUp();
    append([1]);
    const reader = new TermReader();
    assert.throws(() => reader.read(term, 0, () => { throw new AssertionFailure('invariant'); }, 10, new Header(INITIAL_TERM_ID, 16)), AssertionFailure);
    assert.equal(reader.offset, 64);
  });
});

describe('TermReader.controlledRead', () => {
  function run(actions: ControlledPollAction[]): { count: number; offset: number; committed: number; seen: number[] } {
    const { term, append } = setUp();
    for (let i = 0; i < 4; i++) append([i]);
    const reader = new TermReader();
    const seen: number[] = [];
    let call = 0;
    const count = reader.controlledRead(
      term,
      0,
      (b, o) => {
        seen.push(b[o]!);
        return actions[call++] ?? ControlledPollAction.CONTINUE;
      },
      10,
      new Header(INITIAL_TERM_ID, 16),
    );
    return { count, offset: reader.offset, committed: reader.committedOffset, seen };
  }

  test('CONTINUE reads on', () => {
    assert.deepEqual(run([]), { count: 4, offset: 256, committed: 0, seen: [0, 1, 2, 3] });
  });

  test('ABORT stops before the fragment', () => {
    assert.deepEqual(run([ControlledPollAction.CONTINUE, ControlledPollAction.ABORT]), { count: 1, offset: 64, committed: 0, seen: [0, 1] });
  });

  test('BREAK stops after the fragment', () => {
    assert.deepEqual(run([ControlledPollAction.CONTINUE, ControlledPollAction.BREAK]), { count: 2, offset: 128, committed: 0, seen: [0, 1] });
  });

  test('COMMIT records the committed offset and reads on', () => {
    assert.deepEqual(run([ControlledPollAction.CONTINUE, ControlledPollAction.COMMIT, ControlledPollAction.CONTINUE, ControlledPollAction.ABORT]), {
      count: 3,
      offset: 192,
      committed: 128,
      seen: [0, 1, 2, 3],
    });
  });
});

test('TermReader.controlledRead: a throwing handler consumes its fragment and COMMITs before it stand', () => {
  const { term, append } = setUp();
  for (let i = 0; i < 4; i++) append([i]);
  const reader = new TermReader();
  const boom = new Error('boom');
  const count = reader.controlledRead(
    term,
    0,
    (b, o) => {
      if (b[o] === 2) throw boom;
      return ControlledPollAction.COMMIT;
    },
    10,
    new Header(INITIAL_TERM_ID, 16),
  );
  assert.equal(count, 3);
  assert.equal(reader.offset, 192);
  assert.equal(reader.committedOffset, 128);
  assert.equal(reader.handlerFailed, true);
  assert.equal(reader.handlerError, boom);
  assert.equal(reader.handlerErrorOffset, 128);
});
