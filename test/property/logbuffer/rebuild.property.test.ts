/**
 * Receiver side: a sender's term is cut into datagrams at arbitrary frame boundaries (TermScanner
 * with random limits), delivered out of order with losses and duplicates into an image term via
 * insertPacket; gaps found by TermGapScanner are repaired by retransmissions (split differently,
 * shuffled, duplicated) or, for an unreliable stream, padded over with fillGap. A subscriber
 * reading the image while it is rebuilt gets exactly the original messages (reliable) or an
 * in-order subsequence of them, never a corrupted message (unreliable).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { FragmentAssembler } from '../../../src/logbuffer/fragment-assembler.js';
import { Header } from '../../../src/logbuffer/header.js';
import { LogBuffers } from '../../../src/logbuffer/log-buffers.js';
import { TermAppender } from '../../../src/logbuffer/term-appender.js';
import { TermGapScanner } from '../../../src/logbuffer/term-gap-scanner.js';
import { fillGap } from '../../../src/logbuffer/term-gap-filler.js';
import { TermReader } from '../../../src/logbuffer/term-reader.js';
import { insertPacket } from '../../../src/logbuffer/term-rebuilder.js';
import { TermScanner } from '../../../src/logbuffer/term-scanner.js';
import { frameLengthVolatile, isPaddingFrame } from '../../../src/logbuffer/frame-descriptor.js';

const TERM = 65536;

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

function shuffle<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

interface Datagram {
  offset: number;
  /** Bytes sent (PAD counted as its 32-byte header). */
  length: number;
  /** Term offset just past the datagram, PAD counted with its padded region. */
  end: number;
}

interface Source {
  term: Uint8Array;
  /** The source log's default header, used as the PAD template for unreliable gaps. */
  template: Uint8Array;
  termId: number;
  messages: Uint8Array[];
  /** End of the data in the term (the term length when it ends with a PAD). */
  end: number;
  frameStarts: Set<number>;
}

/** Appends random messages to one term, optionally until it overflows into a PAD. */
function buildSource(random: () => number, initialTermId: number, mtu: number, messageLengthMax: number, fill: boolean): Source {
  const log = LogBuffers.allocate({ termLength: TERM });
  log.metaData.initialise({ correlationId: 1, initialTermId, mtuLength: mtu, sessionId: 77, streamId: 5 });
  const appender = new TermAppender(log.termBuffers[0]!, log.metaData, 0);
  const template = log.metaData.defaultFrameHeader;
  const maxPayload = mtu - 32;
  const messages: Uint8Array[] = [];
  const count = fill ? Infinity : 1 + Math.floor(random() * 60);
  let end = 0;
  while (messages.length < count) {
    const length = Math.floor(random() * (messageLengthMax + 1));
    const message = Uint8Array.from({ length }, (_, i) => (i * 13 + messages.length) & 0xff);
    const result =
      length <= maxPayload
        ? appender.appendUnfragmentedMessage(template, message, 0, length, 0, 0, initialTermId)
        : appender.appendFragmentedMessage(template, message, 0, length, maxPayload, 0, 0, initialTermId);
    if (result < 0) {
      end = TERM;
      break;
    }
    messages.push(message);
    end = result;
  }
  const term = log.termBuffers[0]!;
  const frameStarts = new Set<number>();
  for (let offset = 0; offset < end; offset += Math.ceil(frameLengthVolatile(term, offset) / 32) * 32) {
    frameStarts.add(offset);
  }
  frameStarts.add(end);
  return { term, template, termId: initialTermId, messages, end, frameStarts };
}

/** Cuts `[from, to)` of the source into datagrams of whole frames, each within a random limit ≤ mtu. */
function cut(source: Source, from: number, to: number, mtu: number, random: () => number): Datagram[] {
  const scanner = new TermScanner();
  const datagrams: Datagram[] = [];
  let offset = from;
  while (offset < to) {
    const limit = Math.min(32 + Math.floor(random() * (mtu - 31)), to - offset);
    let length = scanner.scanForAvailability(source.term, offset, limit);
    if (length === 0) length = scanner.scanForAvailability(source.term, offset, Math.min(mtu, to - offset));
    assert.ok(length > 0, `a frame at ${offset} fits in the mtu`);
    const end = offset + length + scanner.padding;
    datagrams.push({ offset, length, end });
    offset = end;
  }
  return datagrams;
}

class Image {
  readonly term = LogBuffers.allocate({ termLength: TERM }).termBuffers[0]!;
  hwm = 0;
  rebuild = 0;
  readonly received: Uint8Array[] = [];
  private readOffset = 0;
  private readonly reader = new TermReader();
  private readonly header: Header;
  private readonly assembler = new FragmentAssembler((b, o, l) => this.received.push(b.slice(o, o + l)));

  constructor(private readonly source: Source) {
    this.header = new Header(source.termId, 16);
  }

  insert(d: Datagram): void {
    const packet = Buffer.from(this.source.term.subarray(d.offset, d.offset + d.length));
    insertPacket(this.term, d.offset, packet, 0, d.length);
    this.hwm = Math.max(this.hwm, d.end);
  }

