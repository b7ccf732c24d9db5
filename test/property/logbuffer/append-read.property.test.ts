/**
 * A publication appends random messages (plain, gathered, claimed; committed or aborted) across
 * many terms with rotation; a subscriber reading with TermReader + FragmentAssembler gets exactly
 * the committed messages, byte for byte and in order, with the right positions.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { BufferClaim } from '../../../src/logbuffer/buffer-claim.js';
import { FragmentAssembler } from '../../../src/logbuffer/fragment-assembler.js';
import { Header } from '../../../src/logbuffer/header.js';
import { LogBuffers } from '../../../src/logbuffer/log-buffers.js';
import {
  computeFragmentedFrameLength,
  computeMaxMessageLength,
  computeTermBeginPosition,
  computeTermOffsetFromPosition,
  indexByPosition,
  indexByTermCount,
} from '../../../src/logbuffer/log-buffer-descriptor.js';
import { rotateLog } from '../../../src/logbuffer/log-rotation.js';
import { TermAppender } from '../../../src/logbuffer/term-appender.js';
import { TermReader } from '../../../src/logbuffer/term-reader.js';

const TERM = 65536;
const SESSION_ID = 0x1234567;

/** Small seeded PRNG (mulberry32) for message contents and API choices. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `length` pseudo-random bytes (xorshift seeded from `random`). */
function randomBytes(length: number, random: () => number): Uint8Array {
  const bytes = new Uint8Array(length);
  let x = ((random() * 2 ** 32) | 0) || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    bytes[i] = x;
  }
  return bytes;
}

interface Expected {
  bytes: Uint8Array;
  position: number;
  reservedLow: number;
}

class Publisher {
  readonly log: LogBuffers;
  private readonly appenders: TermAppender[];
  private readonly claim = new BufferClaim();
  readonly maxPayload: number;

  constructor(readonly initialTermId: number, mtu: number, private readonly minSubscriberPosition: () => number) {
    this.log = LogBuffers.allocate({ termLength: TERM });
    this.log.metaData.initialise({ correlationId: 1, initialTermId, mtuLength: mtu, sessionId: SESSION_ID, streamId: 9 });
    this.appenders = this.log.termBuffers.map((t, i) => new TermAppender(t, this.log.metaData, i));
    this.maxPayload = mtu - 32;
  }

  /** Whether the last offer was a claim that got aborted. */
  aborted = false;

  /** Appends with the API picked by `mode` (0 plain, 1 gathered, 2 claim+commit, 3 claim+abort); returns the end position. */
  offer(message: Uint8Array, mode: number, reservedLow: number, split: number): number {
    this.aborted = false;
    const meta = this.log.metaData;
    for (;;) {
      const termCount = meta.activeTermCount;
      const index = indexByTermCount(termCount);
      const termId = meta.rawTailTermId(index);
      const result = this.append(this.appenders[index]!, termId, message, mode, reservedLow, split);
      if (result > 0) {
        const position = computeTermBeginPosition(termId, 16, this.initialTermId) + result;
        if (mode >= 2 && message.length <= this.maxPayload) {
          this.claim.putBytes(0, message, 0, message.length);
          this.claim.reservedValue(reservedLow, 0);
          if (mode === 3) {
            this.claim.abort();
            this.aborted = true;
            return position;
          }
          this.claim.commit();
        }
        return position;
      }
      assert.equal(result, TermAppender.APPEND_FAILED);
      const nextTermStart = computeTermBeginPosition((termId + 1) | 0, 16, this.initialTermId);
      assert.ok(this.minSubscriberPosition() >= nextTermStart - 2 * TERM, 'subscriber is within the two terms kept');
      rotateLog(meta, termCount, termId);
    }
  }

  private append(appender: TermAppender, termId: number, m: Uint8Array, mode: number, reservedLow: number, split: number): number {
    const template = this.log.metaData.defaultFrameHeader;
    const unfragmented = m.length <= this.maxPayload;
    if (mode === 1) {
      const parts = [m.subarray(0, split), m.subarray(split)];
      return unfragmented
        ? appender.appendUnfragmentedMessageV(template, parts, m.length, reservedLow, 0, termId)
        : appender.appendFragmentedMessageV(template, parts, m.length, this.maxPayload, reservedLow, 0, termId);
    }
    if (mode >= 2 && unfragmented) {
      return appender.claim(template, m.length, this.claim, termId);
    }
    return unfragmented
      ? appender.appendUnfragmentedMessage(template, m, 0, m.length, reservedLow, 0, termId)
      : appender.appendFragmentedMessage(template, m, 0, m.length, this.maxPayload, reservedLow, 0, termId);
  }
}

