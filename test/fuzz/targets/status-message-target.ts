/** Fuzz target of status messages (SM), with and without a group tag. */
import fc from 'fast-check';
import { FrameType, SM_LENGTH, SM_LENGTH_WITH_GROUP_TAG } from '../../../src/protocol/frame-constants.js';
import { StatusMessageFlyweight } from '../../../src/protocol/status-message-flyweight.js';
import { decoderTarget } from './decoder-target.js';

const int32 = fc.integer({ min: -0x80000000, max: 0x7fffffff });
const int64 = fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });

function decode(buffer: Uint8Array, offset: number, length: number): Record<string, unknown> {
  const sm = new StatusMessageFlyweight().wrap(buffer, offset, length);
  return {
    frameLength: sm.frameLength,
    flags: sm.flags,
    type: sm.type,
    sessionId: sm.sessionId,
    streamId: sm.streamId,
    consumptionTermId: sm.consumptionTermId,
    consumptionTermOffset: sm.consumptionTermOffset,
    receiverWindow: sm.receiverWindow,
    receiverId: sm.receiverId,
    hasGroupTag: sm.hasGroupTag,
    groupTag: sm.groupTag,
  };
}

const fields = fc.record({
  flags: fc.integer({ min: 0, max: 255 }),
  sessionId: int32,
  streamId: int32,
  consumptionTermId: int32,
  consumptionTermOffset: int32,
  receiverWindow: int32,
  receiverId: int64,
  groupTag: fc.option(int64),
});

export const statusMessageTarget = decoderTarget({
  name: 'sm',
  description: 'status messages (36 bytes, 44 with a group tag)',
  types: [FrameType.SM],
  lengthMin: SM_LENGTH,
  valid: fields.map((f) => {
    const length = f.groupTag === null ? SM_LENGTH : SM_LENGTH_WITH_GROUP_TAG;
    const bytes = new Uint8Array(length);
    const sm = new StatusMessageFlyweight().wrap(bytes);
    sm.writeStatusMessage(f.flags, f.sessionId, f.streamId, f.consumptionTermId, f.consumptionTermOffset, f.receiverWindow, f.receiverId);
    sm.groupTag = f.groupTag;
    return { bytes, expected: { frameLength: length, type: FrameType.SM, ...f, hasGroupTag: f.groupTag !== null } };
  }),
  decode,
  check(decoded, length) {
    const sm = decoded as { hasGroupTag: boolean; frameLength: number };
    if (sm.hasGroupTag && length < SM_LENGTH_WITH_GROUP_TAG) throw new Error(`group tag read from a ${length}-byte SM`);
  },
});
