/** Fuzz target of response setup (RSP_SETUP) frames. */
import fc from 'fast-check';
import { FrameType, RSP_SETUP_LENGTH } from '../../../src/protocol/frame-constants.js';
import { ResponseSetupFlyweight } from '../../../src/protocol/response-setup-flyweight.js';
import { decoderTarget } from './decoder-target.js';

const int32 = fc.integer({ min: -0x80000000, max: 0x7fffffff });

function decode(buffer: Uint8Array, offset: number, length: number): Record<string, number> {
  const r = new ResponseSetupFlyweight().wrap(buffer, offset, length);
  return {
    frameLength: r.frameLength,
    flags: r.flags,
    type: r.type,
    sessionId: r.sessionId,
    streamId: r.streamId,
    responseSessionId: r.responseSessionId,
  };
}

export const responseSetupTarget = decoderTarget({
  name: 'rsp_setup',
  description: 'response setup frames (20 bytes)',
  types: [FrameType.RSP_SETUP],
  lengthMin: RSP_SETUP_LENGTH,
  valid: fc.tuple(int32, int32, int32).map(([sessionId, streamId, responseSessionId]) => {
    const bytes = new Uint8Array(RSP_SETUP_LENGTH);
    new ResponseSetupFlyweight().wrap(bytes).writeResponseSetup(sessionId, streamId, responseSessionId);
    return { bytes, expected: { frameLength: RSP_SETUP_LENGTH, flags: 0, type: FrameType.RSP_SETUP, sessionId, streamId, responseSessionId } };
  }),
  decode,
});
