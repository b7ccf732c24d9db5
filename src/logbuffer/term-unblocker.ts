/**
 * Unblocks a log whose consumers are stuck behind a frame that was reserved but never published
 * (a claim neither committed nor aborted), PROTOCOL.md §10 "Blocked publisher". The stuck region
 * becomes a PAD frame built from the log's default header, so readers and the sender move on.
 */
import { log2 } from '../util/bits.js';
import { FRAME_ALIGNMENT, frameLengthVolatile, writePaddingFrame } from './frame-descriptor.js';
import {
  computeTermCount,
  computeTermIdFromPosition,
  computeTermOffsetFromPosition,
  indexByTerm,
  indexByTermCount,
} from './log-buffer-descriptor.js';
import type { LogMetaData } from './log-meta-data.js';
import { rotateLog } from './log-rotation.js';

export const UnblockStatus = {
  /** Nothing to unblock (the frame is published, or nothing follows it yet). */
  NO_ACTION: 0,
  /** The stuck region before the next frame became padding. */
  UNBLOCKED: 1,
  /** The rest of the term became padding. */
  UNBLOCKED_TO_END: 2,
} as const;

export type UnblockStatus = (typeof UnblockStatus)[keyof typeof UnblockStatus];

/**
 * Pads over the unpublished frame at `blockedOffset` of one term:
 * - a header written with a negative length (claimed, not committed) becomes PAD of that length;
 * - a zero length with published data further on (before `tailOffset`) becomes PAD up to it,
 *   provided every slot in between is still empty;
 * - a zero length with nothing up to a tail at or past the term end becomes PAD to the end.
 */
export function unblockTerm(
  metaData: LogMetaData,
  termBuffer: Uint8Array,
  blockedOffset: number,
  tailOffset: number,
  termId: number,
): UnblockStatus {
  const template = metaData.defaultFrameHeader;
  const frameLength = frameLengthVolatile(termBuffer, blockedOffset);
  if (frameLength < 0) {
    writePaddingFrame(termBuffer, blockedOffset, -frameLength, template, termId);
    return UnblockStatus.UNBLOCKED;
  }
  if (frameLength > 0) {
    return UnblockStatus.NO_ACTION;
  }
  const termLength = termBuffer.length;
  const limit = Math.min(tailOffset, termLength);
  let offset = blockedOffset + FRAME_ALIGNMENT;
  while (offset < limit) {
    if (frameLengthVolatile(termBuffer, offset) !== 0) {
      if (!isZeroedBetween(termBuffer, blockedOffset, offset)) {
        return UnblockStatus.NO_ACTION;
      }
      writePaddingFrame(termBuffer, blockedOffset, offset - blockedOffset, template, termId);
      return UnblockStatus.UNBLOCKED;
    }
    offset += FRAME_ALIGNMENT;
  }
  if (offset >= termLength && tailOffset >= termLength && frameLengthVolatile(termBuffer, blockedOffset) === 0) {
    writePaddingFrame(termBuffer, blockedOffset, termLength - blockedOffset, template, termId);
    return UnblockStatus.UNBLOCKED_TO_END;
  }
  return UnblockStatus.NO_ACTION;
}

/**
 * Unblocks a log, in one of two forms:
 *
 * - `unblock(termBuffers, metaData, blockedOffset, tailOffset, termId)`: term `termId` at
 *   `blockedOffset` (a consumer's stuck offset) with the producer's `tailOffset` in that term;
 * - `unblock(termBuffers, metaData, blockedPosition, producerPosition)`: a driver's form, see
 *   {@link unblockAtPosition}.
 *
 * When the rest of a term was padded and the producer is still on that term, the log is rotated
 * so the producer moves on. Returns whether anything changed.
 */
export function unblock(
  termBuffers: readonly Uint8Array[],
  metaData: LogMetaData,
  blockedPosition: number,
  producerPosition: number,
): boolean;
export function unblock(
  termBuffers: readonly Uint8Array[],
  metaData: LogMetaData,
  blockedOffset: number,
  tailOffset: number,
  termId: number,
): boolean;
export function unblock(
  termBuffers: readonly Uint8Array[],
  metaData: LogMetaData,
  blocked: number,
  tail: number,
  termId?: number,
): boolean {
  return termId === undefined
    ? unblockAtPosition(termBuffers, metaData, blocked, tail)
    : unblockInTerm(termBuffers, metaData, blocked, tail, termId);
}

/**
 * Position form: a consumer stuck at `blockedPosition` while the producer is at
 * `producerPosition`. Uses the tail counter of the partition holding the blocked position, and
 * also rotates a log whose consumers wait at the start of a term the producer never rotated to.
 */
export function unblockAtPosition(
  termBuffers: readonly Uint8Array[],
  metaData: LogMetaData,
  blockedPosition: number,
  producerPosition: number,
): boolean {
  if (producerPosition <= blockedPosition) {
    return false;
  }
  const initialTermId = metaData.initialTermId;
  const positionBitsToShift = log2(metaData.termLength);
  const blockedTermId = computeTermIdFromPosition(blockedPosition, positionBitsToShift, initialTermId);
  const blockedTermCount = computeTermCount(blockedTermId, initialTermId);
  const blockedOffset = computeTermOffsetFromPosition(blockedPosition, positionBitsToShift);
  const activeTermCount = metaData.activeTermCount;
  if (blockedOffset === 0 && activeTermCount === blockedTermCount - 1) {
    const activeTermId = metaData.rawTailTermId(indexByTermCount(activeTermCount));
    return rotateLog(metaData, activeTermCount, activeTermId);
  }
  const partition = indexByTermCount(blockedTermCount);
  if (metaData.rawTailTermId(partition) !== blockedTermId) {
    return false;
  }
  return unblockInTerm(termBuffers, metaData, blockedOffset, metaData.rawTailOffset(partition), blockedTermId);
}

function unblockInTerm(
  termBuffers: readonly Uint8Array[],
  metaData: LogMetaData,
  blockedOffset: number,
  tailOffset: number,
  termId: number,
): boolean {
  const initialTermId = metaData.initialTermId;
  const termBuffer = termBuffers[indexByTerm(initialTermId, termId)]!;
  const status = unblockTerm(metaData, termBuffer, blockedOffset, tailOffset, termId);
  if (status === UnblockStatus.UNBLOCKED_TO_END) {
    const termCount = computeTermCount(termId, initialTermId);
    if (metaData.activeTermCount === termCount) {
      rotateLog(metaData, termCount, termId);
    }
  }
  return status !== UnblockStatus.NO_ACTION;
}

function isZeroedBetween(termBuffer: Uint8Array, from: number, to: number): boolean {
  for (let offset = to - FRAME_ALIGNMENT; offset >= from; offset -= FRAME_ALIGNMENT) {
    if (frameLengthVolatile(termBuffer, offset) !== 0) {
      return false;
    }
  }
  return true;
}
