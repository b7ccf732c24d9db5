import { FrameType, NAK_LENGTH } from './frame-constants.js';
import { HeaderFlyweight } from './header-flyweight.js';

/** Byte offsets of the NAK fields after the common header. */
export const NakLayout = {
  SESSION_ID: 8,
  STREAM_ID: 12,
  TERM_ID: 16,
  TERM_OFFSET: 20,
  LENGTH: 24,
} as const;

const L = NakLayout;

/**
 * NAK (type 0x02), 28 bytes: a receiver asks for the retransmission of a gap (PROTOCOL.md §3.5).
 * Note the field order differs from DATA: sessionId comes before termOffset.
 *
 * ```
 *  byte  0                   4         5         6                   8
 *     0  | frameLength = 28  | version | flags 0 | type = 2          |
 *     8  | sessionId         | streamId                              |
 *    16  | termId            | termOffset                            |
 *    24  | length            |
 * ```
 */
export class NakFlyweight extends HeaderFlyweight {
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

  get termOffset(): number {
    return this.getInt32(L.TERM_OFFSET);
  }
  set termOffset(value: number) {
    this.setInt32(L.TERM_OFFSET, value);
  }

  /** Bytes missing from termOffset on. */
  get length(): number {
    return this.getInt32(L.LENGTH);
  }
  set length(value: number) {
    this.setInt32(L.LENGTH, value);
  }

  /** Writes a complete 28-byte NAK (flags 0). */
  writeNak(sessionId: number, streamId: number, termId: number, termOffset: number, length: number): this {
    this.writeFrameHeader(NAK_LENGTH, 0, FrameType.NAK);
    this.setInt32(L.SESSION_ID, sessionId);
    this.setInt32(L.STREAM_ID, streamId);
    this.setInt32(L.TERM_ID, termId);
    this.setInt32(L.TERM_OFFSET, termOffset);
    this.setInt32(L.LENGTH, length);
    return this;
  }
}
