import { FrameType, SETUP_LENGTH } from './frame-constants.js';
import { HeaderFlyweight } from './header-flyweight.js';

/** Byte offsets of the SETUP fields after the common header. */
export const SetupLayout = {
  TERM_OFFSET: 8,
  SESSION_ID: 12,
  STREAM_ID: 16,
  INITIAL_TERM_ID: 20,
  ACTIVE_TERM_ID: 24,
  TERM_LENGTH: 28,
  MTU: 32,
  TTL: 36,
} as const;

const L = SetupLayout;

/** Every field of a SETUP frame besides length, version and type. */
export interface SetupFields {
  flags: number;
  termOffset: number;
  sessionId: number;
  streamId: number;
  initialTermId: number;
  activeTermId: number;
  termLength: number;
  mtu: number;
  ttl: number;
}

/**
 * SETUP (type 0x05), 40 bytes, sent by a publication to announce its stream (PROTOCOL.md §3.3).
 *
 * ```
 *  byte  0                   4         5         6                   8
 *     0  | frameLength = 40  | version | flags   | type = 5          |
 *     8  | termOffset        | sessionId                             |
 *    16  | streamId          | initialTermId                         |
 *    24  | activeTermId      | termLength                            |
 *    32  | mtu               | ttl                                   |
 * ```
 *
 * Flags: 0x80 SEND_RESPONSE_SETUP, 0x40 GROUP.
 */
export class SetupFlyweight extends HeaderFlyweight {
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

  get initialTermId(): number {
    return this.getInt32(L.INITIAL_TERM_ID);
  }
  set initialTermId(value: number) {
    this.setInt32(L.INITIAL_TERM_ID, value);
  }

  get activeTermId(): number {
    return this.getInt32(L.ACTIVE_TERM_ID);
  }
  set activeTermId(value: number) {
    this.setInt32(L.ACTIVE_TERM_ID, value);
  }

  get termLength(): number {
    return this.getInt32(L.TERM_LENGTH);
  }
  set termLength(value: number) {
    this.setInt32(L.TERM_LENGTH, value);
  }

  get mtu(): number {
    return this.getInt32(L.MTU);
  }
  set mtu(value: number) {
    this.setInt32(L.MTU, value);
  }

  get ttl(): number {
    return this.getInt32(L.TTL);
  }
  set ttl(value: number) {
    this.setInt32(L.TTL, value);
  }

  /** Writes a complete 40-byte SETUP. SETUP is sent at most every few ms, so an options object is fine here. */
  write(fields: SetupFields): this {
    this.writeFrameHeader(SETUP_LENGTH, fields.flags, FrameType.SETUP);
    this.setInt32(L.TERM_OFFSET, fields.termOffset);
    this.setInt32(L.SESSION_ID, fields.sessionId);
    this.setInt32(L.STREAM_ID, fields.streamId);
    this.setInt32(L.INITIAL_TERM_ID, fields.initialTermId);
    this.setInt32(L.ACTIVE_TERM_ID, fields.activeTermId);
    this.setInt32(L.TERM_LENGTH, fields.termLength);
    this.setInt32(L.MTU, fields.mtu);
    this.setInt32(L.TTL, fields.ttl);
    return this;
  }
}
