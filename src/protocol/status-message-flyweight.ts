import { FrameType, SM_LENGTH, SM_LENGTH_WITH_GROUP_TAG } from './frame-constants.js';
import { HeaderFlyweight } from './header-flyweight.js';

/** Byte offsets of the SM fields after the common header. */
export const StatusMessageLayout = {
  SESSION_ID: 8,
  STREAM_ID: 12,
  CONSUMPTION_TERM_ID: 16,
  CONSUMPTION_TERM_OFFSET: 20,
  RECEIVER_WINDOW: 24,
  RECEIVER_ID: 28,
  GROUP_TAG: 36,
} as const;

const L = StatusMessageLayout;

/**
 * SM — status message (type 0x03), 36 bytes or 44 with a group tag (PROTOCOL.md §3.4). Sent by a
 * receiver to tell the sender its consumption position and window.
 *
 * ```
 *  byte  0                   4         5         6                   8
 *     0  | frameLength 36/44 | version | flags   | type = 3          |
 *     8  | sessionId         | streamId                              |
 *    16  | consumptionTermId | consumptionTermOffset                 |
 *    24  | receiverWindow    | receiverId int64 (unaligned, 28..35) ..
 *    32  .. receiverId       | groupTag int64 (optional, 36..43)   ..
 *    40  .. groupTag         |
 * ```
 *
 * Flags: 0x80 SEND_SETUP, 0x40 EOS. The group tag is present iff frameLength is exactly 44
 * (the C driver's rule).
 */
export class StatusMessageFlyweight extends HeaderFlyweight {
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

  get consumptionTermId(): number {
    return this.getInt32(L.CONSUMPTION_TERM_ID);
  }
  set consumptionTermId(value: number) {
    this.setInt32(L.CONSUMPTION_TERM_ID, value);
  }

  get consumptionTermOffset(): number {
    return this.getInt32(L.CONSUMPTION_TERM_OFFSET);
  }
  set consumptionTermOffset(value: number) {
    this.setInt32(L.CONSUMPTION_TERM_OFFSET, value);
  }

  get receiverWindow(): number {
    return this.getInt32(L.RECEIVER_WINDOW);
  }
  set receiverWindow(value: number) {
    this.setInt32(L.RECEIVER_WINDOW, value);
  }

  get receiverId(): bigint {
    return this.getInt64(L.RECEIVER_ID);
  }
  set receiverId(value: bigint) {
    this.setInt64(L.RECEIVER_ID, value);
  }

  /** True iff frameLength === 44. */
  get hasGroupTag(): boolean {
    return this.frameLength === SM_LENGTH_WITH_GROUP_TAG;
  }

  /** The group tag, or null when the frame has none. */
  get groupTag(): bigint | null {
    return this.hasGroupTag ? this.getInt64(L.GROUP_TAG) : null;
  }
  /** Writes the tag and sets frameLength to 44; null sets frameLength back to 36. */
  set groupTag(value: bigint | null) {
    if (value === null) {
      this.frameLength = SM_LENGTH;
    } else {
      this.setInt64(L.GROUP_TAG, value);
      this.frameLength = SM_LENGTH_WITH_GROUP_TAG;
    }
  }

  /** Writes a complete 36-byte SM without group tag; set {@link groupTag} afterwards to add one. */
  writeStatusMessage(
    flags: number,
    sessionId: number,
    streamId: number,
    consumptionTermId: number,
    consumptionTermOffset: number,
    receiverWindow: number,
    receiverId: bigint,
  ): this {
    this.writeFrameHeader(SM_LENGTH, flags, FrameType.SM);
    this.setInt32(L.SESSION_ID, sessionId);
    this.setInt32(L.STREAM_ID, streamId);
    this.setInt32(L.CONSUMPTION_TERM_ID, consumptionTermId);
    this.setInt32(L.CONSUMPTION_TERM_OFFSET, consumptionTermOffset);
    this.setInt32(L.RECEIVER_WINDOW, receiverWindow);
    this.setInt64(L.RECEIVER_ID, receiverId);
    return this;
  }
}
