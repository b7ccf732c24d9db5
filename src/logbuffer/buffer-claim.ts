/**
 * A frame reserved in a term by `TermAppender.claim`: the caller writes the payload in place at
 * `buffer[offset, offset + length)` and then either commits it (publishes the frame) or aborts it
 * (turns it into padding that readers skip). Until one of them is called, consumers stop at the
 * claimed frame, so a claim must be short-lived.
 */
import { ErrorCode, SkeinError } from '../util/errors.js';
import { copyBytes } from './copy-bytes.js';
import {
  DATA_HEADER_LENGTH,
  PAD_FRAME_TYPE,
  frameLengthOrdered,
  setFrameReservedValue,
  setFrameType,
} from './frame-descriptor.js';

const EMPTY = new Uint8Array(0);

export class BufferClaim {
  /** The term buffer holding the claimed frame. */
  buffer: Uint8Array = EMPTY;
  /** Offset of the payload in `buffer`. */
  offset = 0;
  /** Payload length. */
  length = 0;
  private frameOffset = -1;

  /** Points the claim at a frame whose header is written but not yet published. */
  wrap(buffer: Uint8Array, frameOffset: number, frameLength: number): void {
    this.buffer = buffer;
    this.frameOffset = frameOffset;
    this.offset = frameOffset + DATA_HEADER_LENGTH;
    this.length = frameLength - DATA_HEADER_LENGTH;
  }

  get isActive(): boolean {
    return this.frameOffset >= 0;
  }

  /** Sets the frame's 64-bit reserved value from its two signed 32-bit halves. */
  reservedValue(low: number, high: number): this {
    setFrameReservedValue(this.buffer, this.checkActive('reservedValue'), low, high);
    return this;
  }

  /** Copies `length` bytes of `src` into the payload at `payloadOffset` (relative to the payload). */
  putBytes(payloadOffset: number, src: Uint8Array, srcOffset: number, length: number): this {
    this.checkActive('putBytes');
    if (payloadOffset < 0 || length < 0 || payloadOffset + length > this.length) {
      throw new SkeinError(
        ErrorCode.ARG_INVALID,
        `putBytes range [${payloadOffset}, ${payloadOffset + length}) is outside the claimed payload [0, ${this.length})`,
      );
    }
    copyBytes(this.buffer, this.offset + payloadOffset, src, srcOffset, length);
    return this;
  }

  /** Publishes the frame. */
  commit(): void {
    const frameOffset = this.checkActive('commit');
    frameLengthOrdered(this.buffer, frameOffset, this.length + DATA_HEADER_LENGTH);
    this.release();
  }

  /** Turns the frame into padding and publishes it, so consumers skip it. */
  abort(): void {
    const frameOffset = this.checkActive('abort');
    setFrameType(this.buffer, frameOffset, PAD_FRAME_TYPE);
    frameLengthOrdered(this.buffer, frameOffset, this.length + DATA_HEADER_LENGTH);
    this.release();
  }

  private release(): void {
    this.frameOffset = -1;
    this.buffer = EMPTY;
    this.offset = 0;
    this.length = 0;
  }

  private checkActive(operation: string): number {
    if (this.frameOffset < 0) {
      throw new SkeinError(ErrorCode.ARG_INVALID, `BufferClaim.${operation}() needs an active claim`, {
        state: 'released',
      });
    }
    return this.frameOffset;
  }
}
