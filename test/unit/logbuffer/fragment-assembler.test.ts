import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ControlledPollAction } from '../../../src/logbuffer/controlled-poll-action.js';
import { ControlledFragmentAssembler, FragmentAssembler } from '../../../src/logbuffer/fragment-assembler.js';
import { Header } from '../../../src/logbuffer/header.js';
import { LogBuffers } from '../../../src/logbuffer/log-buffers.js';
import { TermAppender } from '../../../src/logbuffer/term-appender.js';
import { TermReader } from '../../../src/logbuffer/term-reader.js';

const TERM = 65536;

interface Pub {
  term: Uint8Array;
  offer: (message: Uint8Array, reservedLow?: number) => number;
  header: Header;
}

function publication(sessionId: number, mtu = 128, initialTermId = 9): Pub {
  const log = LogBuffers.allocate({ termLength: TERM });
  log.metaData.initialise({ correlationId: 1, initialTermId, mtuLength: mtu, sessionId, streamId: 3 });
  const appender = new TermAppender(log.termBuffers[0]!, log.metaData, 0);
  const template = log.metaData.defaultFrameHeader;
  const maxPayload = mtu - 32;
  return {
    term: log.termBuffers[0]!,
    header: new Header(initialTermId, 16, `image-${sessionId}`),
    offer: (m, reservedLow = 0) =>
      m.length <= maxPayload
        ? appender.appendUnfragmentedMessage(template, m, 0, m.length, reservedLow, 0, initialTermId)
        : appender.appendFragmentedMessage(template, m, 0, m.length, maxPayload, reservedLow, 0, initialTermId),
  };
}

function bytes(length: number, seed: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (i * 31 + seed) & 0xff);
}

/** Frame offsets of the term in order (until an unpublished frame). */
function frameOffsets(pub: Pub): number[] {
  const offsets: number[] = [];
  new TermReader().read(pub.term, 0, (_b, _o, _l, h) => offsets.push(h.offset), 1000, pub.header);
  return offsets;
}

/** Hands the frame at `frameOffset` to `handler` as a reader would. */
function deliver(pub: Pub, frameOffset: number, handler: (b: Uint8Array, o: number, l: number, h: Header) => unknown): void {
  const h = pub.header;
  h.buffer = pub.term;
  h.offset = frameOffset;
  h.overrideNextTermOffset(-1);
  handler(pub.term, frameOffset + 32, h.frameLength - 32, h);
}