  poll(limit: number): void {
    this.reader.read(this.term, this.readOffset, this.assembler.onFragment, limit, this.header);
    this.readOffset = this.reader.offset;
  }
}

const scenario = fc.record({
  seed: fc.integer(),
  initialTermId: fc.oneof(fc.integer({ min: -0x80000000, max: 0x7fffffff }), fc.constantFrom(0x7fffffff, -0x80000000)),
  mtu: fc.constantFrom(96, 256, 1408),
  messageLengthMax: fc.constantFrom(64, 1000, 4000),
  fill: fc.boolean(),
  deliverPercent: fc.integer({ min: 0, max: 100 }),
  duplicatePercent: fc.integer({ min: 0, max: 50 }),
});

/** First delivery: a random subset, some twice, in random order. */
function firstDelivery(datagrams: Datagram[], deliverPercent: number, duplicatePercent: number, random: () => number): Datagram[] {
  const sent: Datagram[] = [];
  for (const d of datagrams) {
    if (random() * 100 < deliverPercent) sent.push(d);
    if (random() * 100 < duplicatePercent) sent.push(d);
  }
  return shuffle(sent, random);
}

test('reliable: any split, order, loss and duplication is repaired to the exact original messages', () => {
  fc.assert(
    fc.property(scenario, ({ seed, initialTermId, mtu, messageLengthMax, fill, deliverPercent, duplicatePercent }) => {
      const random = prng(seed);
      const source = buildSource(random, initialTermId, mtu, messageLengthMax, fill);
      const original = cut(source, 0, source.end, mtu, random);
      const image = new Image(source);
      for (const d of firstDelivery(original, deliverPercent, duplicatePercent, random)) {
        image.insert(d);
        if (random() < 0.3) image.poll(1 + Math.floor(random() * 10));
      }
      const scanner = new TermGapScanner();
      for (let round = 0; image.rebuild < source.end; round++) {
        assert.ok(round < 10_000, 'repair terminates');
        image.rebuild = scanner.scanForGap(image.term, source.termId, image.rebuild, image.hwm);
        image.poll(1 + Math.floor(random() * 10));
        if (scanner.hasGap) {
          const { gapOffset, gapLength } = scanner;
          assert.equal(gapOffset, image.rebuild);
          assert.ok(gapLength >= 32 && gapLength % 32 === 0 && gapOffset + gapLength <= TERM);
          assert.ok(source.frameStarts.has(gapOffset), `gap starts on a frame (${gapOffset})`);
          assert.ok(source.frameStarts.has(gapOffset + gapLength), `gap ends on a frame (${gapOffset + gapLength})`);
          for (let o = gapOffset; o < gapOffset + gapLength; o += 32) assert.equal(frameLengthVolatile(image.term, o), 0);
          if (random() < 0.3) image.insert(original[Math.floor(random() * original.length)]!);
          for (const d of firstDelivery(cut(source, gapOffset, gapOffset + gapLength, mtu, random), 70, 20, random)) image.insert(d);
        } else if (image.rebuild < source.end) {
          const late = original.filter((d) => d.end > image.hwm);
          image.insert(late[Math.floor(random() * Math.min(late.length, 3))]!);
        }
      }
      assert.equal(image.rebuild, source.end);
      image.poll(100_000);
      assert.deepEqual(image.received, source.messages);
      for (const start of source.frameStarts) {
        if (start === source.end) continue;
        const length = isPaddingFrame(source.term, start) ? 32 : Math.ceil(frameLengthVolatile(source.term, start) / 32) * 32;
        assert.deepEqual(image.term.subarray(start, start + length), source.term.subarray(start, start + length), `frame at ${start}`);
      }
    }),
    { numRuns: 150 },
  );
});

test('unreliable: padding over gaps yields an in-order subsequence of whole original messages', () => {
  fc.assert(
    fc.property(scenario, ({ seed, initialTermId, mtu, messageLengthMax, fill, deliverPercent, duplicatePercent }) => {
      const random = prng(seed);
      const source = buildSource(random, initialTermId, mtu, messageLengthMax, fill);
      const image = new Image(source);
      for (const d of firstDelivery(cut(source, 0, source.end, mtu, random), deliverPercent, duplicatePercent, random)) {
        image.insert(d);
      }
      const scanner = new TermGapScanner();
      for (let round = 0; ; round++) {
        assert.ok(round < 10_000, 'gap filling terminates');
        image.rebuild = scanner.scanForGap(image.term, source.termId, image.rebuild, image.hwm);
        if (!scanner.hasGap) break;
        assert.equal(fillGap(source.template, image.term, source.termId, scanner.gapOffset, scanner.gapLength), true);
        image.poll(1 + Math.floor(random() * 10));
      }
      assert.equal(image.rebuild, image.hwm);
      image.poll(100_000);
      let next = 0;
      for (const message of image.received) {
        while (next < source.messages.length && !sameBytes(source.messages[next]!, message)) next++;
        assert.ok(next < source.messages.length, 'every delivered message is an original one, in order');
        next++;
      }
      if (deliverPercent === 100) assert.deepEqual(image.received, source.messages);
    }),
    { numRuns: 150 },
  );
});

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}
