/**
 * One counter per invalid-frame reason: a crafted bad datagram sent to a live driver (stepped in
 * the simulator) moves exactly its reason's counter and the "Invalid packets" total, never throws
 * and leaves the healthy stream of the same endpoint alone.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  INVALID_FRAME_REASON_COUNT,
  InvalidFrameReason,
  invalidFrameReasonName,
  type InvalidFrameReasonCode,
} from '../../../src/protocol/frame-validator.js';
import { FrameFlags, FrameType, SETUP_LENGTH } from '../../../src/protocol/frame-constants.js';
import {
  INVALID_FRAMES_COUNTER_ID_BASE,
  SYSTEM_COUNTER_LABELS,
  SystemCounterId,
  invalidFrameCounterId,
} from '../../../src/agent/counter-types.js';
import { CountersManager } from '../../../src/agent/counters.js';
import { DriverCounters } from '../../../src/driver/driver-components.js';
import type { MediaDriver } from '../../../src/driver/media-driver.js';
import { SimDriverPair, systemCounter } from '../../fuzz/harness/sim-driver-pair.js';
import {
  dataDatagram,
  heartbeatDatagram,
  nakDatagram,
  setupDatagram,
  statusMessageDatagram,
  writeDataFrame,
} from '../../fuzz/harness/frames.js';

const STREAM_ID = 1001;
/** Sessions the attacker socket sets up as images of its own (not the healthy publication's). */
const SESSION = 77;
const SESSION_BEHIND = 78;
const INITIAL_TERM_ID = 100;
const TERM_LENGTH = 65536;

const ALL_REASONS = Object.values(InvalidFrameReason) as InvalidFrameReasonCode[];
const tested = new Set<number>();
let pair: SimDriverPair;

before(async () => {
  pair = await SimDriverPair.open({ seed: 4 });
  // Two images fed by the attacker: one joined at position 0, one joined two terms in. Each is
  // established by a heartbeat from the SETUP's source, as a sender answers the status message.
  send(setupDatagram({ sessionId: SESSION, streamId: STREAM_ID, initialTermId: INITIAL_TERM_ID, activeTermId: INITIAL_TERM_ID }), pair.receivePort);
  send(heartbeatDatagram({ sessionId: SESSION, streamId: STREAM_ID, termId: INITIAL_TERM_ID, termOffset: 0 }), pair.receivePort);
  send(setupDatagram({ sessionId: SESSION_BEHIND, streamId: STREAM_ID, initialTermId: INITIAL_TERM_ID, activeTermId: INITIAL_TERM_ID + 2 }), pair.receivePort);
  send(heartbeatDatagram({ sessionId: SESSION_BEHIND, streamId: STREAM_ID, termId: INITIAL_TERM_ID + 2, termOffset: 0 }), pair.receivePort);
  assert.ok(pair.stepUntil(() => pair.subscription.imageCount === 3, 200), `attacker images created (${pair.world.describe()})`);
});

after(() => {
  assert.deepEqual(pair.world.errors, [], 'no agent threw');
  assert.deepEqual([...pair.subscriber.driverErrors, ...pair.publisher.driverErrors], [], 'no driver errors');
  assert.equal(pair.subscription.imageCount, 3, 'every image is still there');
  pair.close();
  const missing = ALL_REASONS.filter((r) => !tested.has(r)).map(invalidFrameReasonName);
  assert.deepEqual(missing, [], 'every reason has a test');
});

function send(bytes: Uint8Array, port: number): void {
  assert.ok(pair.sendFromAttacker(bytes, bytes.length, port));
  for (let i = 0; i < 6; i++) pair.world.step();
}

function snapshot(driver: MediaDriver): number[] {
  return [systemCounter(driver, SystemCounterId.INVALID_PACKETS), ...ALL_REASONS.map((r) => systemCounter(driver, invalidFrameCounterId(r)))];
}

/** Sends `bytes` and checks that the total and exactly `reason`'s counter moved, by one each. */
function expectRejected(reason: InvalidFrameReasonCode, bytes: Uint8Array, target: 'receiver' | 'sender' = 'receiver'): void {
  const driver = target === 'receiver' ? pair.subscriber.driver : pair.publisher.driver;
  const port = target === 'receiver' ? pair.receivePort : pair.sendPort;
  const before = snapshot(driver);
  send(bytes, port);
  const moved = snapshot(driver).map((v, i) => v - before[i]!);
  const expected = [1, ...ALL_REASONS.map((r) => (r === reason ? 1 : 0))];
  const names = ['total', ...ALL_REASONS.map(invalidFrameReasonName)];
  assert.deepEqual(
    Object.fromEntries(names.map((n, i) => [n, moved[i]])),
    Object.fromEntries(names.map((n, i) => [n, expected[i]])),
    `${invalidFrameReasonName(reason)} at the ${target}`,
  );
  tested.add(reason);
}

