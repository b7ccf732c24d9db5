/**
 * Appends frames to one term partition of a log (PROTOCOL.md §5, §6).
 *
 * Each append reserves space by advancing the partition's tail offset (the low word of its tail
 * counter), writes the header with a negative frame length, copies the payload and finally stores
 * the positive frame length, which publishes the frame to readers.
 *
 * Results: the term offset just past the appended frames (> 0); {@link TermAppender.APPEND_FAILED}
 * when the term is full — if the claim started inside the term the rest of the term has been
 * turned into a PAD frame, and the caller must rotate the log (`rotateLog`) and retry in the next
 * term; {@link TermAppender.APPEND_STALE} when the partition's tail does not belong to
 * `activeTermId` (the log rotated under the caller): nothing was written, re-read the active term
 * and retry.
 *
 * One thread appends to a log at a time in this version (the tail is advanced with plain
 * read-then-store, not an atomic add).
 */
import { assert } from '../util/assert.js';
import { align } from '../util/bits.js';
import type { BufferClaim } from './buffer-claim.js';
import { copyBytes, copyIntoTerm } from './copy-bytes.js';
import {
  BEGIN_FRAG_FLAG,
  DATA_HEADER_LENGTH,
  END_FRAG_FLAG,
  FRAME_ALIGNMENT,
  frameLengthOrdered,
  int32ViewOf,
  setFrameFlags,
  templateWordsOf,
  setFrameReservedValue,
  writePaddingFrame,
  writeUnpublishedHeader,
  writeUnpublishedDataHeaderWords,
} from './frame-descriptor.js';
import { computeFragmentedFrameLength } from './log-buffer-descriptor.js';
import type { LogMetaData } from './log-meta-data.js';

export class TermAppender {
  /** The claim does not fit in this term: rotate and retry. */
  static readonly APPEND_FAILED = -2;
  /** The tail belongs to another term than `activeTermId`: nothing written. */
  static readonly APPEND_STALE = -3;

  readonly termBuffer: Uint8Array;
  readonly metaData: LogMetaData;
  readonly partitionIndex: number;
  private readonly termLength: number;
  /** The term as 32-bit words, for header stores and publishing. */
  private readonly termInts: Int32Array;
  private vectorIndex = 0;
  private vectorOffset = 0;

  constructor(termBuffer: Uint8Array, metaData: LogMetaData, partitionIndex: number) {
    this.termBuffer = termBuffer;
    this.metaData = metaData;
    this.partitionIndex = partitionIndex;
    this.termLength = termBuffer.length;
    this.termInts = int32ViewOf(termBuffer);
  }

  /** Appends `src[srcOffset, srcOffset + length)` as one frame (flags from the template). */
  appendUnfragmentedMessage(
    headerTemplate: Uint8Array,
    src: Uint8Array,
    srcOffset: number,
    length: number,
    reservedValueLow: number,
    reservedValueHigh: number,
    activeTermId: number,
  ): number {
    if (this.metaData.rawTailTermId(this.partitionIndex) !== activeTermId) {
      return TermAppender.APPEND_STALE;
    }
    const termOffset = this.metaData.rawTailOffset(this.partitionIndex);
    return this.appendUnfragmentedAt(termOffset, headerTemplate, src, srcOffset, length, reservedValueLow, reservedValueHigh, activeTermId);
  }

  /**
   * {@link appendUnfragmentedMessage} for a caller that has just read this partition's tail and
   * found it in `activeTermId`: `termOffset` is the tail offset it read (as stored, possibly
   * beyond the term), so the tail is not read again.
   */
  appendUnfragmentedAt(
    termOffset: number,
    headerTemplate: Uint8Array,
    src: Uint8Array,
    srcOffset: number,
    length: number,
    reservedValueLow: number,
    reservedValueHigh: number,
    activeTermId: number,
  ): number {
    const frameLength = length + DATA_HEADER_LENGTH;
    const alignedLength = align(frameLength, FRAME_ALIGNMENT);
    const frameOffset = this.reserveAt(termOffset, alignedLength, headerTemplate, activeTermId);
    if (frameOffset < 0) {
      return frameOffset;
    }
    const ints = this.termInts;
    writeUnpublishedDataHeaderWords(ints, frameOffset, frameLength, templateWordsOf(headerTemplate), activeTermId, reservedValueLow, reservedValueHigh);
    copyIntoTerm(ints, this.termBuffer, frameOffset + DATA_HEADER_LENGTH, src, srcOffset, length);
    // Publish: a log read only in this thread needs no fence (and Atomics.store is a builtin call).
    if (this.metaData.sharedAcrossThreads) Atomics.store(ints, frameOffset >> 2, frameLength);
    else ints[frameOffset >> 2] = frameLength;
    return frameOffset + alignedLength;
  }

