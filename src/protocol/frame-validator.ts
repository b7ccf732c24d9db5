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

/** Why {@link validateDatagram} dropped a datagram; all negative so they never collide with a type code. */
export const InvalidFrameReason = {
  TOO_SHORT: -1,
  BAD_VERSION: -2,
  NEGATIVE_FRAME_LENGTH: -3,
  DATA_LENGTH_NOT_ALIGNED: -4,
  DATA_TOO_SHORT: -5,
  CONTROL_TOO_SHORT: -6,
  FRAME_LENGTH_EXCEEDS_DATAGRAM: -7,
  UNKNOWN_TYPE: -8,
} as const;

export type InvalidFrameReasonCode = (typeof InvalidFrameReason)[keyof typeof InvalidFrameReason];

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
