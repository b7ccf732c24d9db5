import { AssertionFailure } from '../util/assert.js';
import {
  CURRENT_VERSION,
  DATA_HEADER_LENGTH,
  ERR_HEADER_LENGTH,
  FRAME_ALIGNMENT,
  FrameType,
  HEADER_LENGTH,
  NAK_LENGTH,
  RES_HEADER_LENGTH,
  RES_MIN_ENTRY_LENGTH,
  RSP_SETUP_LENGTH,
  RTTM_LENGTH,
  SETUP_LENGTH,
  SM_LENGTH,
} from './frame-constants.js';

/**
 * Why a received datagram was dropped without effect; all negative so they never collide with a
 * type code. Codes -1…-8 are returned by {@link validateDatagram}; the others come from the checks
 * an endpoint, image or publication makes after the gate. Each reason has its own driver counter
 * ("Invalid frames: <NAME>", system counter id 149 - code) besides the "Invalid packets" total.
 */
export const InvalidFrameReason = {
  /** Fewer than 8 bytes. */
  TOO_SHORT: -1,
  /** Version byte other than 0. */
  BAD_VERSION: -2,
  /** frameLength negative as int32. */
  NEGATIVE_FRAME_LENGTH: -3,
  /** DATA/PAD datagram length not a multiple of 32. */
  DATA_LENGTH_NOT_ALIGNED: -4,
  /** DATA/PAD datagram shorter than its 32-byte header. */
  DATA_TOO_SHORT: -5,
  /** Control datagram shorter than the fixed size of its type. */
  CONTROL_TOO_SHORT: -6,
  /** Control frameLength larger than the datagram. */
  FRAME_LENGTH_EXCEEDS_DATAGRAM: -7,
  /** ATS, EXT or an unassigned type code. */
  UNKNOWN_TYPE: -8,
  /**
   * SETUP whose term length, term offset or MTU is outside the ranges of PROTOCOL.md §3.3 (an MTU
   * of exactly 32 included: it leaves no room for payload), or whose active term id lies before
   * its initial term id.
   */
  SETUP_INVALID: -9,
  /** DATA/PAD whose termOffset is negative, not below the term length or not 32-aligned. */
  TERM_OFFSET_INVALID: -10,
  /** DATA/PAD whose termId lies before the image's initial term id. */
  TERM_ID_INVALID: -11,
  /**
   * DATA/PAD datagram whose frames do not chain (type, version, session, stream, term or offset
   * differ from what the first frame implies; a frame ends past the term or the datagram; bytes
   * after a PAD).
   */
  FRAMES_INVALID: -12,
  /** DATA/PAD beyond the receiver's acceptance window, or a heartbeat more than a term behind it (§8.3). */
  OUTSIDE_WINDOW: -13,
  /** SM the publication rejected: offset or window out of range, or its position too far from the sender's. */
  SM_INVALID: -14,
  /** NAK the publication rejected: offset or length out of the term. */
  NAK_INVALID: -15,
} as const;

export type InvalidFrameReasonCode = (typeof InvalidFrameReason)[keyof typeof InvalidFrameReason];

/** Number of reasons; codes run from -1 to -INVALID_FRAME_REASON_COUNT. */
export const INVALID_FRAME_REASON_COUNT = 15;

const REASON_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(InvalidFrameReason).map(([name, code]) => [code, name]),
);

export function invalidFrameReasonName(reason: number): string {
  return REASON_NAMES[reason] ?? `UNKNOWN_REASON(${reason})`;
}

/**
 * The datagram acceptance gate of PROTOCOL.md §1.1, run on every received datagram before it is
 * dispatched. Returns the frame type (uint16, >= 0) when the datagram passes, otherwise a negative
 * {@link InvalidFrameReason}. Allocation-free; reads the bytes directly.
 *
 * 1. length >= 8, frameLength >= 0 (signed), version == 0;
 * 2. DATA/PAD: length >= 32 and a multiple of 32;
 * 3. known control types: length >= the fixed size of the type and frameLength <= length;
 * 4. any other type (ATS, EXT, unassigned codes) is rejected.
 */
export function validateDatagram(buffer: Uint8Array, offset: number, length: number): number {
  if (!(offset >= 0 && length >= 0 && offset + length <= buffer.length)) {
    throw new AssertionFailure(`datagram out of bounds: offset=${offset} length=${length} buffer.length=${buffer.length}`);
  }
  if (length < HEADER_LENGTH) return InvalidFrameReason.TOO_SHORT;
  const frameLength = buffer[offset]! | (buffer[offset + 1]! << 8) | (buffer[offset + 2]! << 16) | (buffer[offset + 3]! << 24);
  if (frameLength < 0) return InvalidFrameReason.NEGATIVE_FRAME_LENGTH;
  if (buffer[offset + 4] !== CURRENT_VERSION) return InvalidFrameReason.BAD_VERSION;
  const type = buffer[offset + 6]! | (buffer[offset + 7]! << 8);

  if (type === FrameType.DATA || type === FrameType.PAD) {
    if (length < DATA_HEADER_LENGTH) return InvalidFrameReason.DATA_TOO_SHORT;
    return length % FRAME_ALIGNMENT === 0 ? type : InvalidFrameReason.DATA_LENGTH_NOT_ALIGNED;
  }
  const lengthMin = controlFrameLengthMin(type);
  if (lengthMin < 0) return InvalidFrameReason.UNKNOWN_TYPE;
  if (length < lengthMin) return InvalidFrameReason.CONTROL_TOO_SHORT;
  return frameLength <= length ? type : InvalidFrameReason.FRAME_LENGTH_EXCEEDS_DATAGRAM;
}

/** Fixed minimum datagram length of a control frame type, or -1 for a type the gate rejects. */
function controlFrameLengthMin(type: number): number {
  switch (type) {
    case FrameType.NAK:
      return NAK_LENGTH;
    case FrameType.SM:
      return SM_LENGTH;
    case FrameType.ERR:
      return ERR_HEADER_LENGTH;
    case FrameType.SETUP:
      return SETUP_LENGTH;
    case FrameType.RTTM:
      return RTTM_LENGTH;
    case FrameType.RES:
      return RES_HEADER_LENGTH + RES_MIN_ENTRY_LENGTH;
    case FrameType.RSP_SETUP:
      return RSP_SETUP_LENGTH;
    default:
      return -1;
  }
}
