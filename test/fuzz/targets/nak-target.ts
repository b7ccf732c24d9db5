/** Fuzz target of NAK frames. */
import fc from 'fast-check';
import { FrameType, NAK_LENGTH } from '../../../src/protocol/frame-constants.js';
import { NakFlyweight } from '../../../src/protocol/nak-flyweight.js';
import { decoderTarget } from './decoder-target.js';

const int32 = fc.integer({ min: -0x80000000, max: 0x7fffffff });

function decode(buffer: Uint8Array, offset: number, length: number): Record<string, number> {
  const nak = new NakFlyweight().wrap(buffer, offset, length);
  return {
    frameLength: nak.frameLength,
    flags: nak.flags,
    type: nak.type,
    sessionId: nak.sessionId,
    streamId: nak.streamId,
    termId: nak.termId,
    termOffset: nak.termOffset,
    length: nak.length,
  };
}

export const nakTarget = decoderTarget({
  name: 'nak',
  description: 'NAK frames (28 bytes)',
  types: [FrameType.NAK],
  lengthMin: NAK_LENGTH,
  valid: fc.tuple(int32, int32, int32, int32, int32).map(([sessionId, streamId, termId, termOffset, length]) => {
    const bytes = new Uint8Array(NAK_LENGTH);
    new NakFlyweight().wrap(bytes).writeNak(sessionId, streamId, termId, termOffset, length);
    return { bytes, expected: { frameLength: NAK_LENGTH, flags: 0, type: FrameType.NAK, sessionId, streamId, termId, termOffset, length } };
  }),
  decode,
});