  /** Appends the concatenation of `srcs` (total `length` bytes) as one frame. */
  appendUnfragmentedMessageV(
    headerTemplate: Uint8Array,
    srcs: readonly Uint8Array[],
    length: number,
    reservedValueLow: number,
    reservedValueHigh: number,
    activeTermId: number,
  ): number {
    const frameLength = length + DATA_HEADER_LENGTH;
    const alignedLength = align(frameLength, FRAME_ALIGNMENT);
    const frameOffset = this.reserve(alignedLength, headerTemplate, activeTermId);
    if (frameOffset < 0) {
      return frameOffset;
    }
    const term = this.termBuffer;
    writeUnpublishedHeader(term, frameOffset, frameLength, headerTemplate, activeTermId);
    setFrameReservedValue(term, frameOffset, reservedValueLow, reservedValueHigh);
    this.vectorIndex = 0;
    this.vectorOffset = 0;
    this.copyFromVector(frameOffset + DATA_HEADER_LENGTH, srcs, length);
    frameLengthOrdered(term, frameOffset, frameLength);
    return frameOffset + alignedLength;
  }

  /**
   * Appends a message longer than `maxPayloadLength` as consecutive frames in one reserved
   * block: BEGIN on the first, END on the last, none in between.
   */
  appendFragmentedMessage(
    headerTemplate: Uint8Array,
    src: Uint8Array,
    srcOffset: number,
    length: number,
    maxPayloadLength: number,
    reservedValueLow: number,
    reservedValueHigh: number,
    activeTermId: number,
  ): number {
    const framedLength = computeFragmentedFrameLength(length, maxPayloadLength);
    const termOffset = this.reserve(framedLength, headerTemplate, activeTermId);
    if (termOffset < 0) {
      return termOffset;
    }
    const term = this.termBuffer;
    let frameOffset = termOffset;
    let srcPosition = srcOffset;
    let remaining = length;
    let flags = BEGIN_FRAG_FLAG;
    do {
      const bytesToWrite = Math.min(remaining, maxPayloadLength);
      const frameLength = bytesToWrite + DATA_HEADER_LENGTH;
      writeUnpublishedHeader(term, frameOffset, frameLength, headerTemplate, activeTermId);
      setFrameReservedValue(term, frameOffset, reservedValueLow, reservedValueHigh);
      copyBytes(term, frameOffset + DATA_HEADER_LENGTH, src, srcPosition, bytesToWrite);
      if (remaining === bytesToWrite) {
        flags |= END_FRAG_FLAG;
      }
      setFrameFlags(term, frameOffset, flags);
      frameLengthOrdered(term, frameOffset, frameLength);
      flags = 0;
      frameOffset += align(frameLength, FRAME_ALIGNMENT);
      srcPosition += bytesToWrite;
      remaining -= bytesToWrite;
    } while (remaining > 0);
    return termOffset + framedLength;
  }

  /** Like {@link appendFragmentedMessage} with the message gathered from several buffers. */
  appendFragmentedMessageV(
    headerTemplate: Uint8Array,
    srcs: readonly Uint8Array[],
    length: number,
    maxPayloadLength: number,
    reservedValueLow: number,
    reservedValueHigh: number,
    activeTermId: number,
  ): number {
    const framedLength = computeFragmentedFrameLength(length, maxPayloadLength);
    const termOffset = this.reserve(framedLength, headerTemplate, activeTermId);
    if (termOffset < 0) {
      return termOffset;
    }
    const term = this.termBuffer;
    this.vectorIndex = 0;
    this.vectorOffset = 0;
    let frameOffset = termOffset;
    let remaining = length;
    let flags = BEGIN_FRAG_FLAG;
    do {
      const bytesToWrite = Math.min(remaining, maxPayloadLength);
      const frameLength = bytesToWrite + DATA_HEADER_LENGTH;
      writeUnpublishedHeader(term, frameOffset, frameLength, headerTemplate, activeTermId);
      setFrameReservedValue(term, frameOffset, reservedValueLow, reservedValueHigh);
      this.copyFromVector(frameOffset + DATA_HEADER_LENGTH, srcs, bytesToWrite);
      if (remaining === bytesToWrite) {
        flags |= END_FRAG_FLAG;
      }
      setFrameFlags(term, frameOffset, flags);
      frameLengthOrdered(term, frameOffset, frameLength);
      flags = 0;
      frameOffset += align(frameLength, FRAME_ALIGNMENT);
      remaining -= bytesToWrite;
    } while (remaining > 0);
    return termOffset + framedLength;
  }