function data(fields: Partial<Parameters<typeof dataDatagram>[0]>): Uint8Array {
  return dataDatagram({ frameLength: 64, termOffset: 0, sessionId: SESSION, streamId: STREAM_ID, termId: INITIAL_TERM_ID, ...fields });
}

test('every reason has its own system counter, labelled with its name', () => {
  assert.equal(ALL_REASONS.length, INVALID_FRAME_REASON_COUNT);
  for (const reason of ALL_REASONS) {
    const id = invalidFrameCounterId(reason);
    assert.equal(id, INVALID_FRAMES_COUNTER_ID_BASE - reason);
    assert.equal(SYSTEM_COUNTER_LABELS[id], `Invalid frames: ${invalidFrameReasonName(reason)}`);
  }
  const counters = new DriverCounters(new CountersManager({ capacity: 256 }));
  counters.invalidFrame(InvalidFrameReason.OUTSIDE_WINDOW);
  assert.equal(counters.invalidPackets.get(), 1);
  assert.deepEqual(
    counters.invalidFramesByReason.map((c) => c.get()),
    ALL_REASONS.map((r) => (r === InvalidFrameReason.OUTSIDE_WINDOW ? 1 : 0)),
  );
  counters.close();
});

test('gate: TOO_SHORT', () => expectRejected(InvalidFrameReason.TOO_SHORT, new Uint8Array([8, 0, 0, 0, 0, 0, 1])));

test('gate: BAD_VERSION', () => {
  const bytes = data({});
  bytes[4] = 1;
  expectRejected(InvalidFrameReason.BAD_VERSION, bytes);
});

test('gate: NEGATIVE_FRAME_LENGTH', () => expectRejected(InvalidFrameReason.NEGATIVE_FRAME_LENGTH, data({ frameLength: -64 }).subarray(0, 64)));

test('gate: DATA_LENGTH_NOT_ALIGNED', () => expectRejected(InvalidFrameReason.DATA_LENGTH_NOT_ALIGNED, data({}).subarray(0, 48)));

test('gate: DATA_TOO_SHORT', () => expectRejected(InvalidFrameReason.DATA_TOO_SHORT, data({}).subarray(0, 16)));

test('gate: CONTROL_TOO_SHORT', () => {
  expectRejected(InvalidFrameReason.CONTROL_TOO_SHORT, setupDatagram({ sessionId: 5, streamId: STREAM_ID }).subarray(0, SETUP_LENGTH - 1));
});

test('gate: FRAME_LENGTH_EXCEEDS_DATAGRAM', () => {
  const bytes = setupDatagram({ sessionId: 5, streamId: STREAM_ID });
  bytes[0] = SETUP_LENGTH + 1;
  expectRejected(InvalidFrameReason.FRAME_LENGTH_EXCEEDS_DATAGRAM, bytes);
});

test('gate: UNKNOWN_TYPE', () => expectRejected(InvalidFrameReason.UNKNOWN_TYPE, data({ type: FrameType.ATS_DATA })));

test('gate reasons count at the send endpoint too', () => {
  const before = snapshot(pair.publisher.driver);
  send(new Uint8Array(3), pair.sendPort);
  const moved = snapshot(pair.publisher.driver).map((v, i) => v - before[i]!);
  assert.equal(moved[0], 1);
  assert.equal(moved[1 + ALL_REASONS.indexOf(InvalidFrameReason.TOO_SHORT)], 1);
});

test('endpoint: SETUP_INVALID (term length not a power of two, misaligned offset, MTU out of range)', () => {
  expectRejected(InvalidFrameReason.SETUP_INVALID, setupDatagram({ sessionId: 90, streamId: STREAM_ID, termLength: 65536 + 32 }));
  expectRejected(InvalidFrameReason.SETUP_INVALID, setupDatagram({ sessionId: 91, streamId: STREAM_ID, termOffset: 16 }));
  expectRejected(InvalidFrameReason.SETUP_INVALID, setupDatagram({ sessionId: 92, streamId: STREAM_ID, mtu: 65536 }));
  assert.equal(pair.subscription.imageCount, 3, 'no image for an invalid SETUP');
});

test('image: TERM_OFFSET_INVALID (negative, misaligned, beyond the term)', () => {
  expectRejected(InvalidFrameReason.TERM_OFFSET_INVALID, data({ termOffset: 16 }));
  expectRejected(InvalidFrameReason.TERM_OFFSET_INVALID, data({ termOffset: -32 }));
  expectRejected(InvalidFrameReason.TERM_OFFSET_INVALID, data({ termOffset: TERM_LENGTH }));
});

test('image: TERM_ID_INVALID (before the initial term)', () => {
  expectRejected(InvalidFrameReason.TERM_ID_INVALID, data({ termId: INITIAL_TERM_ID - 1 }));
});

