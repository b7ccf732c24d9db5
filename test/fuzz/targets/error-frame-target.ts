/** Fuzz target of ERR frames: header fields and the length-limited UTF-8 text. */
import fc from 'fast-check';
import { ERR_HEADER_LENGTH, ERR_MAX_MESSAGE_LENGTH, FrameFlags, FrameType } from '../../../src/protocol/frame-constants.js';
import { ErrorFlyweight } from '../../../src/protocol/error-flyweight.js';
import { decoderTarget } from './decoder-target.js';

const int32 = fc.integer({ min: -0x80000000, max: 0x7fffffff });
const int64 = fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });
const utf8 = new TextEncoder();

/** Any Unicode scalar value (no surrogate halves), so that text survives a UTF-8 round trip. */
const codePoint = fc.integer({ min: 0, max: 0x10ffff - 0x800 }).map((n) => (n >= 0xd800 ? n + 0x800 : n));

/**
 * Text of `lengthMin` to `lengthMax` code points (built from code points: fast-check's string
 * arbitraries take about a second to create).
 */
function textOf(points: fc.Arbitrary<number>, lengthMax: number, lengthMin = 0): fc.Arbitrary<string> {
  return fc.array(points, { minLength: lengthMin, maxLength: lengthMax }).map((codes) => String.fromCodePoint(...codes));
}

interface DecodedError {
  frameLength: number;
  flags: number;
  type: number;
  sessionId: number;
  streamId: number;
  receiverId: bigint;
  groupTag: bigint;
  hasGroupTag: boolean;
  errorCode: number;
  errorLength: number;
  errorMessage: string;
}

function decode(buffer: Uint8Array, offset: number, length: number): DecodedError {
  const e = new ErrorFlyweight().wrap(buffer, offset, length);
  return {
    frameLength: e.frameLength,
    flags: e.flags,
    type: e.type,
    sessionId: e.sessionId,
    streamId: e.streamId,
    receiverId: e.receiverId,
    groupTag: e.groupTag,
    hasGroupTag: e.hasGroupTag,
    errorCode: e.errorCode,
    errorLength: e.errorLength,
    errorMessage: e.errorMessage,
  };
}

const fields = fc.record({
  flags: fc.constantFrom(0, FrameFlags.ERR_HAS_GROUP_TAG),
  sessionId: int32,
  streamId: int32,
  receiverId: int64,
  groupTag: int64,
  errorCode: int32,
  errorMessage: fc.oneof(textOf(codePoint, 200), textOf(fc.integer({ min: 0x20, max: 0x7e }), 1100, 1000)),
});

export const errorFrameTarget = decoderTarget({
  name: 'err',
  description: 'ERR frames (40 bytes + up to 1023 bytes of text)',
  types: [FrameType.ERR],
  lengthMin: ERR_HEADER_LENGTH,
  valid: fields.map((f) => {
    const scratch = new Uint8Array(ERR_HEADER_LENGTH + ERR_MAX_MESSAGE_LENGTH);
    const length = new ErrorFlyweight().wrap(scratch).write(f);
    const bytes = scratch.slice(0, length);
    const text = new ErrorFlyweight().wrap(bytes).errorMessage;
    if (!f.errorMessage.startsWith(text)) throw new Error(`ERR text '${text}' is not a prefix of '${f.errorMessage}'`);
    const fits = utf8.encode(f.errorMessage).length <= ERR_MAX_MESSAGE_LENGTH;
    if (fits && text !== f.errorMessage) throw new Error(`ERR text '${f.errorMessage}' not kept whole`);
    return {
      bytes,
      expected: {
        frameLength: length,
        flags: f.flags,
        type: FrameType.ERR,
        sessionId: f.sessionId,
        streamId: f.streamId,
        receiverId: f.receiverId,
        groupTag: f.groupTag,
        hasGroupTag: f.flags !== 0,
        errorCode: f.errorCode,
        errorLength: length - ERR_HEADER_LENGTH,
        errorMessage: text,
      },
    };
  }),
  decode,
  check(decoded, length) {
    const e = decoded as DecodedError;
    // Each decoded UTF-16 unit needs at least one byte of the datagram, within errorLength.
    const available = Math.max(0, Math.min(e.errorLength, length - ERR_HEADER_LENGTH));
    if (e.errorMessage.length > available) {
      throw new Error(`ERR text of ${e.errorMessage.length} units read from ${available} bytes`);
    }
  },
});
