/** Round trips for every flyweight over random field values, and the acceptance gate on random bytes. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  DataHeaderFlyweight,
  ERR_MAX_MESSAGE_LENGTH,
  ErrorFlyweight,
  FrameType,
  InvalidFrameReason,
  NakFlyweight,
  ResolutionEntryFlyweight,
  ResponseSetupFlyweight,
  RttMeasurementFlyweight,
  SetupFlyweight,
  SM_LENGTH_WITH_GROUP_TAG,
  StatusMessageFlyweight,
  validateDatagram,
} from '../../../src/protocol/index.js';

const RUNS = { numRuns: 200 };
const int32 = fc.integer({ min: -0x80000000, max: 0x7fffffff });
const int64 = fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });
const uint8 = fc.integer({ min: 0, max: 255 });
/** Offset of the frame inside its buffer; odd values exercise unaligned accesses. */
const frameOffset = fc.integer({ min: 0, max: 13 });

/** A zeroed buffer whose Uint8Array starts at `byteOffset` inside a larger ArrayBuffer. */
function buffers(byteOffset: number, length: number): [Uint8Array, Uint8Array] {
  return [new Uint8Array(new ArrayBuffer(byteOffset + length + 8), byteOffset, length), new Uint8Array(length)];
}

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

test('DATA header: writeHeader and setters agree and decode to the written fields', () => {
  fc.assert(
    fc.property(frameOffset, int32, uint8, fc.constantFrom(FrameType.DATA, FrameType.PAD), int32, int32, int32, int32, int64,
      (offset, frameLength, flags, type, termOffset, sessionId, streamId, termId, reservedValue) => {
        const [a, b] = buffers(offset, offset + 32);
        const w = new DataHeaderFlyweight().wrap(a, offset);
        w.writeHeader(frameLength, flags, type, termOffset, sessionId, streamId, termId);
        w.reservedValue = reservedValue;
        const s = new DataHeaderFlyweight().wrap(b, offset);
        Object.assign(s, { frameLength, version: 0, flags, type, termOffset, sessionId, streamId, termId, reservedValue });
        assert.equal(hex(a), hex(b));
        const r = new DataHeaderFlyweight().wrap(a, offset);
        assert.deepEqual(
          [r.frameLength, r.version, r.flags, r.type, r.termOffset, r.sessionId, r.streamId, r.termId, r.reservedValue],
          [frameLength, 0, flags, type, termOffset, sessionId, streamId, termId, reservedValue],
        );
        assert.equal(BigInt.asIntN(64, (BigInt(r.reservedValueHigh) << 32n) | BigInt(r.reservedValueLow >>> 0)), reservedValue);
      }),
    RUNS,
  );
});

test('SETUP round trip', () => {
  const fields = fc.record({
    flags: uint8, termOffset: int32, sessionId: int32, streamId: int32, initialTermId: int32,
    activeTermId: int32, termLength: int32, mtu: int32, ttl: int32,
  });
  fc.assert(
    fc.property(frameOffset, fields, (offset, f) => {
      const [a] = buffers(offset, offset + 40);
      new SetupFlyweight().wrap(a, offset).write(f);
      const r = new SetupFlyweight().wrap(a, offset);
      const { termOffset, sessionId, streamId, initialTermId, activeTermId, termLength, mtu, ttl, flags } = r;
      assert.deepEqual({ flags, termOffset, sessionId, streamId, initialTermId, activeTermId, termLength, mtu, ttl }, { ...f });
      assert.deepEqual([r.frameLength, r.type, r.version], [40, FrameType.SETUP, 0]);
      assert.equal(validateDatagram(a, offset, 40), FrameType.SETUP);
    }),
    RUNS,
  );
});