describe('FragmentAssembler', () => {
  test('unfragmented messages pass straight through with the reader header', () => {
    const pub = publication(1);
    pub.offer(bytes(10, 1));
    const got: unknown[] = [];
    const assembler = new FragmentAssembler((b, o, l, h) => got.push([Array.from(b.subarray(o, o + l)), h === pub.header]));
    new TermReader().read(pub.term, 0, assembler.onFragment, 10, pub.header);
    assert.deepEqual(got, [[Array.from(bytes(10, 1)), true]]);
  });

  test('reassembles a fragmented message; the header reports the END fragment with the whole length', () => {
    const pub = publication(1);
    const message = bytes(1000, 2);
    const end = pub.offer(message, 77);
    const got: unknown[] = [];
    const assembler = new FragmentAssembler((b, o, l, h) => {
      got.push(Array.from(b.subarray(o, o + l)));
      got.push([h.frameLength, h.termOffset, h.flags, h.isBeginFragment, h.isEndFragment, h.position, h.sessionId, h.termId, h.reservedValueLow, h.context]);
    }, 16);
    new TermReader().read(pub.term, 0, assembler.onFragment, 100, pub.header);
    const lastFrameOffset = 10 * 128;
    assert.deepEqual(got, [Array.from(message), [1032, lastFrameOffset, 0xc0, true, true, end, 1, 9, 77, 'image-1']]);
  });

  test('keeps one partial message per session while sessions interleave', () => {
    const a = publication(1);
    const b = publication(2);
    const ma = bytes(300, 3);
    const mb = bytes(250, 4);
    a.offer(ma);
    b.offer(mb);
    const got: [number, number[]][] = [];
    const assembler = new FragmentAssembler((buf, o, l, h) => got.push([h.sessionId, Array.from(buf.subarray(o, o + l))]));
    const fa = frameOffsets(a);
    const fb = frameOffsets(b);
    for (let i = 0; i < Math.max(fa.length, fb.length); i++) {
      if (i < fb.length) deliver(b, fb[i]!, assembler.onFragment);
      if (i < fa.length) deliver(a, fa[i]!, assembler.onFragment);
    }
    assert.deepEqual(got, [[2, Array.from(mb)], [1, Array.from(ma)]]);
  });

  test('a continuation at the wrong term offset discards the partial message; BEGIN starts over', () => {
    const pub = publication(1);
    const first = bytes(300, 5);
    const second = bytes(200, 6);
    pub.offer(first);
    pub.offer(second);
    const offsets = frameOffsets(pub);
    assert.equal(offsets.length, 4 + 3);
    const got: number[][] = [];
    const assembler = new FragmentAssembler((b, o, l) => got.push(Array.from(b.subarray(o, o + l))));
    deliver(pub, offsets[0]!, assembler.onFragment);
    deliver(pub, offsets[2]!, assembler.onFragment);
    deliver(pub, offsets[3]!, assembler.onFragment);
    assert.deepEqual(got, [], 'skipping a middle fragment loses the message');
    deliver(pub, offsets[0]!, assembler.onFragment);
    deliver(pub, offsets[1]!, assembler.onFragment);
    for (let i = 4; i < 7; i++) deliver(pub, offsets[i]!, assembler.onFragment);
    assert.deepEqual(got, [Array.from(second)], 'a new BEGIN drops the unfinished message');
    deliver(pub, offsets[5]!, assembler.onFragment);
    deliver(pub, offsets[6]!, assembler.onFragment);
    assert.equal(got.length, 1, 'continuations without BEGIN are ignored');
  });

  test('freeSessionBuffer drops a session', () => {
    const pub = publication(1);
    pub.offer(bytes(300, 7));
    const offsets = frameOffsets(pub);
    const got: number[] = [];
    const assembler = new FragmentAssembler((_b, _o, l) => got.push(l));
    deliver(pub, offsets[0]!, assembler.onFragment);
    assert.equal(assembler.freeSessionBuffer(1), true);
    assert.equal(assembler.freeSessionBuffer(1), false);
    for (let i = 1; i < offsets.length; i++) deliver(pub, offsets[i]!, assembler.onFragment);
    assert.deepEqual(got, []);
  });
});

describe('ControlledFragmentAssembler', () => {
  test('ABORT on the complete message keeps the partial data so the re-delivered END completes it', () => {
    const pub = publication(1);
    const message = bytes(500, 8);
    pub.offer(message);
    pub.offer(bytes(5, 9));
    const got: number[][] = [];
    let aborts = 1;
    const assembler = new ControlledFragmentAssembler((b, o, l) => {
      if (l === 500 && aborts-- > 0) return ControlledPollAction.ABORT;
      got.push(Array.from(b.subarray(o, o + l)));
      return ControlledPollAction.CONTINUE;
    });
    const reader = new TermReader();
    const n1 = reader.controlledRead(pub.term, 0, assembler.onFragment, 100, pub.header);
    const endFrameOffset = 5 * 128;
    assert.equal(reader.offset, endFrameOffset);
    assert.equal(n1, 5);
    assert.deepEqual(got, []);
    reader.controlledRead(pub.term, reader.offset, assembler.onFragment, 100, pub.header);
    assert.deepEqual(got, [Array.from(message), Array.from(bytes(5, 9))]);
  });

  test('BREAK and COMMIT from the delegate reach the reader', () => {
    const pub = publication(1);
    pub.offer(bytes(300, 1));
    pub.offer(bytes(300, 2));
    const assembler = new ControlledFragmentAssembler(() => ControlledPollAction.BREAK);
    const reader = new TermReader();
    reader.controlledRead(pub.term, 0, assembler.onFragment, 100, pub.header);
    assert.equal(reader.offset, 448);
    const committing = new ControlledFragmentAssembler(() => ControlledPollAction.COMMIT);
    reader.controlledRead(pub.term, 0, committing.onFragment, 100, pub.header);
    assert.equal(reader.committedOffset, 896);
  });
});
