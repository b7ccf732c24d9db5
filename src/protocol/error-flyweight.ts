import { ERR_HEADER_LENGTH, ERR_MAX_MESSAGE_LENGTH, FrameFlags, FrameType } from './frame-constants.js';
import { decodeUtf8, encodeUtf8 } from './flyweight.js';
import { HeaderFlyweight } from './header-flyweight.js';

/** Byte offsets of the ERR fields after the common header. */
export const ErrorLayout = {
  SESSION_ID: 8,
  STREAM_ID: 12,
  RECEIVER_ID: 16,
  GROUP_TAG: 24,
  ERROR_CODE: 32,
  ERROR_LENGTH: 36,
  ERROR_MESSAGE: 40,
} as const;

const L = ErrorLayout;

/** Every field of an ERR frame besides length, version and type. */
export interface ErrorFields {
  flags: number;
  sessionId: number;
  streamId: number;
  receiverId: bigint;
  groupTag: bigint;
  errorCode: number;
  errorMessage: string;
}

/**
 * ERR (type 0x04), 40 bytes plus up to 1023 bytes of UTF-8 text, not padded (PROTOCOL.md §3.7).
 * A receiver sends it instead of SMs after the application rejected an image.
 *
 * ```
 *  byte  0                   4         5         6                   8
 *     0  | frameLength 40+n  | version | flags   | type = 4          |
 *     8  | sessionId         | streamId                              |
 *    16  | receiverId int64                                          |
 *    24  | groupTag int64 (written even when flag 0x08 is clear)     |
 *    32  | errorCode         | errorLength n                         |
 *    40  | error text, n bytes (not NUL-terminated)
 * ```
 */
export class ErrorFlyweight extends HeaderFlyweight {
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

  get receiverId(): bigint {
    return this.getInt64(L.RECEIVER_ID);
  }
  set receiverId(value: bigint) {
    this.setInt64(L.RECEIVER_ID, value);
  }

  /** The group tag field; meaningful only when {@link hasGroupTag}. */
  get groupTag(): bigint {
    return this.getInt64(L.GROUP_TAG);
  }
  set groupTag(value: bigint) {
    this.setInt64(L.GROUP_TAG, value);
  }

  /** True when flag 0x08 (HAS_GROUP_TAG) is set. */
  get hasGroupTag(): boolean {
    return (this.flags & FrameFlags.ERR_HAS_GROUP_TAG) !== 0;
  }

  get errorCode(): number {
    return this.getInt32(L.ERROR_CODE);
  }
  set errorCode(value: number) {
    this.setInt32(L.ERROR_CODE, value);
  }

  get errorLength(): number {
    return this.getInt32(L.ERROR_LENGTH);
  }
  set errorLength(value: number) {
    this.setInt32(L.ERROR_LENGTH, value);
  }

  /** The error text: errorLength bytes of UTF-8, clamped to the wrapped bytes. */
  get errorMessage(): string {
    const available = this.capacity - ERR_HEADER_LENGTH;
    return decodeUtf8(this.buffer, this.bufferOffset + L.ERROR_MESSAGE, Math.min(this.errorLength, available));
  }

  /**
   * Writes `text` as UTF-8, truncated (on a character boundary) to 1023 bytes or the wrapped space,
   * and sets errorLength = n and frameLength = 40 + n. Returns n.
   */
  setErrorMessage(text: string): number {
    const lengthMax = Math.min(ERR_MAX_MESSAGE_LENGTH, this.capacity - ERR_HEADER_LENGTH);
    const length = encodeUtf8(text, this.buffer, this.bufferOffset + L.ERROR_MESSAGE, lengthMax);
    this.errorLength = length;
    this.frameLength = ERR_HEADER_LENGTH + length;
    return length;
  }

  /** Writes a complete ERR frame; returns its length (40 + text bytes). */
  write(fields: ErrorFields): number {
    this.writeFrameHeader(ERR_HEADER_LENGTH, fields.flags, FrameType.ERR);
    this.setInt32(L.SESSION_ID, fields.sessionId);
    this.setInt32(L.STREAM_ID, fields.streamId);
    this.setInt64(L.RECEIVER_ID, fields.receiverId);
    this.setInt64(L.GROUP_TAG, fields.groupTag);
    this.setInt32(L.ERROR_CODE, fields.errorCode);
    return ERR_HEADER_LENGTH + this.setErrorMessage(fields.errorMessage);
  }
}
