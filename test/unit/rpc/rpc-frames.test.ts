/**
 * RPC frames round-trip for any field values (property test); broken frames are refused with an
 * error naming what is wrong; the retry budget throttles retries when many calls fail and lets
 * them back as calls succeed; method declarations validate their options.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { FRAME_HEADER_LENGTH, FrameReader, FrameType, FrameWriter, encodeFrame, frameHeaderBytes } from '../../../src/rpc/rpc-frames.js';
import { RetryBudget } from '../../../src/rpc/retry.js';
import { defineService, oneway, unary } from '../../../src/rpc/service.js';
import { jsonCodec, msgpackCodec, rawCodec } from '../../../src/rpc/codec.js';
import { RpcError, statusName } from '../../../src/rpc/rpc-status.js';

test('property: a reused writer, with its cache of encoded names, writes the same bytes as a fresh encode, past the cache\'s size', () => {
  const writer = new FrameWriter();
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.oneof(fc.constantFrom('echo', 'get', 'put', 'é✓'), fc.string({ maxLength: 20 })), fc.uint8Array({ maxLength: 40 })), { minLength: 1, maxLength: 400 }),
      (frames) => {
        for (const [name, payload] of frames) {
          const length = writer.write({ type: FrameType.CALL, callId: 7, arg: 9, name }, payload);
          const expected = new Uint8Array(frameHeaderBytes(name, {}) + payload.length);
          assert.equal(encodeFrame(expected, 0, { type: FrameType.CALL, callId: 7, arg: 9, name }, payload), length);
          assert.deepEqual(writer.bytes.subarray(0, length), expected);
          assert.equal(new FrameReader().wrap(writer.bytes, 0, length).name, name);
        }
      },
    ),
    { seed: 11, numRuns: 60 },
  );
});

test('property: every frame decodes to the fields and payload it was encoded from', () => {
  fc.assert(
    fc.property(
      fc.constantFrom(...Object.values(FrameType)),
      fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
      fc.integer({ min: 0, max: 0xffff }),
      fc.integer({ min: 0, max: 0xffffffff }),
      fc.string({ maxLength: 40 }),
      fc.dictionary(fc.string({ maxLength: 12 }), fc.string({ maxLength: 30 }), { maxKeys: 6 }),
      fc.uint8Array({ maxLength: 300 }),
      (type, callId, flags, arg, name, metadata, payload) => {
        const buffer = new Uint8Array(frameHeaderBytes(name, metadata) + payload.length + 8);
        const length = encodeFrame(buffer, 8, { type, callId, flags, arg, name, metadata }, payload);
        assert.equal(length, frameHeaderBytes(name, metadata) + payload.length);
        const r = new FrameReader().wrap(buffer, 8, length);
        assert.equal(r.type, type);
        assert.equal(r.callId, callId);
        assert.equal(r.flags, flags);
        assert.equal(r.arg, arg);
        assert.equal(r.name, name);
        assert.deepEqual({ ...r.metadata() }, { ...metadata });
        assert.deepEqual(r.payload(), payload);
      },
    ),
    { seed: 5, numRuns: 500 },
  );
});

test('a name and metadata that begin with U+FEFF keep it', () => {
  const name = '\uFEFFecho';
  const metadata = { '\uFEFFkey': '\uFEFFvalue' };
  const buffer = new Uint8Array(frameHeaderBytes(name, metadata));
  const length = encodeFrame(buffer, 0, { type: FrameType.CALL, callId: 1, name, metadata }, new Uint8Array(0));
  const r = new FrameReader().wrap(buffer, 0, length);
  assert.equal(r.name, name);
  assert.deepEqual({ ...r.metadata() }, metadata);
});

test('broken frames are refused, naming the problem', () => {
  const buffer = new Uint8Array(64);
  const length = encodeFrame(buffer, 0, { type: FrameType.CALL, callId: 1, name: 'get', metadata: { a: 'b' } });
  const reader = new FrameReader();
  assert.throws(() => reader.wrap(buffer, 0, 10), /RPC frame of 10 bytes; the header alone is 16/);
  const badVersion = buffer.slice();
  badVersion[0] = 9;
  assert.throws(() => reader.wrap(badVersion, 0, length), /RPC frame version 9; this end speaks 1/);
  const badType = buffer.slice();
  badType[1] = 99;
  assert.throws(() => reader.wrap(badType, 0, length), /RPC frame type 99 is unknown/);
  assert.throws(() => reader.wrap(buffer, 0, FRAME_HEADER_LENGTH + 2), /name of 3 bytes runs past/);
  assert.throws(() => reader.wrap(buffer, 0, length - 1), /metadata entry 0 runs past the frame/);
});

test('the retry budget: failures spend tokens, retries stop below half, successes bring them back', () => {
  const budget = new RetryBudget({ maxTokens: 10, tokenRatio: 0.5 });
  for (let i = 0; i < 5; i++) {
    assert.equal(budget.allowRetry(), true);
    budget.onFailure();
  }
  assert.equal(budget.tokens, 5);
  assert.equal(budget.allowRetry(), false);
  assert.equal(budget.throttled, 1);
  budget.onSuccess();
  assert.equal(budget.allowRetry(), true);
  assert.throws(() => new RetryBudget({ maxTokens: 0 }), /maxTokens=0 is invalid/);
});

test('method declarations: retries only for idempotent methods, never for oneway; bad options named', () => {
  assert.throws(() => unary({ retry: { maxAttempts: 3 } }), /a retry policy needs idempotent: true/);
  assert.throws(() => oneway({ idempotent: true, retry: { maxAttempts: 2 } }), /oneway methods are never retried/);
  assert.throws(() => unary({ idempotent: true, retry: { maxAttempts: 9 } }), /retry\.maxAttempts=9 \(1\.\.5\)/);
  assert.throws(() => defineService('9lives', {}), /service name '9lives' is invalid/);
  assert.equal(unary().retry.maxAttempts, 1, 'a method not idempotent gets one attempt');
  assert.equal(unary({ idempotent: true }).retry.maxAttempts, 3);
});

test('codecs round-trip their values; status names and RpcError codes', () => {
  const value = { a: 1, b: 'two', c: [true, null], d: { e: 2.5 } };
  assert.deepEqual(jsonCodec().decode(jsonCodec().encode(value)), value);
  const m = msgpackCodec();
  assert.deepEqual(m.decode(m.encode(value)), value);
  const first = m.encode({ x: 1 });
  m.encode({ y: 2 });
  assert.deepEqual(m.decode(first), { x: 1 }, 'an encoded value is not overwritten by the next');
  assert.deepEqual(rawCodec.decode(rawCodec.encode(new Uint8Array([1, 2]))), new Uint8Array([1, 2]));
  assert.equal(statusName(14), 'UNAVAILABLE');
  assert.equal(statusName(99), 'UNKNOWN');
  const error = RpcError.fromStatus(4, 'too slow', { service: 's', method: 'm', callId: 7 });
  assert.equal(error.code, 'ERR_SKEIN_RPC_DEADLINE_EXCEEDED');
  assert.equal(error.status, 'DEADLINE_EXCEEDED');
  assert.match(error.message, /^DEADLINE_EXCEEDED: too slow \(service=s method=m callId=7\)/);
});

test('decoded values own their bytes: the buffer they were read from may be reused', () => {
  const wire = new Uint8Array(64);
  const m = msgpackCodec<{ blob: Uint8Array }>();
  const encoded = m.encode({ blob: new Uint8Array([1, 2, 3]) });
  wire.set(encoded);
  const value = m.decode(wire.subarray(0, encoded.length));
  const raw = rawCodec.decode(wire.subarray(0, 3));
  wire.fill(0);
  assert.deepEqual(value.blob, new Uint8Array([1, 2, 3]));
  assert.deepEqual(raw, encoded.subarray(0, 3));
});

test('a frame\'s payload decodes through each codec, raw by decodeAt as one copy that outlives the reused buffer', () => {
  const buffer = new Uint8Array(256);
  const frame = (payload: Uint8Array): FrameReader => {
    const length = encodeFrame(buffer, 40, { type: FrameType.END, callId: 3, arg: 0, name: 'ok' }, payload);
    return new FrameReader().wrap(buffer, 40, length);
  };
  const raw = frame(new Uint8Array([9, 8, 7]));
  assert.equal(typeof rawCodec.decodeAt, 'function');
  const copy = raw.decodePayload(rawCodec);
  assert.deepEqual(copy, new Uint8Array([9, 8, 7]));
  assert.notEqual(copy.buffer, buffer.buffer, 'a copy, not a view of the frame buffer');
  buffer.fill(0);
  assert.deepEqual(copy, new Uint8Array([9, 8, 7]), 'intact after the buffer is reused');
  assert.deepEqual(frame(new TextEncoder().encode('{"n":5}')).decodePayload(jsonCodec<{ n: number }>()), { n: 5 });
  const msgpack = msgpackCodec<{ a: number[] }>();
  assert.deepEqual(frame(msgpack.encode({ a: [1, 2] })).decodePayload(msgpack), { a: [1, 2] });
  // A codec without decodeAt gets exactly the payload's bytes as a view.
  const seen: number[][] = [];
  frame(new Uint8Array([1, 2])).decodePayload({ name: 'probe', encode: (v: Uint8Array) => v, decode: (bytes: Uint8Array) => void seen.push([...bytes]) });
  assert.deepEqual(seen, [[1, 2]]);
});
