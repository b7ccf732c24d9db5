/**
 * Finds the first hole in an image's term between the rebuild offset and the high-water mark
 * (PROTOCOL.md §9).
 *
 * From `rebuildOffset`, published frames are walked (a PAD frame covers its whole padded length)
 * until an empty slot; that offset is the new rebuild offset. If it lies before `hwmOffset`, the
 * gap extends over the following empty 32-byte slots until data is found or the high-water mark
 * is reached, and is reported through `hasGap`, `gapTermId`, `gapOffset`, `gapLength` (a
 * multiple of 32, at least 32, within the term).
 */
import { align } from '../util/bits.js';
import { FRAME_ALIGNMENT, frameLengthVolatile } from './frame-descriptor.js';

export class TermGapScanner {
  hasGap = false;
  gapTermId = 0;
  gapOffset = 0;
  gapLength = 0;

  /** Returns the new rebuild offset and records the first gap before `hwmOffset`, if any. */
  scanForGap(termBuffer: Uint8Array, termId: number, rebuildOffset: number, hwmOffset: number): number {
    const limit = Math.min(hwmOffset, termBuffer.length);
    let offset = rebuildOffset;
    while (offset < limit) {
      const frameLength = frameLengthVolatile(termBuffer, offset);
      if (frameLength <= 0) {
        break;
      }
      offset += align(frameLength, FRAME_ALIGNMENT);
    }
    const gapBegin = offset;
    this.hasGap = gapBegin < limit;
    if (!this.hasGap) {
      this.gapLength = 0;
      return gapBegin;
    }
    let gapEnd = gapBegin + FRAME_ALIGNMENT;
    while (gapEnd < limit && frameLengthVolatile(termBuffer, gapEnd) === 0) {
      gapEnd += FRAME_ALIGNMENT;
    }
    this.gapTermId = termId;
    this.gapOffset = gapBegin;
    this.gapLength = Math.min(gapEnd, limit) - gapBegin;
    return gapBegin;
  }
}
