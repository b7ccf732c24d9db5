/**
 * The DATA/PAD frame as it sits in a term buffer (PROTOCOL.md §3.1, §3.2), with allocation-free
 * accessors. All fields are little-endian.
 *
 * ```
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +---------------------------------------------------------------+
 *  |                         frameLength                           |  0
 *  +---------------+---------------+-------------------------------+
 *  |    version    |     flags     |             type              |  4
 *  +---------------+---------------+-------------------------------+
 *  |                          termOffset                           |  8
 *  +---------------------------------------------------------------+
 *  |                          sessionId                            | 12
 *  +---------------------------------------------------------------+
 *  |                           streamId                            | 16
 *  +---------------------------------------------------------------+
 *  |                            termId                             | 20
 *  +---------------------------------------------------------------+
 *  |                 reservedValue (low 32 bits)                   | 24
 *  |                 reservedValue (high 32 bits)                  | 28
 *  +---------------------------------------------------------------+
 *  |                           payload ...                         | 32
 * ```
 *
 * Frames start at 32-byte aligned term offsets and occupy `align(frameLength, 32)` bytes. The
 * frame length is the publication point: writers store it last with `Atomics.store` (negative or
 * zero while the frame is being written) and readers load it with `Atomics.load`, so a reader on
 * another thread sharing the `SharedArrayBuffer` sees either nothing or a whole frame.
 *
 * The atomic accessors need the term buffer to start at a 4-byte aligned byte offset (term views
 * of a {@link LogBuffers} always do). The plain field accessors work on any `Uint8Array`.
 */
import { assert } from '../util/assert.js';

export const FRAME_ALIGNMENT = 32;
export const DATA_HEADER_LENGTH = 32;

export const PAD_FRAME_TYPE = 0x00;
export const DATA_FRAME_TYPE = 0x01;

export const BEGIN_FRAG_FLAG = 0x80;
export const END_FRAG_FLAG = 0x40;
export const UNFRAGMENTED = BEGIN_FRAG_FLAG | END_FRAG_FLAG;
export const EOS_FLAG = 0x20;
export const REVOKED_FLAG = 0x10;

export const CURRENT_VERSION = 0;

export const FRAME_LENGTH_FIELD_OFFSET = 0;
export const VERSION_FIELD_OFFSET = 4;
export const FLAGS_FIELD_OFFSET = 5;
export const TYPE_FIELD_OFFSET = 6;
export const TERM_OFFSET_FIELD_OFFSET = 8;
export const SESSION_ID_FIELD_OFFSET = 12;
export const STREAM_ID_FIELD_OFFSET = 16;
export const TERM_ID_FIELD_OFFSET = 20;
export const RESERVED_VALUE_FIELD_OFFSET = 24;

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
assert(LITTLE_ENDIAN_HOST, 'log buffers need a little-endian host: Int32Array views must match the wire byte order');

const RECENT_VIEW_COUNT = 4;
const recentBytes: (Uint8Array | null)[] = [null, null, null, null];
const recentInts: (Int32Array | null)[] = [null, null, null, null];
let recentNext = 0;
const intViews = new WeakMap<Uint8Array, Int32Array>();

/**
 * The `Int32Array` over the same bytes as `bytes`, created once per distinct view and cached (the
 * last few in a small array, all in a WeakMap), so atomic frame-length access allocates nothing
 * after the first use of a term buffer.
 */
let lastBytes: Uint8Array | null = null;
let lastInts: Int32Array | null = null;

export function int32ViewOf(bytes: Uint8Array): Int32Array {
  if (bytes === lastBytes) return lastInts as Int32Array;
  lastBytes = bytes;
  lastInts = int32ViewOfSlow(bytes);
  return lastInts;
}

function int32ViewOfSlow(bytes: Uint8Array): Int32Array {
  for (let i = 0; i < RECENT_VIEW_COUNT; i++) {
    if (recentBytes[i] === bytes) {
      return recentInts[i] as Int32Array;
    }
  }
  let ints = intViews.get(bytes);
  if (ints === undefined) {
    assert(bytes.byteOffset % 4 === 0, `term buffer byteOffset ${bytes.byteOffset} is not 4-byte aligned`);
    ints = new Int32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >>> 2);
    intViews.set(bytes, ints);
  }
  recentBytes[recentNext] = bytes;
  recentInts[recentNext] = ints;
  recentNext = (recentNext + 1) % RECENT_VIEW_COUNT;
  return ints;
}

/**
 * The word view of the term buffer its owner used last. Hot loops (readers, scanners, cleaners)
 * keep one each instead of going through {@link int32ViewOf}'s shared cache: a shared entry that
 * keeps changing hands between a publisher, a reader and the driver misses on most calls, and V8
 * throws away optimised code that meets a miss it has not seen before.
 */
