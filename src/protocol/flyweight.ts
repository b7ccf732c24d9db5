import { AssertionFailure } from '../util/assert.js';

const EMPTY_BYTES = new Uint8Array(0);
const EMPTY_VIEW = new DataView(EMPTY_BYTES.buffer);

/**
 * Base of every wire flyweight: a movable window over bytes, read and written in place
 * (little-endian, unaligned accesses allowed), nothing copied.
 *
 * `wrap` is allocation-free while the underlying ArrayBuffer stays the same: the DataView over the
 * whole ArrayBuffer is kept and only replaced when a buffer with another ArrayBuffer is wrapped.
 * Accessors do not check bounds against the wrapped length (that is the caller's job, e.g. with
 * the acceptance gate); reads past the ArrayBuffer throw a RangeError.
 */
export abstract class Flyweight {
  /** The wrapped bytes. */
  buffer: Uint8Array = EMPTY_BYTES;
  /** Offset of the frame inside {@link buffer}. */
  bufferOffset = 0;
  /** Bytes of {@link buffer} available to this frame from {@link bufferOffset}. */
  capacity = 0;
  /** View over the whole ArrayBuffer of {@link buffer}. */
  protected view: DataView = EMPTY_VIEW;
  /** Absolute offset of the frame inside {@link view}. */
  protected base = 0;
  private arrayBuffer: ArrayBufferLike = EMPTY_BYTES.buffer;

  wrap(buffer: Uint8Array, offset = 0, length: number = buffer.length - offset): this {
    if (!(offset >= 0 && length >= 0 && offset + length <= buffer.length)) {
      throw new AssertionFailure(`wrap out of bounds: offset=${offset} length=${length} buffer.length=${buffer.length}`);
    }
    const arrayBuffer = buffer.buffer;
    if (arrayBuffer !== this.arrayBuffer) {
      this.arrayBuffer = arrayBuffer;
      this.view = new DataView(arrayBuffer);
    }
    this.buffer = buffer;
    this.bufferOffset = offset;
    this.capacity = length;
    this.base = buffer.byteOffset + offset;
    return this;
  }

  protected getInt32(fieldOffset: number): number {
    return this.view.getInt32(this.base + fieldOffset, true);
  }

  protected setInt32(fieldOffset: number, value: number): void {
    this.view.setInt32(this.base + fieldOffset, value, true);
  }

  protected getInt64(fieldOffset: number): bigint {
    return this.view.getBigInt64(this.base + fieldOffset, true);
  }

  protected setInt64(fieldOffset: number, value: bigint): void {
    this.view.setBigInt64(this.base + fieldOffset, value, true);
  }
}

const encoder = new TextEncoder();
// ignoreBOM: a text that begins with U+FEFF keeps it (a TextDecoder drops a leading one by
// default), so that every string decodes to what was encoded. The same holds for every decoder of
// data in src/.
const decoder = new TextDecoder('utf-8', { ignoreBOM: true });

/** Decodes `length` bytes of UTF-8 at `offset` of `buffer`, clamped to the buffer. */
export function decodeUtf8(buffer: Uint8Array, offset: number, length: number): string {
  const end = Math.min(buffer.length, offset + Math.max(0, length));
  return end <= offset ? '' : decoder.decode(buffer.subarray(offset, end));
}

/** Encodes `text` as UTF-8 into at most `lengthMax` bytes at `offset`, never splitting a character. Returns the bytes written. */
export function encodeUtf8(text: string, buffer: Uint8Array, offset: number, lengthMax: number): number {
  const end = Math.min(buffer.length, offset + Math.max(0, lengthMax));
  return end <= offset ? 0 : encoder.encodeInto(text, buffer.subarray(offset, end)).written;
}
