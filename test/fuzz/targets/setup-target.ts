/** Fuzz target of SETUP frames. */
import fc from 'fast-check';
import { FrameType, SETUP_LENGTH } from '../../../src/protocol/frame-constants.js';
import { SetupFlyweight } from '../../../src/protocol/setup-flyweight.js';
import { decoderTarget } from './decoder-target.js';

const int32 = fc.integer({ min: -0x80000000, max: 0x7fffffff });

function decode(buffer: Uint8Array, offset: number, length: number): Record<string, number> {
  const s = new SetupFlyweight().wrap(buffer, offset, length);
  return {
    frameLength: s.frameLength,
    flags: s.flags,
    type: s.type,
    termOffset: s.termOffset,
    sessionId: s.sessionId,
    streamId: s.streamId,
    initialTermId: s.initialTermId,
    activeTermId: s.activeTermId,
    termLength: s.termLength,
    mtu: s.mtu,
    ttl: s.ttl,
  };
}

const fields = fc.record({
  flags: fc.integer({ min: 0, max: 255 }),
  termOffset: int32,
  sessionId: int32,
  streamId: int32,
  initialTermId: int32,
  activeTermId: int32,
  termLength: fc.oneof(fc.integer({ min: 16, max: 30 }).map((bits) => 2 ** bits), int32),
  mtu: fc.oneof(fc.integer({ min: 1, max: 2047 }).map((n) => n * 32), int32),
  ttl: fc.integer({ min: 0, max: 255 }),
});

export const setupTarget = decoderTarget({
  name: 'setup',
  description: 'SETUP frames (40 bytes)',
  types: [FrameType.SETUP],
  lengthMin: SETUP_LENGTH,
  valid: fields.map((f) => {
    const bytes = new Uint8Array(SETUP_LENGTH);
    new SetupFlyweight().wrap(bytes).write(f);
    return { bytes, expected: { frameLength: SETUP_LENGTH, type: FrameType.SETUP, ...f } };
  }),
  decode,
});
