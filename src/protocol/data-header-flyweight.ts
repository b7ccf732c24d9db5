import { DATA_HEADER_LENGTH, FrameType } from './frame-constants.js';
import { HeaderFlyweight } from './header-flyweight.js';

/** Byte offsets of the DATA/PAD header fields after the common header. */
export const DataHeaderLayout = {
  TERM_OFFSET: 8,
  SESSION_ID: 12,
  STREAM_ID: 16,
  TERM_ID: 20,
  RESERVED_VALUE: 24,
  PAYLOAD: 32,
} as const;

const L = DataHeaderLayout;

/**
 * DATA (type 0x01, also heartbeats) and PAD (type 0x00) header, 32 bytes (PROTOCOL.md §3.1, §3.2).
 *
 * ```
 *  byte  0                   4         5         6                   8
 *     0  | frameLength       | version | flags   | type              |
 *     8  | termOffset        | sessionId                             |
 *    16  | streamId          | termId                                |
 *    24  | reservedValue int64 (low half at 24, high half at 28)     |
 *    32  | payload: frameLength - 32 bytes, then zeros up to align(frameLength, 32)
 * ```
 *
 * A heartbeat is a 32-byte datagram with frameLength 0. A PAD header's frameLength covers the
 * padded region of the term, which may be far longer than the datagram.
 */
export class DataHeaderFlyweight extends HeaderFlyweight {
  get termOffset(): number {
    return this.getInt32(L.TERM_OFFSET);
  }
  set termOffset(value: number) {
    this.setInt32(L.TERM_OFFSET, value);
  }

  get sessionId(): number {
    return this.getInt32(L.SESSION_ID);
  }
  set sessionId(value: number) {
    this.setInt32(L.SESSION_ID, value);
  }

  get streamId(): number {
    return this.getInt32(L.STREAM_ID);
  }
  set streamId(value: number) {
    this.setInt32(L.STREAM_ID, value);
  }

  get termId(): number {
    return this.getInt32(L.TERM_ID);
  }
  set termId(value: number) {
    this.setInt32(L.TERM_ID, value);
  }

  /** The 64-bit reserved value; allocates a bigint, see {@link reservedValueLow} for the hot path. */
  get reservedValue(): bigint {
    return this.getInt64(L.RESERVED_VALUE);
  }
  set reservedValue(value: bigint) {
    this.setInt64(L.RESERVED_VALUE, value);
  }

  /** Low 32 bits of the reserved value as int32 (allocation-free). */
  get reservedValueLow(): number {
    return this.getInt32(L.RESERVED_VALUE);
  }
  set reservedValueLow(value: number) {
    this.setInt32(L.RESERVED_VALUE, value);
  }

  /** High 32 bits of the reserved value as int32 (allocation-free). */
  get reservedValueHigh(): number {
    return this.getInt32(L.RESERVED_VALUE + 4);
  }
  set reservedValueHigh(value: number) {
    this.setInt32(L.RESERVED_VALUE + 4, value);
  }

  /** Offset of the payload inside {@link buffer}. */
  get payloadOffset(): number {
    return this.bufferOffset + DATA_HEADER_LENGTH;
  }

  /** True for a heartbeat: frameLength 0 in a datagram of exactly 32 bytes. */
  isHeartbeat(datagramLength: number): boolean {
    return datagramLength === DATA_HEADER_LENGTH && this.getInt32(0) === 0;
  }

  /** Writes the complete 32-byte header, version 0 and reserved value 0. */
  writeHeader(
    frameLength: number,
    flags: number,
    type: number,
    termOffset: number,
    sessionId: number,
    streamId: number,
    termId: number,
  ): this {
    this.writeFrameHeader(frameLength, flags, type);
    this.setInt32(L.TERM_OFFSET, termOffset);
    this.setInt32(L.SESSION_ID, sessionId);
    this.setInt32(L.STREAM_ID, streamId);
    this.setInt32(L.TERM_ID, termId);
    this.setInt32(L.RESERVED_VALUE, 0);
    this.setInt32(L.RESERVED_VALUE + 4, 0);
    return this;
  }

  /** Writes a heartbeat header (DATA, frameLength 0, reserved 0); `flags` is 0xc0 plus EOS/REVOKED when they apply. */
  writeHeartbeat(flags: number, termOffset: number, sessionId: number, streamId: number, termId: number): this {
    return this.writeHeader(0, flags, FrameType.DATA, termOffset, sessionId, streamId, termId);
  }
}
