/**
 * Reads published frames of one term in order and hands DATA fragments to a handler.
 *
 * A read stops at the first frame whose length is ≤ 0 (not yet published), at the end of the
 * term, or after `fragmentsLimit` fragments. PAD frames move the offset over their whole padded
 * length but are neither delivered nor counted. After each call `offset` holds the term offset
 * the caller should advance its position to (subscriber position bookkeeping is the caller's).
 *
 * A handler that throws does not jam the term: the fragment it was handed counts as consumed, the
 * read stops there with `offset` past it, and the error is kept in `handlerError` (with the
 * fragment's term offset in `handlerErrorOffset`) for the caller to report. An AssertionFailure
 * is a broken invariant, not a handler's failure: it propagates, with `offset` still set.
 */
import { align } from '../util/bits.js';
import { ControlledPollAction } from './controlled-poll-action.js';
import { DATA_HEADER_LENGTH, FRAME_ALIGNMENT, TermWords, isPaddingFrame } from './frame-descriptor.js';
import type { ControlledFragmentHandler, FragmentHandler, Header } from './header.js';
import { AssertionFailure } from '../util/assert.js';

export class TermReader {
  /** Term offset reached by the last read. */
  offset = 0;
  /** Controlled reads: term offset of the last COMMIT in the last read (its start offset if none). */
  committedOffset = 0;
  /** What the handler threw during the last read (undefined when it threw nothing). */
  handlerError: unknown = undefined;
  /** True when the handler threw during the last read (it may throw undefined). */
  handlerFailed = false;
  /** Term offset of the fragment whose handler threw. */
  handlerErrorOffset = 0;
  private readonly termWords = new TermWords();

  /**
   * Delivers up to `fragmentsLimit` fragments from `termOffset`; returns how many. Pass
   * `threadShared = false` only for a log no other thread writes (its metadata's
   * `sharedAcrossThreads`): frame lengths are then read without `Atomics`.
   */
  read(termBuffer: Uint8Array, termOffset: number, handler: FragmentHandler, fragmentsLimit: number, header: Header, threadShared = true): number {
    const capacity = termBuffer.length;
    const words = this.termWords.get(termBuffer);
    let fragmentsRead = 0;
    let offset = termOffset;
    let frameOffset = termOffset;
    header.buffer = termBuffer;
    header.overrideNextTermOffset(-1);
    this.handlerFailed = false;
    try {
      while (fragmentsRead < fragmentsLimit && offset < capacity) {
        const frameLength = threadShared ? Atomics.load(words, offset >> 2) : words[offset >> 2]!;
        if (frameLength <= 0) {
          break;
        }
        frameOffset = offset;
        offset += align(frameLength, FRAME_ALIGNMENT);
        if (!isPaddingFrame(termBuffer, frameOffset)) {
          fragmentsRead++;
          header.offset = frameOffset;
          handler(termBuffer, frameOffset + DATA_HEADER_LENGTH, frameLength - DATA_HEADER_LENGTH, header);
        }
      }
    } catch (error) {
      this.offset = offset;
      if (error instanceof AssertionFailure) throw error;
      this.recordHandlerError(error, frameOffset);
    }
    this.offset = offset;
    return fragmentsRead;
  }

  /**
   * Like {@link read} but the handler steers: ABORT leaves `offset` before the fragment and stops,
   * BREAK stops after it, COMMIT records `committedOffset` after it and goes on, CONTINUE goes on.
   */
  controlledRead(
    termBuffer: Uint8Array,
    termOffset: number,
    handler: ControlledFragmentHandler,
    fragmentsLimit: number,
    header: Header,
    threadShared = true,
  ): number {
    const capacity = termBuffer.length;
    const words = this.termWords.get(termBuffer);
    let fragmentsRead = 0;
    let offset = termOffset;
    let frameOffset = termOffset;
    this.committedOffset = termOffset;
    header.buffer = termBuffer;
    header.overrideNextTermOffset(-1);
    this.handlerFailed = false;
    try {
      while (fragmentsRead < fragmentsLimit && offset < capacity) {
        const frameLength = threadShared ? Atomics.load(words, offset >> 2) : words[offset >> 2]!;
        if (frameLength <= 0) {
          break;
        }
        frameOffset = offset;
        const alignedLength = align(frameLength, FRAME_ALIGNMENT);
        offset += alignedLength;
        if (isPaddingFrame(termBuffer, frameOffset)) {
          continue;
        }
        fragmentsRead++;
        header.offset = frameOffset;
        const action = handler(termBuffer, frameOffset + DATA_HEADER_LENGTH, frameLength - DATA_HEADER_LENGTH, header);
        if (action === ControlledPollAction.ABORT) {
          fragmentsRead--;
          offset -= alignedLength;
          break;
        }
        if (action === ControlledPollAction.BREAK) {
          break;
        }
        if (action === ControlledPollAction.COMMIT) {
          this.committedOffset = offset;
        }
      }
    } catch (error) {
      this.offset = offset;
      if (error instanceof AssertionFailure) throw error;
      this.recordHandlerError(error, frameOffset);
    }
    this.offset = offset;
    return fragmentsRead;
  }

  private recordHandlerError(error: unknown, frameOffset: number): void {
    this.handlerFailed = true;
    this.handlerError = error;
    this.handlerErrorOffset = frameOffset;
  }
}
