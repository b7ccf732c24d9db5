/** Fuzz target of the DATA/PAD family: DATA frames (batched), heartbeats and PAD headers. */
import fc from 'fast-check';
import { DATA_HEADER_LENGTH, FrameFlags, FrameType } from '../../../src/protocol/frame-constants.js';
import { DataHeaderFlyweight } from '../../../src/protocol/data-header-flyweight.js';
import { decoderTarget, type ValidFrame } from './decoder-target.js';

const int32 = fc.integer({ min: -0x80000000, max: 0x7fffffff });
const align32 = (n: number): number => Math.ceil(n / 32) * 32;

interface DecodedFrame {
  frameLength: number;
  version: number;
  flags: number;
  type: number;
  termOffset: number;
  sessionId: number;
  streamId: number;
  termId: number;
  reservedValue: bigint;
  isHeartbeat: boolean;
  payloadOffset: number;
}

/**
 * Walks the frames of a DATA/PAD datagram as a receiver does before any check of their content:
 * while a whole header fits, read every field, then step by the aligned frame length; stop at a
 * frame length below the header, after a PAD, or at the end of the datagram.
 */
function decode(buffer: Uint8Array, offset: number, length: number): DecodedFrame[] {
  const h = new DataHeaderFlyweight();
  const frames: DecodedFrame[] = [];
  let at = 0;
  while (length - at >= DATA_HEADER_LENGTH) {
    h.wrap(buffer, offset + at, length - at);
    const frame: DecodedFrame = {
      frameLength: h.frameLength,
      version: h.version,
      flags: h.flags,
      type: h.type,
      termOffset: h.termOffset,
      sessionId: h.sessionId,
      streamId: h.streamId,
      termId: h.termId,
      reservedValue: h.reservedValue,
      isHeartbeat: h.isHeartbeat(length - at),
      payloadOffset: h.payloadOffset - offset,
    };
    if (BigInt.asIntN(64, (BigInt(h.reservedValueHigh) << 32n) | BigInt(h.reservedValueLow >>> 0)) !== frame.reservedValue) {
      throw new Error(`reserved value halves disagree at frame offset ${at}`);
    }
    frames.push(frame);
    if (frame.frameLength < DATA_HEADER_LENGTH || frame.type === FrameType.PAD) break;
    at += align32(frame.frameLength);
  }
  return frames;
}

const frameFields = fc.record({
  flags: fc.constantFrom(FrameFlags.UNFRAGMENTED, FrameFlags.BEGIN, FrameFlags.END, 0),
  payloadLength: fc.integer({ min: 0, max: 300 }),
  reservedValue: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
});

/** One to five consecutive DATA frames of one stream, optionally ended by a PAD header; or a heartbeat. */
const valid: fc.Arbitrary<ValidFrame> = fc
  .record({
    sessionId: int32,
    streamId: int32,
    termId: int32,
    termOffset: fc.nat({ max: (1 << 25) - 1 }).map((n) => n * 32),
    frames: fc.array(frameFields, { minLength: 1, maxLength: 5 }),
    pad: fc.option(fc.integer({ min: 32, max: 1 << 20 }).map(align32)),
    heartbeat: fc.option(fc.constantFrom(FrameFlags.UNFRAGMENTED, FrameFlags.UNFRAGMENTED | FrameFlags.EOS, 0xf0)),
  })
  .map((r) => {
    const h = new DataHeaderFlyweight();
    if (r.heartbeat !== null) {
      const bytes = new Uint8Array(DATA_HEADER_LENGTH);
      h.wrap(bytes).writeHeartbeat(r.heartbeat, r.termOffset, r.sessionId, r.streamId, r.termId);
      return { bytes, expected: [frameOf(0, r.heartbeat, FrameType.DATA, r.termOffset, r, 0n, true, DATA_HEADER_LENGTH)] };
    }
    const length = r.frames.reduce((sum, f) => sum + align32(DATA_HEADER_LENGTH + f.payloadLength), 0) + (r.pad === null ? 0 : DATA_HEADER_LENGTH);
    const bytes = new Uint8Array(length);
    const expected: DecodedFrame[] = [];
    let at = 0;
    let termOffset = r.termOffset;
    for (const f of r.frames) {
      const frameLength = DATA_HEADER_LENGTH + f.payloadLength;
      h.wrap(bytes, at, length - at).writeHeader(frameLength, f.flags, FrameType.DATA, termOffset, r.sessionId, r.streamId, r.termId);
      h.reservedValue = f.reservedValue;
      for (let i = 0; i < f.payloadLength; i++) bytes[at + DATA_HEADER_LENGTH + i] = (i * 13) & 0xff;
      expected.push(frameOf(frameLength, f.flags, FrameType.DATA, termOffset, r, f.reservedValue, frameLength === 0, at + DATA_HEADER_LENGTH));
      at += align32(frameLength);
      termOffset += align32(frameLength);
    }
    if (r.pad !== null) {
      h.wrap(bytes, at, DATA_HEADER_LENGTH).writeHeader(r.pad, FrameFlags.UNFRAGMENTED, FrameType.PAD, termOffset, r.sessionId, r.streamId, r.termId);
      expected.push(frameOf(r.pad, FrameFlags.UNFRAGMENTED, FrameType.PAD, termOffset, r, 0n, false, at + DATA_HEADER_LENGTH));
    }
    return { bytes, expected };
  });

function frameOf(
  frameLength: number,
  flags: number,
  type: number,
  termOffset: number,
  ids: { sessionId: number; streamId: number; termId: number },
  reservedValue: bigint,
  isHeartbeat: boolean,
  payloadOffset: number,
): DecodedFrame {
  return { frameLength, version: 0, flags, type, termOffset, sessionId: ids.sessionId, streamId: ids.streamId, termId: ids.termId, reservedValue, isHeartbeat, payloadOffset };
}

export const dataFrameTarget = decoderTarget({
  name: 'data',
  description: 'DATA and PAD frames: batches, heartbeats, trailing PAD headers',
  types: [FrameType.DATA, FrameType.PAD],
  lengthMin: DATA_HEADER_LENGTH,
  valid,
  decode,
  check(decoded, length) {
    const frames = decoded as DecodedFrame[];
    if (frames.length === 0) throw new Error(`an accepted DATA/PAD datagram of ${length} bytes decoded to no frame`);
  },
});
