/** Fuzz target of RTT measurement frames. */
import fc from 'fast-check';
import { FrameType, RTTM_LENGTH } from '../../../src/protocol/frame-constants.js';
import { RttMeasurementFlyweight } from '../../../src/protocol/rtt-measurement-flyweight.js';
import { decoderTarget } from './decoder-target.js';

const int32 = fc.integer({ min: -0x80000000, max: 0x7fffffff });
const int64 = fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });

function decode(buffer: Uint8Array, offset: number, length: number): Record<string, unknown> {
  const r = new RttMeasurementFlyweight().wrap(buffer, offset, length);
  return {
    frameLength: r.frameLength,
    flags: r.flags,
    type: r.type,
    sessionId: r.sessionId,
    streamId: r.streamId,
    echoTimestampNs: r.echoTimestampNs,
    receptionDeltaNs: r.receptionDeltaNs,
    receiverId: r.receiverId,
  };
}

export const rttmTarget = decoderTarget({
  name: 'rttm',
  description: 'RTT measurement frames (40 bytes)',
  types: [FrameType.RTTM],
  lengthMin: RTTM_LENGTH,
  valid: fc
    .record({ flags: fc.integer({ min: 0, max: 255 }), sessionId: int32, streamId: int32, echoTimestampNs: int64, receptionDeltaNs: int64, receiverId: int64 })
    .map((f) => {
      const bytes = new Uint8Array(RTTM_LENGTH);
      new RttMeasurementFlyweight().wrap(bytes).writeRttm(f.flags, f.sessionId, f.streamId, f.echoTimestampNs, f.receptionDeltaNs, f.receiverId);
      return { bytes, expected: { frameLength: RTTM_LENGTH, type: FrameType.RTTM, ...f } };
    }),
  decode,
});