export class TermWords {
  private of: Uint8Array | null = null;
  private words: Int32Array = new Int32Array(0);

  get(termBuffer: Uint8Array): Int32Array {
    if (termBuffer !== this.of) {
      this.words = int32ViewOf(termBuffer);
      this.of = termBuffer;
    }
    return this.words;
  }
}

/** Reads the frame length with `Atomics.load`; ≤ 0 means "not yet published". */
export function frameLengthVolatile(termBuffer: Uint8Array, frameOffset: number): number {
  return Atomics.load(int32ViewOf(termBuffer), frameOffset >> 2);
}

/** Publishes a frame by storing its length with `Atomics.store`. */
export function frameLengthOrdered(termBuffer: Uint8Array, frameOffset: number, frameLength: number): void {
  Atomics.store(int32ViewOf(termBuffer), frameOffset >> 2, frameLength);
}

export function readInt32LE(bytes: Uint8Array, offset: number): number {
  return bytes[offset]! | (bytes[offset + 1]! << 8) | (bytes[offset + 2]! << 16) | (bytes[offset + 3]! << 24);
}

export function writeInt32LE(bytes: Uint8Array, offset: number, value: number): void {
  bytes[offset] = value;
  bytes[offset + 1] = value >>> 8;
  bytes[offset + 2] = value >>> 16;
  bytes[offset + 3] = value >>> 24;
}

/** Frame length read without synchronisation (for frames already known to be published). */
export function frameLength(buffer: Uint8Array, frameOffset: number): number {
  return readInt32LE(buffer, frameOffset + FRAME_LENGTH_FIELD_OFFSET);
}

export function frameVersion(buffer: Uint8Array, frameOffset: number): number {
  return buffer[frameOffset + VERSION_FIELD_OFFSET]!;
}

export function frameFlags(buffer: Uint8Array, frameOffset: number): number {
  return buffer[frameOffset + FLAGS_FIELD_OFFSET]!;
}

export function setFrameFlags(buffer: Uint8Array, frameOffset: number, flags: number): void {
  buffer[frameOffset + FLAGS_FIELD_OFFSET] = flags;
}

/** The 16-bit type code, read unsigned. */
export function frameType(buffer: Uint8Array, frameOffset: number): number {
  return buffer[frameOffset + TYPE_FIELD_OFFSET]! | (buffer[frameOffset + TYPE_FIELD_OFFSET + 1]! << 8);
}

export function setFrameType(buffer: Uint8Array, frameOffset: number, type: number): void {
  buffer[frameOffset + TYPE_FIELD_OFFSET] = type;
  buffer[frameOffset + TYPE_FIELD_OFFSET + 1] = type >>> 8;
}

export function isPaddingFrame(buffer: Uint8Array, frameOffset: number): boolean {
  return frameType(buffer, frameOffset) === PAD_FRAME_TYPE;
}

export function frameTermOffset(buffer: Uint8Array, frameOffset: number): number {
  return readInt32LE(buffer, frameOffset + TERM_OFFSET_FIELD_OFFSET);
}

export function setFrameTermOffset(buffer: Uint8Array, frameOffset: number, termOffset: number): void {
  writeInt32LE(buffer, frameOffset + TERM_OFFSET_FIELD_OFFSET, termOffset);
}

export function frameSessionId(buffer: Uint8Array, frameOffset: number): number {
  return readInt32LE(buffer, frameOffset + SESSION_ID_FIELD_OFFSET);
}

export function setFrameSessionId(buffer: Uint8Array, frameOffset: number, sessionId: number): void {
  writeInt32LE(buffer, frameOffset + SESSION_ID_FIELD_OFFSET, sessionId);
}

export function frameStreamId(buffer: Uint8Array, frameOffset: number): number {
  return readInt32LE(buffer, frameOffset + STREAM_ID_FIELD_OFFSET);
}

export function setFrameStreamId(buffer: Uint8Array, frameOffset: number, streamId: number): void {
  writeInt32LE(buffer, frameOffset + STREAM_ID_FIELD_OFFSET, streamId);
}

export function frameTermId(buffer: Uint8Array, frameOffset: number): number {
  return readInt32LE(buffer, frameOffset + TERM_ID_FIELD_OFFSET);
}

export function setFrameTermId(buffer: Uint8Array, frameOffset: number, termId: number): void {
  writeInt32LE(buffer, frameOffset + TERM_ID_FIELD_OFFSET, termId);
}

/** Low 32 bits of the 64-bit reserved value, signed. */
export function frameReservedValueLow(buffer: Uint8Array, frameOffset: number): number {
  return readInt32LE(buffer, frameOffset + RESERVED_VALUE_FIELD_OFFSET);
}

