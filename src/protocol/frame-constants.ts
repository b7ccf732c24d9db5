/**
 * Constants of the Aeron UDP wire protocol (PROTOCOL.md §1–§3): lengths, frame type codes and
 * flag bits. All multi-byte fields on the wire are little-endian.
 */

/** DATA and PAD frames start at multiples of this many bytes in a term and on the wire. */
export const FRAME_ALIGNMENT = 32;
/** Common header: frameLength int32, version uint8, flags uint8, type uint16. */
export const HEADER_LENGTH = 8;
/** DATA/PAD header; the payload follows it. */
export const DATA_HEADER_LENGTH = 32;
export const SETUP_LENGTH = 40;
export const SM_LENGTH = 36;
export const SM_LENGTH_WITH_GROUP_TAG = 44;
export const NAK_LENGTH = 28;
export const RTTM_LENGTH = 40;
/** ERR header without its text; the frame length is this plus the text length. */
export const ERR_HEADER_LENGTH = 40;
export const ERR_MAX_MESSAGE_LENGTH = 1023;
export const RSP_SETUP_LENGTH = 20;
/** RES common header; entries follow it. */
export const RES_HEADER_LENGTH = 8;
/** Smallest RES entry: IPv4 entry with an empty name (before alignment). */
export const RES_MIN_ENTRY_LENGTH = 14;
/** Largest UDP payload a stream may use; the MTU may not exceed it. */
export const MAX_UDP_PAYLOAD_LENGTH = 65504;
/** The only protocol version in use; datagrams with another version are dropped. */
export const CURRENT_VERSION = 0;

/** Frame type codes, read as unsigned 16-bit values. */
export const FrameType = {
  PAD: 0x00,
  DATA: 0x01,
  NAK: 0x02,
  SM: 0x03,
  ERR: 0x04,
  SETUP: 0x05,
  RTTM: 0x06,
  RES: 0x07,
  ATS_DATA: 0x08,
  ATS_SETUP: 0x09,
  ATS_SM: 0x0a,
  RSP_SETUP: 0x0b,
  EXT: 0xffff,
} as const;

export type FrameTypeCode = (typeof FrameType)[keyof typeof FrameType];

/** Flag bits of the header `flags` byte; the meaning of a bit depends on the frame type. */
export const FrameFlags = {
  /** DATA/PAD: first fragment of a message. */
  BEGIN: 0x80,
  /** DATA/PAD: last fragment of a message. */
  END: 0x40,
  /** DATA/PAD: BEGIN | END. */
  UNFRAGMENTED: 0xc0,
  /** DATA heartbeat: end of stream. */
  EOS: 0x20,
  /** DATA heartbeat: publication revoked (with EOS). */
  REVOKED: 0x10,
  /** SM: ask the sender for a SETUP. */
  SM_SEND_SETUP: 0x80,
  /** SM: the receiver is draining this image. */
  SM_EOS: 0x40,
  /** SETUP: the receiver should answer with RSP_SETUP once a response publication exists. */
  SETUP_SEND_RESPONSE_SETUP: 0x80,
  /** SETUP: the publication has group semantics (multicast or MDC). */
  SETUP_GROUP: 0x40,
  /** RTTM: set on the request that asks the peer to reply; the reply carries 0. */
  RTTM_REPLY: 0x80,
  /** ERR: the groupTag field is meaningful. */
  ERR_HAS_GROUP_TAG: 0x08,
  /** RES entry: the entry describes the sending resolver itself. */
  RES_SELF: 0x80,
} as const;

const TYPE_NAMES: Record<number, string> = {
  [FrameType.PAD]: 'PAD',
  [FrameType.DATA]: 'DATA',
  [FrameType.NAK]: 'NAK',
  [FrameType.SM]: 'SM',
  [FrameType.ERR]: 'ERR',
  [FrameType.SETUP]: 'SETUP',
  [FrameType.RTTM]: 'RTTM',
  [FrameType.RES]: 'RES',
  [FrameType.ATS_DATA]: 'ATS_DATA',
  [FrameType.ATS_SETUP]: 'ATS_SETUP',
  [FrameType.ATS_SM]: 'ATS_SM',
  [FrameType.RSP_SETUP]: 'RSP_SETUP',
  [FrameType.EXT]: 'EXT',
};

/** Name of a frame type code (`'DATA'`, `'SM'`, ...) or `'UNKNOWN(0x..)'`. Negative codes are read as uint16. */
export function frameTypeName(type: number): string {
  const code = type & 0xffff;
  return TYPE_NAMES[code] ?? `UNKNOWN(0x${code.toString(16).padStart(4, '0')})`;
}