test('SM round trip, with and without group tag', () => {
  fc.assert(
    fc.property(frameOffset, uint8, int32, int32, int32, int32, int32, int64, fc.option(int64, { nil: null }),
      (offset, flags, sessionId, streamId, termId, termOffset, window, receiverId, groupTag) => {
        const [a] = buffers(offset, offset + 44);
        const w = new StatusMessageFlyweight().wrap(a, offset);
        w.writeStatusMessage(flags, sessionId, streamId, termId, termOffset, window, receiverId);
        if (groupTag !== null) w.groupTag = groupTag;
        const r = new StatusMessageFlyweight().wrap(a, offset);
        assert.deepEqual(
          [r.flags, r.sessionId, r.streamId, r.consumptionTermId, r.consumptionTermOffset, r.receiverWindow, r.receiverId, r.groupTag],
          [flags, sessionId, streamId, termId, termOffset, window, receiverId, groupTag],
        );
        assert.equal(r.frameLength, groupTag === null ? 36 : SM_LENGTH_WITH_GROUP_TAG);
        assert.equal(validateDatagram(a, offset, r.frameLength), FrameType.SM);
      }),
    RUNS,
  );
});

test('NAK round trip', () => {
  fc.assert(
    fc.property(frameOffset, int32, int32, int32, int32, int32, (offset, sessionId, streamId, termId, termOffset, length) => {
      const [a] = buffers(offset, offset + 28);
      new NakFlyweight().wrap(a, offset).writeNak(sessionId, streamId, termId, termOffset, length);
      const r = new NakFlyweight().wrap(a, offset);
      assert.deepEqual([r.sessionId, r.streamId, r.termId, r.termOffset, r.length], [sessionId, streamId, termId, termOffset, length]);
      assert.equal(validateDatagram(a, offset, 28), FrameType.NAK);
    }),
    RUNS,
  );
});

test('RTTM round trip', () => {
  fc.assert(
    fc.property(frameOffset, uint8, int32, int32, int64, int64, int64, (offset, flags, sessionId, streamId, echo, delta, receiverId) => {
      const [a] = buffers(offset, offset + 40);
      new RttMeasurementFlyweight().wrap(a, offset).writeRttm(flags, sessionId, streamId, echo, delta, receiverId);
      const r = new RttMeasurementFlyweight().wrap(a, offset);
      assert.deepEqual(
        [r.flags, r.sessionId, r.streamId, r.echoTimestampNs, r.receptionDeltaNs, r.receiverId],
        [flags, sessionId, streamId, echo, delta, receiverId],
      );
      assert.equal(validateDatagram(a, offset, 40), FrameType.RTTM);
    }),
    RUNS,
  );
});

test('RSP_SETUP round trip', () => {
  fc.assert(
    fc.property(frameOffset, int32, int32, int32, (offset, sessionId, streamId, responseSessionId) => {
      const [a] = buffers(offset, offset + 20);
      new ResponseSetupFlyweight().wrap(a, offset).writeResponseSetup(sessionId, streamId, responseSessionId);
      const r = new ResponseSetupFlyweight().wrap(a, offset);
      assert.deepEqual([r.sessionId, r.streamId, r.responseSessionId], [sessionId, streamId, responseSessionId]);
      assert.equal(validateDatagram(a, offset, 20), FrameType.RSP_SETUP);
    }),
    RUNS,
  );
});

const encoder = new TextEncoder();