/** High 32 bits of the 64-bit reserved value, signed. */
export function frameReservedValueHigh(buffer: Uint8Array, frameOffset: number): number {
  return readInt32LE(buffer, frameOffset + RESERVED_VALUE_FIELD_OFFSET + 4);
}

export function setFrameReservedValue(buffer: Uint8Array, frameOffset: number, low: number, high: number): void {
  writeInt32LE(buffer, frameOffset + RESERVED_VALUE_FIELD_OFFSET, low);
  writeInt32LE(buffer, frameOffset + RESERVED_VALUE_FIELD_OFFSET + 4, high);
}

/**
 * Writes a whole header at `frameOffset` without publishing it: the frame length is stored as
 * `-frameLength` first (a plain store: readers stop at any length ≤ 0, and the publishing
 * `Atomics.store` of {@link frameLengthOrdered} to the same word orders everything written before
 * it, so a second fence per frame would buy nothing), then version, flags and type and the session and stream
 * ids are taken from the 32-byte `headerTemplate`, and termOffset (= frameOffset), termId and
 * the reserved value are set. Publish with {@link frameLengthOrdered}.
 */
export function writeUnpublishedHeader(
  termBuffer: Uint8Array,
  frameOffset: number,
  frameLength: number,
  headerTemplate: Uint8Array,
  termId: number,
): void {
  writeUnpublishedHeaderWords(int32ViewOf(termBuffer), frameOffset, frameLength, templateWordsOf(headerTemplate), termId);
}

/** {@link writeUnpublishedHeader} given the term's and the template's word views. */
function writeUnpublishedHeaderWords(ints: Int32Array, frameOffset: number, frameLength: number, template: Int32Array, termId: number): void {
  const i = frameOffset >> 2;
  ints[i] = -frameLength;
  ints[i + 1] = template[1]!; // version, flags, type
  ints[i + 2] = frameOffset;
  ints[i + 3] = template[3]!; // session id
  ints[i + 4] = template[4]!; // stream id
  ints[i + 5] = termId;
}

/** {@link writeUnpublishedHeader} plus the reserved value, in one pass of word stores. */
export function writeUnpublishedDataHeader(
  termBuffer: Uint8Array,
  frameOffset: number,
  frameLength: number,
  headerTemplate: Uint8Array,
  termId: number,
  reservedValueLow: number,
  reservedValueHigh: number,
): void {
  writeUnpublishedDataHeaderWords(int32ViewOf(termBuffer), frameOffset, frameLength, templateWordsOf(headerTemplate), termId, reservedValueLow, reservedValueHigh);
}

/** {@link writeUnpublishedDataHeader} given the term's and the template's word views. */
export function writeUnpublishedDataHeaderWords(
  ints: Int32Array,
  frameOffset: number,
  frameLength: number,
  template: Int32Array,
  termId: number,
  reservedValueLow: number,
  reservedValueHigh: number,
): void {
  writeUnpublishedHeaderWords(ints, frameOffset, frameLength, template, termId);
  const i = frameOffset >> 2;
  ints[i + 6] = reservedValueLow;
  ints[i + 7] = reservedValueHigh;
}

let lastTemplate: Uint8Array | null = null;
let lastTemplateWords: Int32Array | null = null;

/** The eight 32-bit words of a (4-byte aligned) header template, cached per template view. */
export function templateWordsOf(headerTemplate: Uint8Array): Int32Array {
  if (headerTemplate === lastTemplate) return lastTemplateWords as Int32Array;
  let words: Int32Array;
  if (headerTemplate.byteOffset % 4 === 0) {
    words = new Int32Array(headerTemplate.buffer, headerTemplate.byteOffset, DATA_HEADER_LENGTH >> 2);
  } else {
    words = new Int32Array(DATA_HEADER_LENGTH >> 2);
    for (let w = 0; w < words.length; w++) words[w] = readInt32LE(headerTemplate, w * 4);
  }
  lastTemplate = headerTemplate;
  lastTemplateWords = words;
  return words;
}

/**
 * Writes and publishes a PAD frame of `frameLength` bytes at `frameOffset`, taking the session
 * and stream ids and the flags from `headerTemplate` (reserved value 0).
 */
export function writePaddingFrame(
  termBuffer: Uint8Array,
  frameOffset: number,
  frameLength: number,
  headerTemplate: Uint8Array,
  termId: number,
): void {
  writeUnpublishedHeader(termBuffer, frameOffset, frameLength, headerTemplate, termId);
  setFrameType(termBuffer, frameOffset, PAD_FRAME_TYPE);
  setFrameReservedValue(termBuffer, frameOffset, 0, 0);
  frameLengthOrdered(termBuffer, frameOffset, frameLength);
}