  /**
   * Reserves one frame of `length` payload bytes and points `bufferClaim` at it; the frame is
   * published by `bufferClaim.commit()` or turned into padding by `bufferClaim.abort()`.
   */
  claim(headerTemplate: Uint8Array, length: number, bufferClaim: BufferClaim, activeTermId: number): number {
    const frameLength = length + DATA_HEADER_LENGTH;
    const alignedLength = align(frameLength, FRAME_ALIGNMENT);
    const frameOffset = this.reserve(alignedLength, headerTemplate, activeTermId);
    if (frameOffset < 0) {
      return frameOffset;
    }
    writeUnpublishedHeader(this.termBuffer, frameOffset, frameLength, headerTemplate, activeTermId);
    setFrameReservedValue(this.termBuffer, frameOffset, 0, 0);
    bufferClaim.wrap(this.termBuffer, frameOffset, frameLength);
    return frameOffset + alignedLength;
  }

  /**
   * Appends a block of whole, already framed bytes (a replay of recorded frames) at `termOffset`,
   * which the caller read as this partition's tail in `activeTermId` and checked the block fits
   * after. The block's first frame length is stored last, so a reader sees all of it or none.
   * Returns the new tail offset.
   */
  appendBlock(termOffset: number, src: Uint8Array, srcOffset: number, length: number): number {
    const term = this.termBuffer;
    const firstFrameLength = src[srcOffset]! | (src[srcOffset + 1]! << 8) | (src[srcOffset + 2]! << 16) | (src[srcOffset + 3]! << 24);
    this.metaData.setRawTailOffset(this.partitionIndex, termOffset + length);
    copyBytes(term, termOffset + 4, src, srcOffset + 4, length - 4);
    if (this.metaData.sharedAcrossThreads) frameLengthOrdered(term, termOffset, firstFrameLength);
    else this.termInts[termOffset >> 2] = firstFrameLength;
    return termOffset + length;
  }

  /** Appends a PAD frame covering `length` bytes plus its header. */
  appendPadding(headerTemplate: Uint8Array, length: number, activeTermId: number): number {
    const frameLength = length + DATA_HEADER_LENGTH;
    const alignedLength = align(frameLength, FRAME_ALIGNMENT);
    const frameOffset = this.reserve(alignedLength, headerTemplate, activeTermId);
    if (frameOffset < 0) {
      return frameOffset;
    }
    writePaddingFrame(this.termBuffer, frameOffset, frameLength, headerTemplate, activeTermId);
    return frameOffset + alignedLength;
  }

  /**
   * Advances the tail by `alignedLength` and returns the reserved frame offset, or a negative
   * result code. When the block overruns the term, the remainder of the term becomes a PAD frame.
   */
  private reserve(alignedLength: number, headerTemplate: Uint8Array, activeTermId: number): number {
    const metaData = this.metaData;
    const partition = this.partitionIndex;
    if (metaData.rawTailTermId(partition) !== activeTermId) {
      return TermAppender.APPEND_STALE;
    }
    return this.reserveAt(metaData.rawTailOffset(partition), alignedLength, headerTemplate, activeTermId);
  }

  /** {@link reserve} from a tail offset the caller read, with the term id already checked. */
  private reserveAt(termOffset: number, alignedLength: number, headerTemplate: Uint8Array, activeTermId: number): number {
    if (alignedLength < DATA_HEADER_LENGTH || alignedLength > this.termLength) {
      assert(false, `append length ${alignedLength} outside [32, termLength]`);
    }
    if (termOffset >= this.termLength) {
      return TermAppender.APPEND_FAILED;
    }
    const resultingOffset = termOffset + alignedLength;
    this.metaData.setRawTailOffset(this.partitionIndex, resultingOffset);
    if (resultingOffset > this.termLength) {
      writePaddingFrame(this.termBuffer, termOffset, this.termLength - termOffset, headerTemplate, activeTermId);
      return TermAppender.APPEND_FAILED;
    }
    return termOffset;
  }

  /** Copies the next `length` bytes of the gathered message, continuing from the last cursor. */
  private copyFromVector(dstOffset: number, srcs: readonly Uint8Array[], length: number): void {
    let remaining = length;
    let dst = dstOffset;
    while (remaining > 0) {
      assert(this.vectorIndex < srcs.length, 'gathered buffers are shorter than the message length');
      const src = srcs[this.vectorIndex]!;
      const bytes = Math.min(remaining, src.length - this.vectorOffset);
      copyBytes(this.termBuffer, dst, src, this.vectorOffset, bytes);
      dst += bytes;
      remaining -= bytes;
      this.vectorOffset += bytes;
      if (this.vectorOffset === src.length) {
        this.vectorIndex++;
        this.vectorOffset = 0;
      }
    }
  }
}