test('ERR round trip: text kept when it fits in 1023 bytes, otherwise a UTF-8 prefix', () => {
  const fields = fc.record({
    flags: uint8, sessionId: int32, streamId: int32, receiverId: int64, groupTag: int64, errorCode: int32,
    errorMessage: fc.string({ unit: 'binary', maxLength: 700 }),
  });
  fc.assert(
    fc.property(frameOffset, fields, (offset, f) => {
      const [a] = buffers(offset, offset + 40 + ERR_MAX_MESSAGE_LENGTH);
      const frameLength = new ErrorFlyweight().wrap(a, offset).write(f);
      const r = new ErrorFlyweight().wrap(a, offset, frameLength);
      const { flags, sessionId, streamId, receiverId, groupTag, errorCode } = r;
      const { errorMessage: _text, ...numeric } = f;
      assert.deepEqual({ flags, sessionId, streamId, receiverId, groupTag, errorCode }, { ...numeric });
      const textLength = encoder.encode(f.errorMessage).length;
      assert.equal(r.frameLength, 40 + r.errorLength);
      assert.ok(r.errorLength <= ERR_MAX_MESSAGE_LENGTH);
      if (textLength <= ERR_MAX_MESSAGE_LENGTH) assert.equal(r.errorMessage, f.errorMessage);
      else assert.ok(f.errorMessage.startsWith(r.errorMessage) && r.errorLength > ERR_MAX_MESSAGE_LENGTH - 4);
      assert.equal(validateDatagram(a, offset, frameLength), FrameType.ERR);
    }),
    RUNS,
  );
});

test('RES entry round trip for IPv4 and IPv6', () => {
  const fields = fc.constantFrom(1, 2).chain((resType) =>
    fc.record({
      resType: fc.constant(resType),
      resFlags: uint8,
      udpPort: fc.integer({ min: 0, max: 65535 }),
      ageInMs: int32,
      address: fc.uint8Array({ minLength: resType === 2 ? 16 : 4, maxLength: resType === 2 ? 16 : 4 }),
      name: fc.string({ unit: 'binary', maxLength: 60 }),
    }),
  );
  fc.assert(
    fc.property(frameOffset, fields, (offset, f) => {
      const [a] = buffers(offset, offset + 26 + 4 * 60 + 8);
      const entryLength = new ResolutionEntryFlyweight().wrap(a, offset).write(f);
      const r = new ResolutionEntryFlyweight().wrap(a, offset);
      const nameLength = encoder.encode(f.name).length;
      assert.deepEqual(
        { resType: r.resType, resFlags: r.resFlags, udpPort: r.udpPort, ageInMs: r.ageInMs, address: r.address, name: r.name },
        { ...f },
      );
      assert.equal(r.nameLength, nameLength);
      assert.equal(entryLength, Math.ceil((8 + f.address.length + 2 + nameLength) / 8) * 8);
      assert.equal(r.entryLength, entryLength);
    }),
    RUNS,
  );
});

const VALID_RESULTS = new Set<number>([
  ...Object.values(InvalidFrameReason),
  FrameType.PAD, FrameType.DATA, FrameType.NAK, FrameType.SM, FrameType.ERR,
  FrameType.SETUP, FrameType.RTTM, FrameType.RES, FrameType.RSP_SETUP,
]);

test('the gate never throws on arbitrary bytes and returns a known type or reason', () => {
  const window = fc.uint8Array({ maxLength: 160 }).chain((bytes) =>
    fc.tuple(fc.constant(bytes), fc.integer({ min: 0, max: bytes.length })).chain(([b, offset]) =>
      fc.tuple(fc.constant(b), fc.constant(offset), fc.integer({ min: 0, max: b.length - offset })),
    ),
  );
  fc.assert(
    fc.property(window, ([bytes, offset, length]) => {
      const result = validateDatagram(bytes, offset, length);
      assert.ok(VALID_RESULTS.has(result), `unexpected result ${result}`);
      if (result >= 0 && result !== FrameType.DATA && result !== FrameType.PAD) {
        const frameLength = new DataView(bytes.buffer, bytes.byteOffset).getInt32(offset, true);
        assert.ok(frameLength >= 0 && frameLength <= length);
      }
    }),
    RUNS,
  );
});

test('the gate rejects every version other than 0', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 64, maxLength: 64 }), fc.integer({ min: 1, max: 255 }), (bytes, version) => {
      bytes[4] = version;
      assert.equal(validateDatagram(bytes, 0, 64) < 0, true);
    }),
    RUNS,
  );
});
