/**
 * Inputs the fuzzers found that made the driver throw or stall, kept as fixed cases: each must now
 * be dropped and counted under its reason, with no error recorded and the healthy stream's image
 * left alone.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidFrameReason, type InvalidFrameReasonCode } from '../../../src/protocol/frame-validator.js';
import { FrameType, NAK_LENGTH } from '../../../src/protocol/frame-constants.js';
import { NakFlyweight } from '../../../src/protocol/nak-flyweight.js';
import { invalidFrameCounterId } from '../../../src/agent/counter-types.js';
import { SimDriverPair, systemCounter } from '../harness/sim-driver-pair.js';
import { dataDatagram, heartbeatDatagram, setupDatagram } from '../harness/frames.js';

const STREAM_ID = 1001;
let pair: SimDriverPair;

before(async () => {
  pair = await SimDriverPair.open({ seed: 11 });
});

after(() => pair.close());

function send(bytes: Uint8Array, steps = 6): void {
  assert.ok(pair.sendFromAttacker(bytes, bytes.length, pair.receivePort));
  for (let i = 0; i < steps; i++) pair.world.step();
}

function expectCounted(reason: InvalidFrameReasonCode, bytes: Uint8Array): void {
  const driver = pair.subscriber.driver;
  const before = systemCounter(driver, invalidFrameCounterId(reason));
  const images = pair.subscription.imageCount;
  send(bytes);
  assert.equal(systemCounter(driver, invalidFrameCounterId(reason)), before + 1, 'counted under its reason');
  assert.equal(pair.subscription.imageCount, images, 'no image created or lost');
  assert.deepEqual(pair.subscriber.driverErrors, [], 'no error recorded');
  assert.deepEqual(pair.world.errors, [], 'nothing thrown');
}

test('SETUP whose active term lies before its initial term is invalid, not an error in log set-up', () => {
  expectCounted(InvalidFrameReason.SETUP_INVALID, setupDatagram({ sessionId: 40, streamId: STREAM_ID, initialTermId: 228, activeTermId: -1531437552 }));
  expectCounted(InvalidFrameReason.SETUP_INVALID, setupDatagram({ sessionId: 41, streamId: STREAM_ID, initialTermId: 10, activeTermId: 5 }));
});

test('SETUP with an MTU of 32 (no room for payload) is invalid', () => {
  expectCounted(InvalidFrameReason.SETUP_INVALID, setupDatagram({ sessionId: 42, streamId: STREAM_ID, mtu: 32 }));
});

test('DATA frame length near 2^31 is invalid, not an out-of-bounds walk', () => {
  send(setupDatagram({ sessionId: 43, streamId: STREAM_ID }));
  // The heartbeat answering the status message establishes the image.
  send(heartbeatDatagram({ sessionId: 43, streamId: STREAM_ID, termId: 100, termOffset: 0 }));
  assert.ok(pair.subscription.imageBySessionId(43) !== undefined, 'attacker image created');
  for (const frameLength of [0x7fffffe1, 0x7fffffff, 0x7fffffc0]) {
    const bytes = dataDatagram({ frameLength: 64, termOffset: 0, sessionId: 43, streamId: STREAM_ID, termId: 100 });
    new DataView(bytes.buffer).setInt32(0, frameLength, true);
    expectCounted(InvalidFrameReason.FRAMES_INVALID, bytes);
  }
});

test('a frame forged far ahead in a 1 GiB term costs a bounded scan: NAKs stay within the receiver window', () => {
  const naks: { termOffset: number; length: number }[] = [];
  const nak = new NakFlyweight();
  pair.onAttackerDatagram = (data, length) => {
    if (length === NAK_LENGTH && data[6] === FrameType.NAK) naks.push({ termOffset: nak.wrap(data, 0, length).termOffset, length: nak.length });
  };
  send(setupDatagram({ sessionId: 44, streamId: STREAM_ID, termLength: 1 << 30, mtu: 1408 }));
  send(heartbeatDatagram({ sessionId: 44, streamId: STREAM_ID, termId: 100, termOffset: 0 }));
  const image = pair.subscription.imageBySessionId(44);
  assert.ok(image !== undefined, 'attacker image with 1 GiB terms created');
  send(dataDatagram({ frameLength: 64, termOffset: 500 * 1024 * 1024, sessionId: 44, streamId: STREAM_ID, termId: 100 }), 0);
  const startMs = Date.now();
  for (let i = 0; i < 40; i++) pair.world.step();
  const elapsedMs = Date.now() - startMs;
  pair.onAttackerDatagram = null;
  assert.ok(naks.length > 0, 'the gap is NAKed');
  const windowLength = 128 * 1024;
  for (const n of naks) assert.ok(n.termOffset + n.length <= windowLength, `NAK ${JSON.stringify(n)} within the first ${windowLength} bytes`);
  assert.ok(elapsedMs < 2000, `40 duty cycles took ${elapsedMs} ms`);
  assert.deepEqual(pair.subscriber.driverErrors, []);
});