test('image: FRAMES_INVALID (second frame of another session, trailing bytes, DATA cut short)', () => {
  const twoFrames = new Uint8Array(128);
  const next = writeDataFrame(twoFrames, 0, { frameLength: 64, termOffset: 0, sessionId: SESSION, streamId: STREAM_ID, termId: INITIAL_TERM_ID });
  writeDataFrame(twoFrames, next, { frameLength: 64, termOffset: 64, sessionId: SESSION + 1, streamId: STREAM_ID, termId: INITIAL_TERM_ID });
  expectRejected(InvalidFrameReason.FRAMES_INVALID, twoFrames);
  const trailing = new Uint8Array(96);
  writeDataFrame(trailing, 0, { frameLength: 64, termOffset: 0, sessionId: SESSION, streamId: STREAM_ID, termId: INITIAL_TERM_ID });
  expectRejected(InvalidFrameReason.FRAMES_INVALID, trailing);
  expectRejected(InvalidFrameReason.FRAMES_INVALID, data({ frameLength: 200 }).subarray(0, 64));
});

test('image: OUTSIDE_WINDOW (beyond the acceptance window, heartbeat a term behind)', () => {
  const overRuns = systemCounter(pair.subscriber.driver, SystemCounterId.FLOW_CONTROL_OVER_RUNS);
  expectRejected(InvalidFrameReason.OUTSIDE_WINDOW, data({ termOffset: TERM_LENGTH / 2 + 1024 }));
  assert.equal(systemCounter(pair.subscriber.driver, SystemCounterId.FLOW_CONTROL_OVER_RUNS), overRuns + 1, 'also an over-run');
  expectRejected(
    InvalidFrameReason.OUTSIDE_WINDOW,
    heartbeatDatagram({ flags: FrameFlags.UNFRAGMENTED, termOffset: 0, sessionId: SESSION_BEHIND, streamId: STREAM_ID, termId: INITIAL_TERM_ID }),
  );
});

test('publication: SM_INVALID (misaligned offset, window beyond half a term)', () => {
  const { sessionId, streamId, initialTermId } = pair.publication;
  const sm = { sessionId, streamId, consumptionTermId: initialTermId, consumptionTermOffset: 0, receiverWindow: 4096 };
  expectRejected(InvalidFrameReason.SM_INVALID, statusMessageDatagram({ ...sm, consumptionTermOffset: 17 }), 'sender');
  expectRejected(InvalidFrameReason.SM_INVALID, statusMessageDatagram({ ...sm, receiverWindow: TERM_LENGTH }), 'sender');
});

test('publication: NAK_INVALID (negative length, offset past the term)', () => {
  const { sessionId, streamId, initialTermId } = pair.publication;
  expectRejected(InvalidFrameReason.NAK_INVALID, nakDatagram(sessionId, streamId, initialTermId, 0, -1), 'sender');
  expectRejected(InvalidFrameReason.NAK_INVALID, nakDatagram(sessionId, streamId, initialTermId, TERM_LENGTH, 32), 'sender');
});

test('valid frames move no invalid counter', () => {
  const before = snapshot(pair.subscriber.driver);
  send(data({ frameLength: 100, termOffset: 0 }), pair.receivePort);
  send(heartbeatDatagram({ flags: FrameFlags.UNFRAGMENTED, termOffset: 128, sessionId: SESSION, streamId: STREAM_ID, termId: INITIAL_TERM_ID }), pair.receivePort);
  assert.deepEqual(snapshot(pair.subscriber.driver), before);
});

test('publication: a late status message, more than half a term behind the sender, is stale, not invalid (as Aeron takes it); one beyond what was sent is invalid', () => {
  const { sessionId, streamId, initialTermId } = pair.publication;
  const counterOf = (prefix: string): number => {
    let value = -1;
    pair.publisher.driver.counters.forEach((_id, _typeId, v, label) => {
      if (label.startsWith(prefix) && label.includes(` ${sessionId} `)) value = v;
    });
    return value;
  };
  // Move the healthy stream more than half a term on, the subscriber consuming as it goes.
  const payload = new Uint8Array(1000);
  let offered = 0;
  const moved = pair.stepUntil(() => {
    if (offered < 60 && pair.publication.offer(payload) > 0) offered++;
    pair.subscription.poll(() => {}, 64);
    return offered === 60 && counterOf('snd-pos:') >= 60 * 1024;
  }, 20_000);
  assert.ok(moved, `the stream moved on: sender position ${counterOf('snd-pos:')}, ${offered} offered`);
  const before = snapshot(pair.publisher.driver);
  // Position 0 with a large window, from the attacker socket: late, whoever sent it.
  send(statusMessageDatagram({ sessionId, streamId, consumptionTermId: initialTermId, consumptionTermOffset: 0, receiverWindow: 32768 }), pair.sendPort);
  assert.deepEqual(snapshot(pair.publisher.driver), before, 'no invalid-frame counter moved');
  // Two terms ahead of the sender: no receiver can have consumed that.
  expectRejected(
    InvalidFrameReason.SM_INVALID,
    statusMessageDatagram({ sessionId, streamId, consumptionTermId: initialTermId + 3, consumptionTermOffset: 0, receiverWindow: 4096 }),
    'sender',
  );
});
