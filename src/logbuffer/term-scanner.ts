/**
 * Finds how much of a term a sender can put in its next datagram (PROTOCOL.md §3.1, §3.2, §8.2).
 *
 * Starting at `termOffset`, whole published frames are counted (each aligned to 32) while the
 * total stays within `maxLength`. Frames are never split. A PAD frame ends the batch: only its
 * 32-byte header is sent, so only 32 bytes count in the result, and the rest of the padded region
 * is reported in `padding` — the sender advances its position by `available + padding`.
 */
import { align } from '../util/bits.js';
import { DATA_HEADER_LENGTH, FRAME_ALIGNMENT, TermWords, isPaddingFrame } from './frame-descriptor.js';

export class TermScanner {
  /** Padded bytes beyond the PAD header that ended the last scan (0 if none). */
  padding = 0;
  private readonly termWords = new TermWords();

  /**
   * Returns the number of bytes to send from `termOffset`: at most `min(maxLength, mtu)` and the
   * rest of the term. 0 when the first frame is unpublished or larger than the limit.
   */
  scanForAvailability(termBuffer: Uint8Array, termOffset: number, maxLength: number, mtu?: number): number {
    let limit = Math.min(maxLength, termBuffer.length - termOffset);
    if (mtu !== undefined && mtu < limit) {
      limit = mtu;
    }
    const words = this.termWords.get(termBuffer);
    let available = 0;
    let padding = 0;
    while (available < limit) {
      const frameOffset = termOffset + available;
      const frameLength = Atomics.load(words, frameOffset >> 2);
      if (frameLength <= 0) {
        break;
      }
      const isPad = isPaddingFrame(termBuffer, frameOffset);
      let alignedLength = align(frameLength, FRAME_ALIGNMENT);
      let framePadding = 0;
      if (isPad) {
        framePadding = alignedLength - DATA_HEADER_LENGTH;
        alignedLength = DATA_HEADER_LENGTH;
      }
      if (available + alignedLength > limit) {
        break;
      }
      available += alignedLength;
      if (isPad) {
        padding = framePadding;
        break;
      }
    }
    this.padding = padding;
    return available;
  }
}
