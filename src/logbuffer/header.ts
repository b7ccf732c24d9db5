/**
 * Flyweight over the DATA header of the fragment being delivered to a handler. Readers point it at
 * the frame (`buffer`, `offset`) before each call; it is only valid during the call. The layout
 * is drawn in `frame-descriptor.ts`.
 */
import { align } from '../util/bits.js';
import type { ControlledPollAction } from './controlled-poll-action.js';
import {
  BEGIN_FRAG_FLAG,
  END_FRAG_FLAG,
  FRAME_ALIGNMENT,
  frameFlags,
  frameLength,
  frameReservedValueHigh,
  frameReservedValueLow,
  frameSessionId,
  frameStreamId,
  frameTermId,
  frameTermOffset,
  frameType,
} from './frame-descriptor.js';
import { computePosition } from './log-buffer-descriptor.js';

const EMPTY = new Uint8Array(0);

/** Receives one fragment: the payload is `buffer[offset, offset + length)`. */
export type FragmentHandler = (buffer: Uint8Array, offset: number, length: number, header: Header) => void;

/** Like {@link FragmentHandler} but steers the poll with a {@link ControlledPollAction}. */
export type ControlledFragmentHandler = (
  buffer: Uint8Array,
  offset: number,
  length: number,
  header: Header,
) => ControlledPollAction;

export class Header {
  /** Buffer holding the frame (a term buffer, or an assembler's copy of a header). */
  buffer: Uint8Array = EMPTY;
  /** Offset of the frame's first header byte in `buffer`. */
  offset = 0;
  /** Free slot for the owner of the header (an image puts itself here). */
  context: unknown = undefined;
  initialTermId: number;
  positionBitsToShift: number;
  private nextTermOffsetOverride = -1;

  constructor(initialTermId: number, positionBitsToShift: number, context?: unknown) {
    this.initialTermId = initialTermId;
    this.positionBitsToShift = positionBitsToShift;
    this.context = context;
  }

  get frameLength(): number { return frameLength(this.buffer, this.offset); }
  get flags(): number { return frameFlags(this.buffer, this.offset); }
  get type(): number { return frameType(this.buffer, this.offset); }
  get termOffset(): number { return frameTermOffset(this.buffer, this.offset); }
  get sessionId(): number { return frameSessionId(this.buffer, this.offset); }
  get streamId(): number { return frameStreamId(this.buffer, this.offset); }
  get termId(): number { return frameTermId(this.buffer, this.offset); }
  get reservedValueLow(): number { return frameReservedValueLow(this.buffer, this.offset); }
  get reservedValueHigh(): number { return frameReservedValueHigh(this.buffer, this.offset); }

  /** The 64-bit reserved value (allocates a bigint; use the two halves on hot paths). */
  get reservedValue(): bigint {
    return (BigInt(this.reservedValueHigh) << 32n) | BigInt(this.reservedValueLow >>> 0);
  }

  get isBeginFragment(): boolean { return (this.flags & BEGIN_FRAG_FLAG) !== 0; }
  get isEndFragment(): boolean { return (this.flags & END_FRAG_FLAG) !== 0; }

  /** Term offset just past this frame, aligned to 32. */
  get nextTermOffset(): number {
    return this.nextTermOffsetOverride >= 0
      ? this.nextTermOffsetOverride
      : align(this.termOffset + this.frameLength, FRAME_ALIGNMENT);
  }

  /** Stream position just past this frame (aligned), i.e. where the next frame starts. */
  get position(): number {
    return computePosition(this.termId, this.nextTermOffset, this.positionBitsToShift, this.initialTermId);
  }

  /**
   * For assemblers: a reassembled header reports the whole message's frameLength, so its end is
   * given explicitly; -1 restores the default (derived from the frame's own length).
   */
  overrideNextTermOffset(nextTermOffset: number): void {
    this.nextTermOffsetOverride = nextTermOffset;
  }
}
