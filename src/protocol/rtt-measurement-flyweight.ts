import { FrameType, RTTM_LENGTH } from './frame-constants.js';
import { HeaderFlyweight } from './header-flyweight.js';

/** Byte offsets of the RTTM fields after the common header. */
export const RttMeasurementLayout = {
  SESSION_ID: 8,
  STREAM_ID: 12,
  ECHO_TIMESTAMP: 16,
  RECEPTION_DELTA: 24,
  RECEIVER_ID: 32,
} as const;

const L = RttMeasurementLayout;

/**
 * RTTM — RTT measurement (type 0x06), 40 bytes (PROTOCOL.md §3.6).
 *
 * ```
 *  byte  0                   4         5         6                   8
 *     0  | frameLength = 40  | version | flags   | type = 6          |
 *     8  | sessionId         | streamId                              |
 *    16  | echoTimestampNs int64                                     |
 *    24  | receptionDeltaNs int64                                    |
 *    32  | receiverId int64                                          |
 * ```
 *
 * Flag 0x80 (REPLY) is set on the request that asks the peer to answer; the answer carries 0.
 */
export class RttMeasurementFlyweight extends HeaderFlyweight {
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

  /** Clock of the initiator in ns (monotonic, not epoch). */
  get echoTimestampNs(): bigint {
    return this.getInt64(L.ECHO_TIMESTAMP);
  }
  set echoTimestampNs(value: bigint) {
    this.setInt64(L.ECHO_TIMESTAMP, value);
  }

  get receptionDeltaNs(): bigint {
    return this.getInt64(L.RECEPTION_DELTA);
  }
  set receptionDeltaNs(value: bigint) {
    this.setInt64(L.RECEPTION_DELTA, value);
  }

  get receiverId(): bigint {
    return this.getInt64(L.RECEIVER_ID);
  }
  set receiverId(value: bigint) {
    this.setInt64(L.RECEIVER_ID, value);
  }

  /** Writes a complete 40-byte RTTM. */
  writeRttm(
    flags: number,
    sessionId: number,
    streamId: number,
    echoTimestampNs: bigint,
    receptionDeltaNs: bigint,
    receiverId: bigint,
  ): this {
    this.writeFrameHeader(RTTM_LENGTH, flags, FrameType.RTTM);
    this.setInt32(L.SESSION_ID, sessionId);
    this.setInt32(L.STREAM_ID, streamId);
    this.setInt64(L.ECHO_TIMESTAMP, echoTimestampNs);
    this.setInt64(L.RECEPTION_DELTA, receptionDeltaNs);
    this.setInt64(L.RECEIVER_ID, receiverId);
    return this;
  }
}
