/**
 * Builders of single frames for tests and fuzzers: each writes one frame with the src flyweights
 * into a fresh Uint8Array of exactly the datagram length and returns it, so a test can then break
 * any byte it wants.
 */
import {
  DATA_HEADER_LENGTH,
  FrameFlags,
  FrameType,
  NAK_LENGTH,
  RTTM_LENGTH,
  SETUP_LENGTH,
  SM_LENGTH,
} from '../../../src/protocol/frame-constants.js';
import { DataHeaderFlyweight } from '../../../src/protocol/data-header-flyweight.js';
import { SetupFlyweight, type SetupFields } from '../../../src/protocol/setup-flyweight.js';
import { StatusMessageFlyweight } from '../../../src/protocol/status-message-flyweight.js';
import { NakFlyweight } from '../../../src/protocol/nak-flyweight.js';
import { RttMeasurementFlyweight } from '../../../src/protocol/rtt-measurement-flyweight.js';

export interface DataFrameFields {
  /** Unaligned frame length (32 + payload); 0 with a 32-byte datagram is a heartbeat. */
  frameLength: number;
  flags?: number;
  type?: number;
  termOffset: number;
  sessionId: number;
  streamId: number;
  termId: number;
  /** Payload byte i is `(payloadSeed + i) & 0xff`. @default 0 */
  payloadSeed?: number;
}

const align32 = (n: number): number => Math.ceil(n / 32) * 32;

/** Writes one DATA/PAD frame at `offset` of `buffer`; returns the aligned end offset. */
export function writeDataFrame(buffer: Uint8Array, offset: number, f: DataFrameFields): number {
  new DataHeaderFlyweight()
    .wrap(buffer, offset, DATA_HEADER_LENGTH)
    .writeHeader(f.frameLength, f.flags ?? FrameFlags.UNFRAGMENTED, f.type ?? FrameType.DATA, f.termOffset, f.sessionId, f.streamId, f.termId);
  const payloadLength = Math.max(0, f.frameLength - DATA_HEADER_LENGTH);
  const seed = f.payloadSeed ?? 0;
  const end = Math.min(buffer.length, offset + DATA_HEADER_LENGTH + payloadLength);
  for (let i = offset + DATA_HEADER_LENGTH, k = 0; i < end; i++, k++) buffer[i] = (seed + k) & 0xff;
  return offset + align32(Math.max(f.frameLength, DATA_HEADER_LENGTH));
}

/** A datagram holding one DATA frame, padded to 32 bytes. */
export function dataDatagram(f: DataFrameFields): Uint8Array {
  const bytes = new Uint8Array(align32(Math.max(f.frameLength, DATA_HEADER_LENGTH)));
  writeDataFrame(bytes, 0, f);
  return bytes;
}

/** A 32-byte heartbeat (DATA, frameLength 0) with the given flags (BEGIN|END plus EOS/REVOKED). */
export function heartbeatDatagram(f: Omit<DataFrameFields, 'frameLength' | 'type'>): Uint8Array {
  return dataDatagram({ ...f, frameLength: 0 });
}

export function setupDatagram(fields: Partial<SetupFields> & Pick<SetupFields, 'sessionId' | 'streamId'>): Uint8Array {
  const bytes = new Uint8Array(SETUP_LENGTH);
  new SetupFlyweight().wrap(bytes).write({
    flags: 0,
    termOffset: 0,
    initialTermId: 100,
    activeTermId: 100,
    termLength: 65536,
    mtu: 1408,
    ttl: 0,
    ...fields,
  });
  return bytes;
}

export interface StatusMessageFields {
  flags?: number;
  sessionId: number;
  streamId: number;
  consumptionTermId: number;
  consumptionTermOffset: number;
  receiverWindow: number;
  receiverId?: bigint;
}

export function statusMessageDatagram(f: StatusMessageFields): Uint8Array {
  const bytes = new Uint8Array(SM_LENGTH);
  new StatusMessageFlyweight()
    .wrap(bytes)
    .writeStatusMessage(f.flags ?? 0, f.sessionId, f.streamId, f.consumptionTermId, f.consumptionTermOffset, f.receiverWindow, f.receiverId ?? 7n);
  return bytes;
}

export function nakDatagram(sessionId: number, streamId: number, termId: number, termOffset: number, length: number): Uint8Array {
  const bytes = new Uint8Array(NAK_LENGTH);
  new NakFlyweight().wrap(bytes).writeNak(sessionId, streamId, termId, termOffset, length);
  return bytes;
}

export function rttmDatagram(flags: number, sessionId: number, streamId: number, echoTimestampNs: bigint, receiverId: bigint): Uint8Array {
  const bytes = new Uint8Array(RTTM_LENGTH);
  new RttMeasurementFlyweight().wrap(bytes).writeRttm(flags, sessionId, streamId, echoTimestampNs, 0n, receiverId);
  return bytes;
}