class Subscriber {
  position = 0;
  readonly received: Expected[] = [];
  private readonly reader = new TermReader();
  private readonly header: Header;
  private readonly assembler: FragmentAssembler;

  constructor(private readonly log: LogBuffers, initialTermId: number, private readonly fragmentLimit: number) {
    this.header = new Header(initialTermId, log.positionBitsToShift);
    this.assembler = new FragmentAssembler((buffer, offset, length, header) => {
      assert.equal(header.sessionId, SESSION_ID);
      assert.equal(header.frameLength, length + 32);
      assert.ok(header.isBeginFragment && header.isEndFragment);
      this.received.push({ bytes: buffer.slice(offset, offset + length), position: header.position, reservedLow: header.reservedValueLow });
    }, 64);
  }

  /** Reads everything published; zeroes each term it leaves, as the driver cleans behind consumers. */
  poll(): void {
    const bits = this.log.positionBitsToShift;
    for (let guard = 0; guard < 1_000_000; guard++) {
      const termOffset = computeTermOffsetFromPosition(this.position, bits);
      const term = this.log.termBuffers[indexByPosition(this.position, bits)]!;
      this.reader.read(term, termOffset, this.assembler.onFragment, this.fragmentLimit, this.header);
      if (this.reader.offset === termOffset) return;
      this.position += this.reader.offset - termOffset;
      if (this.reader.offset === TERM) term.fill(0);
    }
    assert.fail('subscriber never caught up');
  }
}

const scenario = fc.record({
  seed: fc.integer(),
  initialTermId: fc.oneof(fc.integer({ min: -0x80000000, max: 0x7fffffff }), fc.constantFrom(0x7fffffff, 0x7ffffffe, -0x80000000, -1)),
  mtu: fc.constantFrom(64, 128, 1408, 4096, 65504),
  sizes: fc.array(fc.oneof(fc.integer({ min: 0, max: 100 }), fc.integer({ min: 0, max: computeMaxMessageLength(TERM) })), {
    minLength: 20,
    maxLength: 250,
    size: 'max',
  }),
  fragmentLimit: fc.integer({ min: 1, max: 20 }),
  readEvery: fc.integer({ min: 1, max: 4 }),
});

test('every committed message is read back whole, in order, at its position, across rotations', () => {
  let termCountMax = 0;
  fc.assert(
    fc.property(scenario, ({ seed, initialTermId, mtu, sizes, fragmentLimit, readEvery }) => {
      const random = prng(seed);
      let subscriber: Subscriber | undefined;
      const publisher = new Publisher(initialTermId, mtu, () => subscriber!.position);
      subscriber = new Subscriber(publisher.log, initialTermId, fragmentLimit);
      const expected: Expected[] = [];
      let lastPosition = 0;
      sizes.forEach((size, i) => {
        const message = randomBytes(size, random);
        const reservedLow = (random() * 2 ** 32) | 0;
        const mode = Math.floor(random() * 4);
        const position = publisher.offer(message, mode, reservedLow, Math.floor(random() * (size + 1)));
        const framed = size <= publisher.maxPayload ? Math.ceil((size + 32) / 32) * 32 : computeFragmentedFrameLength(size, publisher.maxPayload);
        const start = (lastPosition % TERM) + framed <= TERM ? lastPosition : (Math.floor(lastPosition / TERM) + 1) * TERM;
        assert.equal(position, start + framed, `end position of message ${i} (${size} bytes)`);
        lastPosition = position;
        if (!publisher.aborted) {
          expected.push({ bytes: message, position, reservedLow });
        }
        if (i % readEvery === 0) subscriber!.poll();
      });
      subscriber.poll();
      assert.equal(subscriber.received.length, expected.length);
      subscriber.received.forEach((got, i) => {
        assert.deepEqual(got.bytes, expected[i]!.bytes, `message ${i}`);
        assert.equal(got.position, expected[i]!.position, `position of message ${i}`);
        assert.equal(got.reservedLow, expected[i]!.reservedLow);
      });
      assert.equal(subscriber.position, lastPosition);
      termCountMax = Math.max(termCountMax, publisher.log.metaData.activeTermCount);
    }),
    { numRuns: 60 },
  );
  assert.ok(termCountMax >= 4, `some runs rotate through every partition (max term count ${termCountMax})`);
});
