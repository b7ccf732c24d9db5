import { FrameType, RSP_SETUP_LENGTH } from './frame-constants.js';
import { HeaderFlyweight } from './header-flyweight.js';

/** Byte offsets of the RSP_SETUP fields after the common header. */
export const ResponseSetupLayout = {
  SESSION_ID: 8,
  STREAM_ID: 12,
  RESPONSE_SESSION_ID: 16,
} as const;

const L = ResponseSetupLayout;

/**
 * RSP_SETUP — response setup (type 0x0B), 20 bytes (PROTOCOL.md §3.8): the server's receiver tells
 * a client's request publication which session id its response publication has.
 *
 * ```
 *  byte  0                   4         5         6                   8
 *     0  | frameLength = 20  | version | flags 0 | type = 0x0b       |
 *     8  | sessionId         | streamId                              |
 *    16  | responseSessionId |
 * ```
 *
 * sessionId/streamId are those of the request stream.
 */
export class ResponseSetupFlyweight extends HeaderFlyweight {
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

  get responseSessionId(): number {
    return this.getInt32(L.RESPONSE_SESSION_ID);
  }
  set responseSessionId(value: number) {
    this.setInt32(L.RESPONSE_SESSION_ID, value);
  }

  /** Writes a complete 20-byte RSP_SETUP (flags 0). */
  writeResponseSetup(sessionId: number, streamId: number, responseSessionId: number): this {
    this.writeFrameHeader(RSP_SETUP_LENGTH, 0, FrameType.RSP_SETUP);
    this.setInt32(L.SESSION_ID, sessionId);
    this.setInt32(L.STREAM_ID, streamId);
    this.setInt32(L.RESPONSE_SESSION_ID, responseSessionId);
    return this;
  }
}
